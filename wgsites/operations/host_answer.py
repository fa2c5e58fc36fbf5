"""What a host managed over SSH answers `wgsites status`: untrusted input, read as such.

A host may be broken or compromised, and so may anything on the path to it. Its answer is read
as bytes up to a cap (a host cannot make `status` hold gigabytes), decoded as UTF-8 or refused,
and ssh's own failures are told as the host, the cause and the fix, never as ssh's raw stderr
(which carries the host's text: its banner, its shell's errors). A host that cannot be read
becomes a HostAnswerError, which `status` shows for that host alone.
"""

from __future__ import annotations

import os
import selectors
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from wgsites.stack.model import SshTarget
from wgsites.stack.plaintext import escaped

from .host_drift import ANSWER_LIMIT as STATE_LIMIT

# what `status` asks is the install script's `state`: the drift read's bound for it (drift.ANSWER_LIMIT says why)
ANSWER_LIMIT = STATE_LIMIT
STDERR_LIMIT = 64 * 1024
CONNECT_SECONDS = 10
ANSWER_SECONDS = 30


class HostAnswerError(Exception):
    """A host could not be read, or answered what is not an answer; the message is safe to print."""


@dataclass(frozen=True)
class Answer:
    returncode: int
    stdout: bytes
    stderr: bytes


def run_capped(argv: list[str], timeout: float, limit: int = ANSWER_LIMIT) -> Answer:
    """ARGV's exit status and output, read as bytes; HostAnswerError when its stdout passes LIMIT or it
    runs past TIMEOUT (it is killed: a host that keeps talking is not waited for)."""
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    caps = {process.stdout: limit, process.stderr: STDERR_LIMIT}
    read: dict = {process.stdout: bytearray(), process.stderr: bytearray()}
    deadline = time.monotonic() + timeout
    try:
        with selectors.DefaultSelector() as selector:
            for stream in caps:
                selector.register(stream, selectors.EVENT_READ)
            while selector.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HostAnswerError(f"gave no complete answer within {timeout:g} s")
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffer = read[key.fileobj]
                    if len(buffer) + len(chunk) > caps[key.fileobj]:
                        if key.fileobj is process.stdout:
                            raise HostAnswerError(f"answered with more than {limit // 1024 // 1024} MiB, more than any state")
                        chunk = chunk[: caps[key.fileobj] - len(buffer)]  # stderr: its start is enough
                    buffer += chunk
        returncode = process.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise HostAnswerError(f"gave no complete answer within {timeout:g} s") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    return Answer(returncode, bytes(read[process.stdout]), bytes(read[process.stderr]))


def text_of(data: bytes) -> str:
    """DATA as UTF-8 text; HostAnswerError naming the first byte that is not."""
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        where = f"0x{data[exc.start]:02x} at byte {exc.start}"
        raise HostAnswerError(f"answered with bytes that are not UTF-8 text ({where})") from None


def ssh_argv(target: SshTarget, command: str, ssh_key: str | None) -> list[str]:
    """OpenSSH as the operator's own: their ssh_config, agent and known hosts; never a prompt."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_SECONDS}", "-p", str(target.port)]
    argv += ["-i", ssh_key] if ssh_key else []
    remote = command if target.user == "root" else f"sudo -n sh -c {shlex.quote(command)}"
    return [*argv, f"{target.user}@{target.host}", remote]


def ask_host(target: SshTarget, command: str, ssh_key: str | None = None, timeout: float = ANSWER_SECONDS) -> str:
    """COMMAND's stdout on TARGET as text; HostAnswerError with the host, the cause and the fix."""
    where = f"{target.user}@{target.host}:{target.port}"
    try:
        answer = run_capped(ssh_argv(target, command, ssh_key), timeout)
    except HostAnswerError as exc:
        raise HostAnswerError(f"{where} {exc}; check that host (under load? answering more than it should?)") from None
    except OSError as exc:
        raise HostAnswerError(f"cannot run ssh ({exc.strerror}); install it: apt-get install openssh-client") from None
    if answer.returncode != 0:
        raise HostAnswerError(ssh_failure(target, answer.stderr, answer.returncode))
    try:
        return text_of(answer.stdout)
    except HostAnswerError as exc:
        raise HostAnswerError(f"{where} {exc}; its install script prints UTF-8 only: check that host") from None


# words in ssh's message (lowercased) -> the cause, and the fix; {host} {port} {user} {seconds} filled in
SSH_FAILURES = (
    (
        "timed out during banner exchange",
        "the TCP connection opened but no SSH greeting came within {seconds} s (sshd overloaded or hung, or "
        "something else listens on port {port})",
        "check sshd on {host} (systemctl status ssh) and that {port} is its port (ssh.port in the stack)",
    ),
    (
        "timed out",
        "no answer on port {port} within {seconds} s (the host is down, or a firewall drops SSH)",
        "check that {host} is up and that TCP {port} reaches it from here (ssh.host and ssh.port in the stack)",
    ),
    (
        "connection refused",
        "nothing listens on port {port} (sshd stopped, or on another port)",
        "start sshd on {host} (systemctl start ssh) or set the stack's ssh.port to its port",
    ),
    (
        "no route to host",
        "no route to {host}",
        "check this machine's network and routes to {host} (ip route get {host})",
    ),
    (
        "network is unreachable",
        "this machine has no route to {host}'s network",
        "check this machine's network and routes to {host} (ip route get {host})",
    ),
    (
        "could not resolve hostname",
        "the name {host} does not resolve here",
        "check the name (ssh.host in the stack) and this machine's DNS (getent hosts {host})",
    ),
    (
        "remote host identification has changed",
        "{host} shows another host key than your known_hosts holds (a reinstalled host, or someone in between)",
        "verify the new key out of band; if {host} was reinstalled, drop the old one: ssh-keygen -R {host}",
    ),
    (
        "host key verification failed",
        "{host}'s host key is not in your known_hosts, or differs from it",
        "log in once by hand to verify and accept its key: ssh -p {port} {user}@{host}",
    ),
    (
        "permission denied",
        "{user}@{host} refused every key offered",
        "give the key it accepts (--ssh-key PATH, or ssh-add it to your agent) and check ~{user}/.ssh/authorized_keys on {host}",
    ),
    (
        "connection closed",
        "{host} closed the connection before logging in (sshd's MaxStartups, a TCP wrapper or fail2ban)",
        "check sshd's log on {host} (journalctl -u ssh)",
    ),
    (
        "connection reset",
        "{host} reset the connection before logging in (sshd's MaxStartups, a TCP wrapper or fail2ban)",
        "check sshd's log on {host} (journalctl -u ssh)",
    ),
)


# sudo's message on a host where ssh.user is not root
SUDO_FAILURES = (
    (
        "password is required",
        "{user} on {host} needs a password for sudo",
        "give {user} passwordless sudo on {host}, or log in as root (ssh.user in the stack)",
    ),
    (
        "terminal is required",
        "{user} on {host} needs a password for sudo",
        "give {user} passwordless sudo on {host}, or log in as root (ssh.user in the stack)",
    ),
)


def ssh_failure(target: SshTarget, stderr: bytes, returncode: int) -> str:
    """Why ssh to TARGET failed (exit 255: ssh itself; else the command there), as the host, the cause
    and the fix; ssh's or the host's own text only ever escaped and cut."""
    where = f"{target.user}@{target.host}:{target.port}"
    said = stderr.decode("utf-8", errors="replace").strip()
    facts = {"host": target.host, "port": target.port, "user": target.user, "seconds": CONNECT_SECONDS}
    for words, cause, fix in SSH_FAILURES if returncode == 255 else SUDO_FAILURES:
        if words in said.lower():
            return f"{where}: {cause.format(**facts)}; {fix.format(**facts)}"
    shown = escaped(said.split("\n")[-1][:200]) if said else "no message"  # a CR inside stays in view
    if returncode == 255:
        return f"{where}: ssh failed ({shown}); try it by hand: ssh -p {target.port} {target.user}@{target.host}"
    return (
        f"{where}: the install script's state action failed there (exit {returncode}: {shown}); "
        "run `pulumi up` to install the current script, then look at the host"
    )


def check_ssh_key(path: str | None) -> None:
    """`--ssh-key` refused up front when it names no readable file: ssh would only warn and go on without it."""
    if path is None:
        return
    key = Path(path).expanduser()
    fix = "give the private key that logs in to the stack's hosts (e.g. ~/.ssh/id_ed25519), or leave it out to use your SSH agent"
    if not key.exists():
        raise ValueError(f"--ssh-key: {escaped(str(key))} does not exist; {fix}")
    if not key.is_file():
        raise ValueError(f"--ssh-key: {escaped(str(key))} is not a file; {fix}")
    try:
        with key.open("rb"):
            pass
    except OSError as exc:
        raise ValueError(f"--ssh-key: {escaped(str(key))} cannot be read ({exc.strerror}); {fix}") from None
