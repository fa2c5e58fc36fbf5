"""Services a lab node runs: a real sshd, the SSH client, a web logger.

Why: a managed host is reached the way `pulumi up` reaches it (OpenSSH, key only),
and checks need proof of which source address a request arrived from (NAT,
routing): the web logger (`web_logger.py`, run with this interpreter) records it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .addresses import LAB_NAME, WEB
from .netns import LabError, Node, run_on_host

WEB_LOGGER = Path(__file__).with_name("web_logger.py")
IMDS = Path(__file__).with_name("imds.py")
IMDS_ADDRESS = "169.254.169.254"  # where an EC2 instance finds its metadata; here only inside the gateway's namespace


def connect_host(listen: str) -> str:
    """Where to connect to reach a server bound to `listen` (wildcards mean loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(listen, listen)


def start_sshd(node: Node, authorized_public_key: str, listen: str, port: int = 22) -> int:
    """A real OpenSSH sshd, key-only, with its own host key; returns its PID.

    The lab's stand-in for a cloud VM reachable by pulumi-command's remote.Command.
    StrictModes is off because the run dir lives under the world-writable /tmp.
    """
    conf_dir = node.dir / f"sshd-{port}"
    conf_dir.mkdir(parents=True, exist_ok=True)
    host_key = conf_dir / "ssh_host_ed25519_key"
    if not host_key.exists():
        run_on_host(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", node.netns, "-f", str(host_key)])
    authorized = conf_dir / "authorized_keys"
    authorized.write_text(authorized_public_key.strip() + "\n")
    authorized.chmod(0o600)
    config = conf_dir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {listen}",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                # sshd reads that file as the user logging in: a non-root login (ssh.user) cannot enter the run
                # dir; a command sshd runs as root hands it the same key
                f"AuthorizedKeysCommand /bin/cat {authorized}",
                "AuthorizedKeysCommandUser root",
                "PidFile none",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "StrictModes no",
                "PrintMotd no",
                "PrintLastLog no",
                "X11Forwarding no",
                "",
            ]
        )
    )
    # sshd refuses to start without its privilege-separation dir. It lands in the node's
    # /run overlay when there is one, else in the host's /run (a runtime dir, as the package does).
    node.run(["mkdir", "-p", "-m", "0755", "/run/sshd"])
    pid = node.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], log=conf_dir / "sshd.log")
    node.wait_for_port(connect_host(listen), port, pid=pid)
    return pid


def web_log(node: Node, port: int) -> Path:
    """The log of NODE's web logger on PORT: one client address per line."""
    return node.dir / f"web-{port}.clients"


def start_web_logger(node: Node, listen: str, port: int = 80) -> Path:
    """An HTTP server that answers 200 with, and logs, each client's source address.

    Why: tests need proof of which address a request arrived from (NAT, routing).
    Returns the log file (one address per line).
    """
    log = web_log(node, port)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    pid = node.spawn(
        [sys.executable, "-u", str(WEB_LOGGER), listen, str(port), str(log)],
        log=node.dir / f"web-{port}.log",
    )
    node.wait_for_port(connect_host(listen), port, pid=pid)
    return log


def start_imds(node: Node) -> Path:
    """The instance metadata service stand-in (imds.py) at 169.254.169.254:80 inside NODE, as an EC2 instance
    sees it; returns the folder of its answers (a file per path: write one to answer it, remove it for 404)."""
    answers = node.dir / "imds"
    answers.mkdir(parents=True, exist_ok=True)
    node.run(["ip", "address", "add", f"{IMDS_ADDRESS}/32", "dev", "lo"])
    pid = node.spawn([sys.executable, "-u", str(IMDS), IMDS_ADDRESS, "80", str(answers)], log=node.dir / "imds.log")
    node.wait_for_port(IMDS_ADDRESS, 80, pid=pid)
    return answers


def generate_ssh_keypair(directory: Path, name: str = "id_ed25519") -> tuple[Path, str]:
    """A fresh passphrase-less ed25519 key; returns (private key path, public key line)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / name
    if key.exists():
        raise FileExistsError(key)
    run_on_host(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wgsites-lab", "-f", str(key)])
    return key, Path(f"{key}.pub").read_text().strip()


def ssh(
    client: Node,
    *,
    host: str,
    port: int = 22,
    user: str = "root",
    key: Path,
    command: str,
    input: str | None = None,
    check: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `command` on `host` over real SSH from inside `client`.

    The lab's stand-in for pulumi-command's remote.Command, which also ignores host
    keys. `-F /dev/null` keeps this machine's ssh_config out of the picture.
    """
    argv = [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(key),
        "-p",
        str(port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
        f"{user}@{host}",
        "--",
        command,
    ]
    return client.run(argv, input=input, check=check, timeout=timeout)


DNS_RESPONDER = Path(__file__).with_name("dns_responder.py")


def start_dns_responder(node: Node, listen: str) -> Path:
    """The lab resolver on UDP 53 of LISTEN, answering LAB_NAME with WEB; returns its log (source, name per line)."""
    log = node.dir / "dns.queries"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    out = node.dir / "dns.log"
    pid = node.spawn([sys.executable, "-u", str(DNS_RESPONDER), listen, LAB_NAME, WEB, str(log)], log=out)
    deadline = time.monotonic() + 10
    while "listening" not in (out.read_text() if out.exists() else ""):
        if not node.lab.is_running(pid) or time.monotonic() > deadline:
            raise LabError(f"[{node.name}] the lab resolver did not start: {node.lab.log_tail(pid)}")
        time.sleep(0.05)
    return log
