"""The access policy proven pair by pair: every endpoint of the lab (spokes, the hub, LAN hosts) tries every
other, both directions, with ping, TCP and UDP as the rules name them, and gets exactly what the model
(wgsites.stack.access.allows) says: an allowed flow answers (a LAN host sees the real source), a denied one is refused.

Why: the policy is only as good as the hub's ruleset; the model and the ruleset are written apart
(access.py and access_firewall.py), and only real packets through real tunnels tell they agree.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wgsites.stack.access import allows, tunnel_networks
from wgsites.stack.resolver import fqdn, serves_dns

from .check_run import Check, crash_detail
from .netns import Node
from .services import start_web_logger, web_log

UDP_ECHO = Path(__file__).with_name("udp_echo.py")
ALWAYS_TCP = 80  # every LAN host's web logger; a rule without ports allows it, one with ports refuses it


@dataclass(frozen=True)
class Endpoint:
    node: Node
    address: str
    owner: str  # the VPN node it is, or whose LAN it is on: two endpoints of one owner do not cross the tunnel

    @property
    def label(self) -> str:
        return self.owner if self.node.name == self.owner else f"{self.owner}:{self.address}"


def endpoints(checker) -> list[Endpoint]:
    world, vpn = checker.world, checker.vpn
    points = [Endpoint(world.nodes[vpn.hub.name], str(vpn.hub.address), vpn.hub.name)]
    points += [Endpoint(world.nodes[s.name], str(s.address), s.name) for s in vpn.spokes if s.tunnel == "split"]
    points += [Endpoint(h.node, h.address, h.owner) for h in world.lan_hosts]
    return points


def probe_ports(vpn) -> tuple[list[int], list[int]]:
    """The TCP and UDP ports to try: each range's first port the rules name, and TCP 80 (every rule without ports)."""
    rules = vpn.access.rules if vpn.access is not None else ()
    tcp = sorted({ALWAYS_TCP} | {p.first for r in rules for p in r.ports if p.protocol == "tcp"})
    udp = sorted({p.first for r in rules for p in r.ports if p.protocol == "udp"})
    return tcp, udp


class Listeners:
    """A listener per endpoint and port, started once: the web logger for TCP, the UDP echo for UDP. The
    WORLD's own web loggers (a LAN host's port 80, its forward rules' TCP ports) are counted in: a second
    logger on the same port could not bind, and would die (lab.world starts those)."""

    def __init__(self, world) -> None:
        ports = (80, *(r.port for r in world.vpn.forward_rules if r.protocol == "tcp"))
        self.logs: dict[tuple[str, int], Path] = {(h.address, p): web_log(h.node, p) for h in world.lan_hosts for p in ports}
        self.udp: set[tuple[str, int]] = set()

    def tcp(self, point: Endpoint, port: int) -> Path:
        key = (point.address, port)
        if key not in self.logs:
            self.logs[key] = start_web_logger(point.node, point.address, port)
        return self.logs[key]

    def echo(self, point: Endpoint, port: int) -> None:
        if (point.address, port) not in self.udp:
            point.node.spawn([sys.executable, "-u", str(UDP_ECHO), "serve", point.address, str(port)])
            point.node.run(["sh", "-c", f"for i in $(seq 50); do ss -lun | grep -q ':{port} ' && exit; sleep 0.1; done"])
            self.udp.add((point.address, port))


def dns_answers(a: Endpoint, b: Endpoint, vpn, tcp: bool = False) -> bool:
    """Whether the hub's resolver at B answers A (its own name): port 53 there is dnsmasq's, not an echo's."""
    argv = ["dig", "+short", "+time=1", "+tries=2", *(["+tcp"] if tcp else []), f"@{b.address}", fqdn(vpn, vpn.hub.name)]
    return bool(a.node.run(argv, check=False, timeout=15).stdout.strip())


def try_pair(checker, listeners: Listeners, a: Endpoint, b: Endpoint, now: dt.datetime | None = None) -> tuple[bool, str]:
    """One ordered pair: every probe's outcome against the model; (passed, what each probe did)."""
    vpn = checker.vpn
    tcp, udp = probe_ports(vpn)
    wrong, said = [], []

    def judge(what: str, expected: bool, got: bool, extra: str = "") -> None:
        said.append(f"{what} {'answered' if got else 'refused'}{extra}")
        if expected != got:
            wrong.append(f"{what} should be {'allowed' if expected else 'refused'}")

    out = a.node.run(["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", b.address], check=False).stdout
    received = int(match.group(1)) if (match := re.search(r"(\d+) received", out)) else 0
    judge("ping", allows(vpn, a.address, b.address, "icmp", None, now), received > 0)
    resolver = {str(n.network_address) for n in tunnel_networks(vpn, vpn.hub)} if serves_dns(vpn) else set()
    for port in tcp:
        if port == 53 and b.address in resolver:  # the hub's resolver holds it: asked as DNS, over TCP
            judge("tcp/53", allows(vpn, a.address, b.address, "tcp", 53, now), dns_answers(a, b, vpn, tcp=True))
            continue
        log = listeners.tcp(b, port)
        code = checker.http(a.node, b.address, port)
        seen = checker.last_client(log) if code == 0 else ""
        judge(f"tcp/{port}", allows(vpn, a.address, b.address, "tcp", port, now), code == 0, f" (source {seen})" if seen else "")
        if code == 0 and seen != a.address and a.node.name != vpn.hub.name:
            wrong.append(f"tcp/{port} arrived from {seen}, not {a.address} (the source must be kept)")
    for port in udp:
        if port == 53 and b.address in resolver:  # the hub's resolver holds it: asked as DNS
            judge("udp/53", allows(vpn, a.address, b.address, "udp", 53, now), dns_answers(a, b, vpn))
            continue
        listeners.echo(b, port)
        done = a.node.run([sys.executable, str(UDP_ECHO), "ask", b.address, str(port)], check=False)
        judge(f"udp/{port}", allows(vpn, a.address, b.address, "udp", port, now), done.returncode == 0)
    return not wrong, "; ".join(wrong) if wrong else ", ".join(said)


def in_rounds(points: list[Endpoint]) -> list[list[tuple[Endpoint, Endpoint]]]:
    """Every ordered pair of POINTS that crosses the tunnel, in rounds where no endpoint is the source of two pairs or
    the target of two: a round's pairs are tried at once. One target at a time: its web log's last line names the
    client it judges; one source at a time: each host's ICMP errors (a rejected probe) come at the pace they did."""
    n = len(points)
    shifted = ([(points[i], points[(i + r) % n]) for i in range(n)] for r in range(1, n))
    return [[(a, b) for a, b in pairs if a.owner != b.owner] for pairs in shifted]


def pair_checks(checker, listeners: Listeners, now: dt.datetime | None = None) -> list[Check]:
    """A row per ordered pair crossing the tunnel, both ways, in the order of `endpoints`; tried a round at a time
    (most probes of a denied flow wait out a timeout: one pair after another, a policy's pairs took minutes)."""
    points = endpoints(checker)
    tried: dict[tuple[str, str], Future] = {}
    with ThreadPoolExecutor(max_workers=len(points)) as pool:
        for pairs in in_rounds(points):
            for a, b in pairs:
                tried[a.address, b.address] = pool.submit(try_pair, checker, listeners, a, b, now)
            for a, b in pairs:
                tried[a.address, b.address].exception()  # the round is over when each of its pairs is
    return [
        outcome(f"access {a.address} -> {b.address}", f"{a.label}->{b.label}", tried[a.address, b.address])
        for a in points
        for b in points
        if a.owner != b.owner
    ]


def outcome(name: str, nodes: str, tried: Future) -> Check:
    """A pair's row; a probe that crashed is a FAIL row with the reason (as CheckRun.attempt has it)."""
    if (exc := tried.exception()) is not None:
        return Check(name, nodes, False, crash_detail(exc))
    passed, detail = tried.result()
    return Check(name, nodes, passed, detail)


def access_pairs(checker) -> None:
    """A row per ordered pair of endpoints that crosses the tunnel (the lab's check step for a stack with a policy)."""
    for check in pair_checks(checker, Listeners(checker.world)):
        checker.record(check.name, check.nodes, check.passed, check.detail)
