"""IPv6 at the café, in the lab: an IPv6-only web host on the lab internet that logs who reached it, and a
peer's café box with IPv6 that counts what the peer sends it beside the tunnel.

Why: a full tunnel's IPv6 must never leave beside the tunnel (faults.ipv6_stays_in_tunnel), and a dual-stack
VPN's must leave from the hub or be refused there (dual_stack.ipv6_egress): both judge by what this web host
saw and what the café box counted.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from wgsites.stack.model import Spoke

from .addresses import INTERNET6, WEB6
from .check_run import SUMMARY_RE, CheckRun
from .netns import Node
from .services import start_web_logger
from .world import cafe_ipv6


@dataclass
class Cafe6:
    """A peer's café with IPv6: the box's WAN and inside addresses, the peer's own address."""

    peer: Spoke
    box: Node
    wan: str
    peer_address: str


def add_web6(checker: CheckRun) -> tuple[Node, Path]:
    """An IPv6-only web host on the lab internet that logs who reached it."""
    world = checker.world
    assert world.wiring is not None
    web6 = world.lab.node("web6")
    port = world.wiring.link(web6, "eth0", world.lab.nodes["internet"])
    world.lab.nodes["internet"].run(["ip", "link", "set", port, "master", "br0"])
    web6.run(["ip", "-6", "address", "add", f"{WEB6}/{INTERNET6.prefixlen}", "dev", "eth0", "nodad"])
    return web6, start_web_logger(web6, "::", 80)


def give_cafe_ipv6(checker: CheckRun, peer: Spoke, index: int, web6: Node) -> Cafe6:
    """Static IPv6 on the café box (WAN and inside /64, forwarding) and on the peer, with a default route (kept
    when the world gave it already: a hub dialled over IPv6), and the web host's route back to the café."""
    box = checker.world.nat[peer.name]
    wan, address = cafe_ipv6(checker.world, peer.name, index)
    web6.run(["ip", "-6", "route", "replace", str(ipaddress.IPv6Network(f"{address}/64", strict=False)), "via", wan])
    count_to_web6(box, address)
    return Cafe6(peer, box, wan, address)


def count_to_web6(box: Node, source: str) -> None:
    """An nft counter on the café box for IPv6 from the peer to the web host (leaving outside the tunnel)."""
    box.run(
        "nft -f - <<'EOF'\n"
        "table ip6 labcount {\n"
        f"  chain leak {{ type filter hook forward priority 0; ip6 saddr {source} ip6 daddr {WEB6} counter; }}\n"
        "}\nEOF"
    )


def counted(box: Node) -> int:
    out = box.run(["nft", "list", "chain", "ip6", "labcount", "leak"]).stdout
    match = re.search(r"counter packets (\d+)", out)
    return int(match.group(1)) if match else -1


def try_web6(node: Node) -> tuple[int, int]:
    """(curl -6 exit code, ping -6 replies) from the peer to the IPv6 web host."""
    code = node.run(
        ["curl", "-6", "-s", "-o", "/dev/null", "-m", "3", "--noproxy", "*", f"http://[{WEB6}]/"], check=False
    ).returncode
    out = node.run(["ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "1", WEB6], check=False).stdout
    match = SUMMARY_RE.search(out)
    return code, int(match.group(2)) if match else 0
