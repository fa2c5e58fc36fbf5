"""An install interrupted on its host, for the engine's fault tests (test_pulumi_faults.py): the install
script's run lock held from outside, and whether the running interface is what its config file says.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from lab.deploy import wait_for
from lab.faults import netns_pids
from lab.netns import Node


def install_lock(interface: str) -> str:
    """The install script's run lock (one wgsites run at a time per interface)."""
    return f"/run/wgsites/{interface}.lock"


def hold_install_lock(node: Node, interface: str, seconds: int = 120) -> int:
    """Hold the host's wgsites lock, as a concurrent run (a reresolve, another push) would: an install waits.

    Returns the holder's PID; end its group to release. Why: it makes a push take a
    while honestly, so the CLI can be interrupted while the install runs on the host.
    """
    lock = install_lock(interface)
    node.run(["install", "-d", "-m", "700", str(Path(lock).parent)])  # as the install script makes it
    pid = node.spawn(["flock", lock, "sleep", str(seconds)])
    held = wait_for(lambda: node.run(["flock", "-n", lock, "true"], check=False).returncode != 0, 10, 0.1)
    if held is None:
        raise RuntimeError(f"could not take {lock} on {node.name}")
    return pid


def release(node: Node, pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_for(lambda: not node.lab.is_running(pid), 5, 0.05)


def install_waiting(node: Node) -> bool:
    """Whether an install script runs on the host, waiting for the lock (`flock -w 120 9`)."""
    for pid in netns_pids(node):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline[:3] == [b"flock", b"-w", b"120"]:
            return True
    return False


def running_matches_file(node: Node, interface: str) -> tuple[bool, str]:
    """Whether the running interface is what its config file says (addresses, peers, firewall table).

    Why: an install cut off after it wrote the file but before it applied it leaves a
    host that the next `up` believes is up to date.
    """
    conf = node.read_file(f"/etc/wireguard/{interface}.conf")
    file_peers = set(re.findall(r"^PublicKey = (\S+)", conf, re.M))
    running_peers = set(node.run(["wg", "show", interface, "peers"]).stdout.split())
    wants_table = bool(re.search(r"^PostUp = nft -f", conf, re.M))
    has_table = f"wgsites_{interface}" in node.run(["nft", "list", "tables"]).stdout
    file_addresses = {a.strip() for line in re.findall(r"^Address = (.+)$", conf, re.M) for a in line.split(",")}
    shown = node.run(["ip", "-o", "address", "show", "dev", interface, "scope", "global"], check=False).stdout
    running_addresses = set(re.findall(r"inet6? (\S+)", shown))
    ok = file_peers == running_peers and wants_table == has_table and file_addresses == running_addresses
    return ok, (
        f"address in file {sorted(file_addresses)}, running {sorted(running_addresses)}; "
        f"peers in file {len(file_peers)}, running {len(running_peers)}, same: {file_peers == running_peers}; "
        f"firewall table in file: {wants_table}, loaded: {has_table}"
    )
