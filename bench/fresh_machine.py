"""The README's quick start and two commands on a fresh Debian, timed step by step (not in the suite: it takes long).

`sudo .venv/bin/python bench/fresh_machine.py [--lab-only] [--test-args ARGS] [--hold-lock SECONDS] [--keep-root]`

debootstrap makes a Debian root file system (this machine's release, from the mirror its apt uses) with
what a newcomer's machine has (git, sudo, python3); systemd-nspawn boots it, on this machine's network
(apt, PyPI and the Go module proxy are reached as a real machine reaches them), with a unit that holds
apt's lock from the start as unattended-upgrades does at a first boot. Then, as root inside, a clone of
this repository's HEAD and, in the order a newcomer meets them: the README's quick start, each of its
lines up to the first that needs the Pulumi CLI and a real router or AWS account (`pulumi ...`; the
`git clone` is the clone above, and python3-venv, which its first comment asks for, is installed
first, waiting for apt's lock), then command one `scripts/lab` (the home stack), `wgsites check` from
another folder, and command two `scripts/test` unless --lab-only; each step's wall time and exit code,
and the disk it all took. Each step's whole output is streamed to the log (`tail -f` it). The container
runs in a cgroup of its own, as the lab's systemd host does (lab/systemd_host.py), and everything goes
with its folder at the end, also when the run is stopped (SIGTERM, Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.systemd_host import cgroup_roots, container_init, remove_cgroup  # noqa: E402

INCLUDE = "git,sudo,python3,ca-certificates,dbus"  # a newcomer's machine has these
HOLD_LOCK = """import fcntl, os, sys, time
fd = os.open("/var/lib/dpkg/lock-frontend", os.O_RDWR | os.O_CREAT, 0o640)
fcntl.lockf(fd, fcntl.LOCK_EX)
time.sleep(float(sys.argv[1]))
"""
UNIT = """[Unit]
Description=holds apt's lock for a while, as unattended-upgrades does at a first boot
[Service]
ExecStart=/usr/bin/python3 /usr/local/sbin/hold-apt-lock {seconds}
[Install]
WantedBy=multi-user.target
"""


def mirror_and_suite() -> tuple[str, str]:
    """This machine's Debian mirror and release, as its apt has them."""
    suite = re.search(r"^VERSION_CODENAME=(\S+)", Path("/etc/os-release").read_text(), re.M).group(1)
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        found = re.search(r"^URIs:\s*(\S+)", sources.read_text(), re.M)
        if found:
            return found.group(1), suite
    found = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", Path("/etc/apt/sources.list").read_text(), re.M)
    return found.group(1), suite


class Fresh:
    """The booted root file system; `run` enters it as `systemd-run` would, through its PID 1's namespaces."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log
        self.machine = f"wgsites-fresh-{uuid.uuid4().hex[:6]}"
        self.cgroups = [r / self.machine for r in cgroup_roots()]
        self.proc: subprocess.Popen[bytes] | None = None

    def boot(self) -> None:
        for cgroup in self.cgroups:
            cgroup.mkdir()
        script = "".join(f"echo $$ > {shlex.quote(str(c / 'cgroup.procs'))}\n" for c in self.cgroups)
        nspawn = [
            "systemd-nspawn",
            "--boot",
            "--quiet",
            f"--directory={self.root}",
            f"--machine={self.machine}",
            "--register=no",
            "--keep-unit",
            "--capability=all",  # the lab inside makes network and mount namespaces
            "--resolv-conf=copy-host",
            "--link-journal=no",
        ]
        # the lab inside sets sysctls in its own network namespaces: nspawn leaves /proc/sys read-only on this
        # machine's network unless told (the container shares this machine's network namespace: apt, PyPI, Go proxy)
        env = {**os.environ, "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "1"}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                ["sh", "-ec", script + "exec " + shlex.join(nspawn)], stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env
            )
        deadline = time.monotonic() + 120
        while self.init_pid() is None or self.run("systemctl is-system-running --wait", 60)[0] not in (0, 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fresh machine did not boot: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)

    def init_pid(self) -> int | None:
        return None if self.proc is None else container_init(self.proc.pid)

    def run(self, command: str, timeout: float) -> tuple[int, str]:
        """(exit code, output's last lines) of a root shell command inside; its whole output goes to the log."""
        init = self.init_pid()
        argv = ["nsenter", f"--target={init}", "--mount", "--pid", "--uts", "--ipc", "--net", "--root", "--wd"]
        argv += ["--", "bash", "-c", f"cd /root && {command}"]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C.UTF-8"}
        with open(self.log, "a") as out:  # streamed, so a long step's progress can be followed (tail -f)
            out.write(f"\n$ {command}\n")
            out.flush()
            start = out.tell()
            try:
                code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, env=env).returncode
            except subprocess.TimeoutExpired:
                code = 124
                out.write(f"\ntimed out after {timeout:.0f} s\n")
        with open(self.log, errors="replace") as written:
            written.seek(start)
            return code, "\n".join(written.read().strip().splitlines()[-12:])

    def stop(self) -> None:
        init = self.init_pid()
        if init is not None:
            os.kill(init, signal.SIGRTMIN + 3)  # systemd's halt
        if self.proc is not None:
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for cgroup in self.cgroups:
            remove_cgroup(cgroup)


def quick_start(readme: str) -> list[str]:
    """The README's quick start lines a fresh machine can run: its first sh block, up to the first `pulumi` line."""
    section = readme.split("\n## Quick start\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = []
    for line in block.splitlines():
        if line.startswith("pulumi "):
            break
        if not line.startswith("git clone "):
            lines.append(line)
    return lines


def timed(name: str, work) -> tuple[int, str]:
    start = time.monotonic()
    try:
        code, tail = work()
    except BaseException:
        print(f"{name:<58} {time.monotonic() - start:7.0f} s  stopped before it ended", flush=True)
        raise
    print(f"{name:<58} {time.monotonic() - start:7.0f} s  exit {code}", flush=True)
    if code != 0:
        print("    " + tail.replace("\n", "\n    "), flush=True)
    return code, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-only", action="store_true", help="skip `scripts/test` (the whole suite, 30+ minutes)")
    parser.add_argument("--hold-lock", type=int, default=120, metavar="SECONDS", help="how long apt's lock is held at boot")
    parser.add_argument("--keep-root", action="store_true", help="leave the root file system (its path is printed)")
    parser.add_argument("--test-args", default="", metavar="ARGS", help="pytest arguments for scripts/test (a part of the suite)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stopped)  # the container and its folder go also when the run is stopped
    if os.geteuid() != 0 or shutil.which("debootstrap") is None or shutil.which("systemd-nspawn") is None:
        parser.error("run as root with debootstrap and systemd-nspawn installed (apt-get install debootstrap systemd-container)")
    mirror, suite = mirror_and_suite()
    work = Path(tempfile.mkdtemp(prefix="wgsites-fresh-", dir="/var/tmp"))
    root, log = work / "root", work.with_name(work.name + ".log")  # the log outlives the folder: a failure's detail
    print(f"fresh {suite} from {mirror} in {root}; whole output in {log}", flush=True)
    code, _ = timed(
        f"debootstrap {suite} (+{INCLUDE})",
        lambda: _shell(["debootstrap", f"--include={INCLUDE}", suite, str(root), mirror], log),
    )
    if code != 0:
        return 1
    hostname = (root / "etc/hostname").read_text().strip()  # as Debian's installer names it (else sudo warns)
    with open(root / "etc/hosts", "a") as hosts:
        hosts.write(f"127.0.1.1\t{hostname}\n")
    hold = root / "usr/local/sbin/hold-apt-lock"
    hold.write_text(HOLD_LOCK)
    unit = root / "etc/systemd/system/fake-first-boot-upgrade.service"
    unit.write_text(UNIT.format(seconds=args.hold_lock))
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / unit.name).symlink_to(f"/etc/systemd/system/{unit.name}")
    extra_cas = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    if extra_cas:  # this machine's egress inspects TLS: its CAs go in (a newcomer's machine needs none of this)
        for ca in extra_cas:
            shutil.copy(ca, root / "usr/local/share/ca-certificates" / ca.name)
        (root / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    timed("clone this repository's HEAD", lambda: _shell(["git", "clone", "-q", str(ROOT), str(root / "root/wgsites")], log))
    fresh = Fresh(root, log)
    results: list[int] = []
    try:
        start = time.monotonic()
        fresh.boot()
        booted = f"boot (apt lock held for {args.hold_lock} s from here)"
        print(f"{booted:<58} {time.monotonic() - start:7.0f} s", flush=True)
        if extra_cas:
            timed(f"this machine's CA certificates ({len(extra_cas)})", lambda: fresh.run("update-ca-certificates", 120))
        venv = "python3-venv (the quick start's first comment; apt's lock)"
        apt = "export DEBIAN_FRONTEND=noninteractive; apt-get -o DPkg::Lock::Timeout=600 -qq"
        code, _ = timed(venv, lambda: fresh.run(f"{apt} update && {apt} install -y python3-venv", 900))
        results.append(code)
        for line in quick_start((root / "root/wgsites/README.md").read_text()):
            command = line.split("  #", 1)[0].strip()
            code, _ = timed(f"quick start: {command}", lambda c=command: fresh.run(f"cd wgsites && {c}", 3600))
            results.append(code)
        code, _ = timed("sudo scripts/lab (command one: the home example)", lambda: fresh.run("cd wgsites && scripts/lab", 3600))
        results.append(code)
        code, _ = timed(
            "wgsites check from /tmp",
            lambda: fresh.run("cd /tmp && /root/wgsites/.venv/bin/wgsites check /root/wgsites/examples/Pulumi.home.yaml", 300),
        )
        results.append(code)
        if not args.lab_only:
            test = "sudo scripts/test (command two; engine built on first use)"
            code, _ = timed(test, lambda: fresh.run(f"cd wgsites && scripts/test {args.test_args}", 4 * 3600))
            results.append(code)
        _, disk = fresh.run("du -sh /root/wgsites/.venv /root/.cache/wgsites 2>/dev/null; df -h / | tail -1", 120)
        print("disk: " + disk.replace("\n", "; "), flush=True)
    finally:
        fresh.stop()
        if not args.keep_root:
            shutil.rmtree(work, ignore_errors=True)
            print(f"removed {work}; the whole output stays in {log}")
    return 0 if results and all(code == 0 for code in results) else 1


def _stopped(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _shell(argv: list[str], log: Path) -> tuple[int, str]:
    with open(log, "a") as out:
        out.write(f"\n$ {shlex.join(argv)}\n")
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return done.returncode, log.read_text(errors="replace")[-1500:]


if __name__ == "__main__":
    sys.exit(main())
