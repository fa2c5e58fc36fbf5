"""scripts/setup without root: nothing to install, it goes on (so `scripts/test -m "not lab"` runs as a user once
a root run installed the packages); something to install, it names the packages and asks for root, and runs no apt.
The root path, apt's lock and a host's own resolver: tests/lab/test_setup.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "scripts" / "setup"


def as_a_user(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """ARGV as nobody when this runs as root, else as this user. As nobody, scripts/setup runs from a copy in a
    folder nobody can read: the clone may sit where nobody cannot (/root, or a 0700 home as Debian 12 makes them),
    and `setup ... packages` reads nothing but itself."""
    if os.geteuid() != 0:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    with tempfile.TemporaryDirectory(prefix="wgsites-setup-copy-") as folder:
        Path(folder).chmod(0o755)
        (Path(folder) / "scripts").mkdir(mode=0o755)
        copy = Path(folder) / "scripts" / "setup"
        shutil.copy2(SETUP, copy)
        copy.chmod(0o755)
        argv = [str(copy) if arg == str(SETUP) else arg for arg in argv]
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        return subprocess.run([*prefix, *argv], env=env, capture_output=True, text=True, timeout=60)


def test_nothing_missing_needs_no_root() -> None:
    done = as_a_user([str(SETUP), "test", "packages"], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    if "missing packages" in done.stderr:
        pytest.skip(f"this machine lacks packages (sudo scripts/setup test): {done.stderr.strip()}")
    assert (done.returncode, done.stderr) == (0, "")


def test_missing_packages_are_named_and_root_asked_for_before_any_apt() -> None:
    with tempfile.TemporaryDirectory(prefix="wgsites-setup-") as folder:  # not under pytest's 0700 tmp: nobody reads it
        bin_dir = Path(folder)
        bin_dir.chmod(0o777)
        calls = bin_dir / "apt-calls"
        for name, body in {
            "dpkg-query": "echo 'unknown ok not-installed'",  # every package missing
            "apt-get": f'echo "$*" >> {calls}',
        }.items():
            (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
            (bin_dir / name).chmod(0o755)
        done = as_a_user([str(SETUP), "lab", "packages"], {"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin"})
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("setup: missing packages: wireguard-tools wireguard-go nftables ")
        assert done.stderr.endswith("; run as root (sudo) to install them\n")
        assert "openresolv" not in done.stderr  # the lab's nodes bring their own resolvconf (lab/resolvconf)
        assert not calls.exists()


def test_an_unknown_mode_is_refused() -> None:
    done = subprocess.run([str(SETUP), "everything"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (2, "setup: unknown everything: scripts/setup lab|test [packages]\n")
