"""scripts/setup's package step on a host of its own: this machine's OS booted by systemd-nspawn on a throw-away
overlay (lab/systemd_host.py), its apt pointed at a local repository of real Debian packages (the container has
no network: its lab node's namespace routes nowhere).

Why: setup runs apt on a newcomer's own machine. On Ubuntu's default, systemd-resolved runs, and Debian's
openresolv conflicts with it: the old setup installed openresolv for the lab's nodes and apt removed the host's
resolver for it. At a fresh machine's first boot, unattended-upgrades holds apt's lock: setup must wait for it,
say so, and give up at a bound with the reason, leaving no policy-rc.d behind (it stops every service a later
apt installs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.netns import Lab
from lab.services import generate_ssh_keypair
from lab.systemd_host import SystemdHost

ROOT = Path(__file__).resolve().parents[2]
REPO = "/srv/wgsites-test-repo"  # in the container
SETUP_IN = "/srv/wgsites/scripts/setup"  # scripts/setup, copied into the container
DEBS = ("systemd-resolved", "traceroute", "openresolv")  # resolved to set up the host; traceroute for setup to install
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wgsites" / "setup-test-debs"
STUB = "../run/systemd/resolve/stub-resolv.conf"
LOCK = "/var/lib/dpkg/lock-frontend"
HOLD_LOCK = (  # apt's lock is an fcntl lock (flock(1) would not stop apt): held for $1 seconds, then released
    "import fcntl, os, sys, time\n"
    f"fd = os.open({LOCK!r}, os.O_RDWR | os.O_CREAT, 0o640)\n"
    "fcntl.lockf(fd, fcntl.LOCK_EX)\n"
    "open('/run/lock-held', 'w').write(str(os.getpid()))\n"
    "time.sleep(float(sys.argv[1]))\n"
)


def debs() -> list[Path]:
    """The packages, as this machine's apt has them (its systemd's version), fetched once from its mirror."""
    CACHE.mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_")[0]: p for p in CACHE.glob("*.deb")}
    wanted = [name for name in DEBS if name not in have]
    if wanted:
        done = subprocess.run(["apt-get", "download", *wanted], cwd=CACHE, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"apt-get download {' '.join(wanted)} failed (this machine's mirror): {done.stderr.strip()}")
    return sorted(CACHE.glob("*.deb"))


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Iterator[SystemdHost]:
    """A booted copy of this machine whose apt knows only the local repository; systemd-resolved runs in it."""
    if shutil.which("dpkg-scanpackages") is None:
        pytest.skip("dpkg-scanpackages (dpkg-dev) makes the test's local repository")
    packages = debs()
    _, public = generate_ssh_keypair(tmp_path_factory.mktemp("key"))
    with Lab() as lab:
        machine = SystemdHost(lab, "newcomer", public)
        # the clone may live anywhere (CI's is a fresh one in a folder of its own) and the container sees only
        # the OS: the script goes in beside the repository of packages, as a newcomer's clone would be there
        shutil.copytree(ROOT / "scripts", machine.upper / SETUP_IN.lstrip("/").rsplit("/", 1)[0])
        repo = machine.upper / REPO.lstrip("/")
        repo.mkdir(parents=True)
        for deb in packages:
            shutil.copy(deb, repo)
        index = subprocess.run(["dpkg-scanpackages", "."], cwd=repo, capture_output=True, text=True, check=True)
        (repo / "Packages").write_text(index.stdout)
        sources = machine.upper / "etc/apt/sources.list.d"
        sources.mkdir(parents=True)
        os.setxattr(sources, "trusted.overlay.opaque", b"y")  # none of this machine's mirrors
        (sources / "wgsites-test.list").write_text(f"deb [trusted=yes] file:{REPO} ./\n")
        with machine:
            machine.run(["rm", "-f", "/usr/sbin/policy-rc.d"])  # a Docker image has one; a newcomer's machine none
            machine.run(["apt-get", "update", "-qq"], timeout=120)
            machine.run(
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd-resolved",
                timeout=300,
            )
            machine.run(["systemctl", "enable", "--now", "systemd-resolved"], timeout=60)
            machine.run(["ln", "-sfn", STUB, "/etc/resolv.conf"])  # as Ubuntu has it
            assert resolver_of(machine) == ("active", STUB)
            yield machine


def resolver_of(machine: SystemdHost) -> tuple[str, str]:
    active = machine.run(["systemctl", "is-active", "systemd-resolved"], check=False).stdout.strip()
    return active, machine.run(["readlink", "/etc/resolv.conf"], check=False).stdout.strip()


def setup(machine: SystemdHost, wait: int) -> subprocess.CompletedProcess[str]:
    """scripts/setup's package step for the lab, run inside the container as root."""
    return machine.run(["env", f"WGSITES_APT_LOCK_WAIT={wait}", SETUP_IN, "lab", "packages"], check=False, timeout=wait + 240)


def installed(machine: SystemdHost, package: str) -> bool:
    done = machine.run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return done.stdout.strip() == "install ok installed"


def hold_apt_lock(machine: SystemdHost, seconds: float) -> str:
    """The holder's PID in the container, once it holds the lock."""
    machine.run(["rm", "-f", "/run/lock-held"])
    machine.run(["tee", "/run/hold-lock.py"], input=HOLD_LOCK)
    machine.run(f"setsid python3 /run/hold-lock.py {seconds} >/dev/null 2>&1 < /dev/null &")
    machine.run("for i in $(seq 100); do [ -s /run/lock-held ] && exit 0; sleep 0.1; done; exit 1")
    return machine.run(["cat", "/run/lock-held"]).stdout.strip()


def test_setup_keeps_a_running_systemd_resolved(host: SystemdHost) -> None:
    """What the lab needs is installed; nothing replaces the host's resolver: it runs, resolv.conf still points at it."""
    host.run(["dpkg", "--purge", "traceroute"])
    done = setup(host, 60)
    assert installed(host, "systemd-resolved") and not installed(host, "openresolv"), done.stderr
    assert resolver_of(host) == ("active", STUB)
    assert done.returncode == 0, done.stderr
    assert installed(host, "traceroute")
    assert host.run(["test", "-e", "/usr/sbin/policy-rc.d"], check=False).returncode == 1


def test_setup_gives_up_on_a_held_apt_lock_and_leaves_no_policy_rc_d(host: SystemdHost) -> None:
    host.run(["dpkg", "--purge", "traceroute"])
    holder = hold_apt_lock(host, 30)
    try:
        done = setup(host, 3)
    finally:
        host.run(["kill", holder], check=False)
    assert done.returncode == 1
    assert "another apt holds /var/lib/dpkg/lock-frontend" in done.stderr and "waiting up to 3 s" in done.stderr
    assert f"gave up after 3 s: apt's lock /var/lib/dpkg/lock-frontend is still held by pid {holder} (python3)" in done.stderr
    assert host.run(["test", "-e", "/usr/sbin/policy-rc.d"], check=False).returncode == 1
    assert not installed(host, "traceroute")


def test_setup_waits_for_a_held_apt_lock_and_proceeds_when_it_is_released(host: SystemdHost) -> None:
    host.run(["dpkg", "--purge", "traceroute"])
    hold_apt_lock(host, 6)
    done = setup(host, 120)
    assert done.returncode == 0, done.stderr
    assert "another apt holds /var/lib/dpkg/lock-frontend" in done.stderr and "waiting up to 120 s" in done.stderr
    assert installed(host, "traceroute")
    assert host.run(["test", "-e", "/usr/sbin/policy-rc.d"], check=False).returncode == 1
    assert resolver_of(host) == ("active", STUB)
