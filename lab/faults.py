"""Faults a running VPN must survive, run for real in the lab, each a PASS/FAIL row.

Why: a user's VPN meets crashes and moves the happy path never shows: the hub's
WireGuard process dies and the host's boot path brings it back, a laptop roams
to a new public address mid-call, a café hands out IPv6 beside a full tunnel.
Every scenario measures (seconds, pings lost, packets counted) and never lets an
exception escape: a crash is a FAIL row with its reason.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from wgsites.stack.model import Spoke

from .addresses import ROAM, WEB6, moved
from .cafe6 import Cafe6, add_web6, counted, give_cafe_ipv6, try_web6
from .check_run import SUMMARY_RE, CheckRun
from .deploy import systemctl, wait_for
from .dual_stack import ipv6_egress
from .netns import Node
from .world import move_nat_wan

RECOVERY_LIMIT = 30.0  # seconds a spoke may be cut off after the hub's boot path ran
REPLY_RE = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)", re.M)


# -- pings with timestamps ------------------------------------------------------------------


@dataclass
class Pinger:
    """A ping running in a node with receive timestamps (-D), so gaps can be measured."""

    node: Node
    log: Path
    pid: int

    @classmethod
    def start(cls, node: Node, target: str, log: Path, seconds: float, interval: float = 0.05) -> Pinger:
        argv = ["ping", "-n", "-D", "-i", str(interval), "-W", "1", "-w", str(int(seconds)), target]
        return cls(node, log, node.spawn(argv, log=log))

    def replies(self) -> list[tuple[float, int]]:
        """(receive time, icmp_seq) of every answered ping so far."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [(float(t), int(seq)) for t, seq in REPLY_RE.findall(text)]

    def answered_after(self, moment: float) -> bool:
        return any(t > moment for t, _ in self.replies())

    def stop(self, timeout: float = 5) -> tuple[int, int]:
        """End the ping like Ctrl-C (it prints its summary); returns (sent, received)."""
        if self.node.lab.is_running(self.pid):
            try:
                os.killpg(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.node.lab.is_running(self.pid), timeout, interval=0.1)
        match = SUMMARY_RE.search(self.log.read_text(errors="replace"))
        return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def outage(replies: list[tuple[float, int]], moment: float) -> tuple[float, float] | None:
    """The longest silence between two answers that ends after `moment`: (start, end) receive times."""
    later = [(a, b) for (a, _), (b, _) in zip(replies, replies[1:], strict=False) if b > moment]
    return max(later, key=lambda pair: pair[1] - pair[0]) if later else None


def wait_until_answered(pingers: list[Pinger], moment: float, timeout: float) -> None:
    wait_for(lambda: all(p.answered_after(moment) for p in pingers), timeout, interval=0.25)


# -- 1. the hub's WireGuard process killed, its boot path rerun ---------------------------------


def netns_pids(node: Node) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", node.netns], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split()]


def wireguard_go_pid(node: Node, interface: str) -> int | None:
    """The wireguard-go serving `interface` inside this node's namespace (never another node's)."""
    for pid in netns_pids(node):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"wireguard-go") and interface.encode() in cmdline[1:]:
            return pid
    return None


def spoke_fingerprint(node: Node, interface: str) -> str:
    """Hash of the spoke's /etc/wireguard and its wireguard-go PID, read from outside the node.

    Read through the node's private folder on the host, so nothing is run on the spoke.
    """
    folder = node.dir / "root" / "etc" / "wireguard"
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{digest.hexdigest()[:16]} pid {wireguard_go_pid(node, interface)}"


def run_boot_path(checker: CheckRun) -> str:
    """What the hub does at boot: wg-quick@IFACE (ssh hub), or its SSM sync unit (aws hub)."""
    hub = checker.vpn.hub
    node = checker.node(hub.name)
    if hub.kind == "aws":
        systemctl(node, ["start", "wgsites-sync.service"])
        return "the sync unit (wgsites-sync.service)"
    node.run(["wg-quick", "up", hub.interface])
    return f"wg-quick up {hub.interface}"


def hub_process_killed(checker: CheckRun) -> None:
    """Kill the hub's wireguard-go; the boot path alone must bring every tunnel back, spokes untouched."""
    world, hub = checker.world, checker.vpn.hub
    hub_node = checker.node(hub.name)
    spokes = [s for s in world.vpn.spokes if s.name in world.nodes]
    before = {s.name: spoke_fingerprint(world.nodes[s.name], s.interface) for s in spokes}
    pingers = {
        s.name: Pinger.start(world.nodes[s.name], str(hub.address), world.lab.run_dir / f"kill-hub-{s.name}.ping", 60, 0.1)
        for s in spokes
    }
    wait_until_answered(list(pingers.values()), time.time(), 10)
    pid = wireguard_go_pid(hub_node, hub.interface)
    if pid is None:
        raise RuntimeError(f"no wireguard-go for {hub.interface} in {hub_node.netns}")
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    gone = wait_for(lambda: hub_node.run(["ip", "link", "show", hub.interface], check=False).returncode != 0, 10, 0.1)
    boot_start = time.time()
    boot = run_boot_path(checker)
    boot_took = time.time() - boot_start
    up = wireguard_go_pid(hub_node, hub.interface)
    checker.record(
        "hub's WireGuard killed, boot path rerun",
        hub.name,
        gone is not None and up is not None and up != pid,
        f"wireguard-go {pid} SIGKILLed; {hub.interface} gone after {gone if gone is None else round(gone, 1)} s; "
        f"{boot} took {boot_took:.2f} s; new wireguard-go {up}",
    )
    wait_until_answered(list(pingers.values()), boot_start + boot_took, RECOVERY_LIMIT + 5)
    time.sleep(1)
    for spoke in spokes:
        _record_recovery(checker, spoke, pingers[spoke.name], killed_at, before[spoke.name])


def _record_recovery(checker: CheckRun, spoke: Spoke, pinger: Pinger, killed_at: float, before: str) -> None:
    sent, got = pinger.stop()
    gap = outage(pinger.replies(), killed_at)
    back = gap[1] - killed_at if gap else None
    after = spoke_fingerprint(checker.world.nodes[spoke.name], spoke.interface)
    answered = f"answered again {back:.1f} s after the kill" if back is not None else "never answered again"
    untouched = "unchanged" if after == before else f"CHANGED {before} -> {after}"
    checker.record(
        "tunnel back after the hub's restart",
        spoke.name,
        back is not None and back <= RECOVERY_LIMIT and after == before,
        f"{answered} ({sent - got}/{sent} pings at 100 ms lost); spoke's files and wireguard-go {untouched}, nothing run on it",
    )


# -- 2. a laptop roams to a new public address ----------------------------------------------------


def roaming_peer(checker: CheckRun) -> Spoke | None:
    """The first roaming device behind a NAT box of its own: the one that can change café."""
    return next((s for s in checker.vpn.spokes if s.kind == "peer" and s.name in checker.world.nat), None)


def peer_roams(checker: CheckRun) -> None:
    """Mid-ping, the peer's public address changes: traffic must resume within one keepalive."""
    peer = roaming_peer(checker)
    if peer is None:
        return
    world, hub = checker.world, checker.vpn.hub
    node, box = world.nodes[peer.name], world.nat[peer.name]
    over6 = peer.name in world.public6  # it dials the hub over IPv6: its own IPv6 address changes (no NAT there)
    old = world.public6[peer.name] if over6 else world.public[peer.name]
    new = str(ipaddress.IPv6Address(old) + ROAM) if over6 else moved(old, ROAM)
    pinger = Pinger.start(node, str(hub.address), world.lab.run_dir / "roam.ping", 40)
    wait_until_answered([pinger], time.time(), 10)
    time.sleep(1)
    moved_at = time.time()
    if over6:
        node.run(f"ip -6 address add {new}/64 dev wan0 nodad && ip -6 address del {old}/64 dev wan0")
        world.public6[peer.name] = new
        world.cafe6[peer.name] = (world.cafe6[peer.name][0], new)
    else:
        move_nat_wan(box, old, new)
        world.public[peer.name] = new
    wait_until_answered([pinger], moved_at + 0.5, peer.keepalive + 5)
    time.sleep(2)
    sent, got = pinger.stop()
    gap = outage(pinger.replies(), moved_at)
    silence = gap[1] - gap[0] if gap else None
    seen = checker.hub_endpoint_of(peer.name)
    limit = peer.keepalive or 25
    checker.record(
        "laptop roams: traffic resumes within one keepalive",
        peer.name,
        silence is not None and silence <= limit and seen.startswith((f"[{new}]" if over6 else new) + ":"),
        f"{old} -> {new} mid-ping: longest gap {silence:.2f} s (limit {limit} s), {sent - got}/{sent} pings at 50 ms lost; "
        f"hub now sees {seen}"
        if silence is not None
        else f"{old} -> {new}: no answer after the move; hub sees {seen}",
    )


# -- 3. IPv6 at the café beside a full tunnel -----------------------------------------------------


def ipv6_stays_in_tunnel(checker: CheckRun) -> None:
    """IPv6 at the café: a full-tunnel peer's IPv6 must never leave beside the tunnel. A dual-stack VPN's (network6)
    must also do what the stack says at the hub: leave from it with ipv6Egress, be rejected there without."""
    if checker.vpn.network6 is not None:
        ipv6_egress(checker)
        return
    peers = [s for s in checker.vpn.spokes if s.kind == "peer" and s.name in checker.world.nat]
    if not any(p.tunnel == "full" for p in peers):
        return
    web6, web6_log = add_web6(checker)
    cafes = [give_cafe_ipv6(checker, peer, i + 1, web6) for i, peer in enumerate(peers)]
    for cafe in cafes:
        checker.attempt(
            "IPv6 at the café: full tunnel does not leak" if cafe.peer.tunnel == "full" else "IPv6 at the café: split tunnel",
            cafe.peer.name,
            lambda cafe=cafe: _judge_ipv6(checker, cafe, web6_log),
        )


def _judge_ipv6(checker: CheckRun, cafe: Cafe6, web6_log: Path) -> tuple[bool, str]:
    node = checker.world.nodes[cafe.peer.name]
    earlier = len(web6_log.read_text().split())
    code, pongs = try_web6(node)
    seen = set(web6_log.read_text().split()[earlier:])  # who reached it during this try
    packets = counted(cafe.box)
    direct = cafe.peer_address in seen
    detail = (
        f"curl -6 [{WEB6}] exit {code}, ping -6 {pongs}/2; meanwhile the web host saw {sorted(seen) or 'nobody'}; "
        f"café box counted {packets} packet(s) from {cafe.peer_address} to it"
    )
    if cafe.peer.tunnel == "full":
        return not direct and packets == 0 and (code != 0 or bool(seen)), detail
    # a split tunnel carries only the VPN's networks: reaching an IPv6 host directly is expected
    return direct and packets > 0 and code == 0, detail + " (expected: a split tunnel leaves the internet to the café)"


def run_faults(checker: CheckRun) -> None:
    """Every namespace fault scenario, each guarded; the hub's restart last (it disturbs every tunnel)."""
    checker.guard("laptop roams: traffic resumes within one keepalive", "-", lambda: peer_roams(checker))
    checker.guard("IPv6 at the café", "-", lambda: ipv6_stays_in_tunnel(checker))
    checker.guard("hub's WireGuard killed, boot path rerun", checker.vpn.hub.name, lambda: hub_process_killed(checker))
