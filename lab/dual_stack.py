"""A dual-stack VPN (wgsites:vpn.network6) in the lab: IPv6 between every two nodes over the tunnel, and a
full-tunnel peer's IPv6 leaving through the hub (hub.ipv6Egress) or blocked there, never beside the tunnel.

Why: every node's second address, the hub's /128 routes and its IPv6 forwarding and firewall are
only proven by IPv6 packets crossing real tunnels: ping -6 and curl -6 between every pair, the
receiving end logging the sender's own VPN address (routed, never NATed inside the VPN); and an
IPv6-only web host on the lab internet that logs who reached it, with the café's counter beside.
"""

from __future__ import annotations

import re

from .addresses import HUB6, INTERNET6
from .cafe6 import add_web6, counted, give_cafe_ipv6, try_web6
from .check_run import SUMMARY_RE, CheckRun
from .services import start_web_logger

PORT6 = 8066  # each node's own web logger, bound to its IPv6 VPN address
CURL_REFUSED = 7  # curl's "could not connect": what the hub's ICMPv6 reject makes of a request


def vpn_sourced(web6) -> int:
    out = web6.run(["nft", "list", "chain", "ip6", "labseen", "vpn"]).stdout
    match = re.search(r"counter packets (\d+)", out)
    return int(match.group(1)) if match else -1


def ping6(checker: CheckRun, src: str, target: str, count: int = 3) -> tuple[int, int]:
    out = checker.node(src).run(["ping", "-6", "-n", "-c", str(count), "-i", "0.2", "-W", "2", target], check=False).stdout
    match = SUMMARY_RE.search(out)
    return (int(match.group(1)), int(match.group(2))) if match else (count, 0)


def curl6(checker: CheckRun, src: str, target: str, port: int) -> int:
    """curl -6's exit code: 0 answered."""
    url = f"http://[{target}]:{port}/"
    return (
        checker.node(src).run(["curl", "-6", "-s", "-o", "/dev/null", "-m", "3", "--noproxy", "*", url], check=False).returncode
    )


def ipv6_between_nodes(checker: CheckRun) -> None:
    """ping -6 and HTTP over IPv6 from every node to every other node's address in network6."""
    vpn = checker.vpn
    if vpn.network6 is None:
        return
    address6 = {node.name: str(vpn.address6_of(node)) for node in vpn.nodes}
    logs = {name: start_web_logger(checker.node(name), address, PORT6) for name, address in address6.items()}
    for src in address6:
        for dst, target in address6.items():
            if src == dst:
                continue

            def ping(src=src, target=target) -> tuple[bool, str]:
                sent, got = ping6(checker, src, target)
                return got == sent, f"ping -6 {target}: {got}/{sent}"

            def http(src=src, dst=dst, target=target) -> tuple[bool, str]:
                code = curl6(checker, src, target, PORT6)
                seen = checker.last_client(logs[dst])
                return code == 0 and seen == address6[
                    src
                ], f"curl -6 exit {code}; {dst} saw {seen or '-'} (sent from {address6[src]})"

            checker.attempt("ping6 over the tunnel", f"{src}->{dst}", ping)
            checker.attempt("HTTP over IPv6, source kept", f"{src}->{dst}", http)


def ipv6_egress(checker: CheckRun, hub_address: bool = True) -> None:
    """Each full-tunnel peer (behind a café box that has IPv6 too) asks an IPv6-only web host: with ipv6Egress the
    host logs the hub's IPv6 address; without, the request fails. Either way the café box counts nothing.
    HUB_ADDRESS false: the hub's uplink has its IPv6 address already (an aws gateway's agent added it)."""
    vpn, world = checker.vpn, checker.world
    peers = [s for s in vpn.spokes if s.tunnel == "full" and s.name in world.nat]
    if vpn.network6 is None or not peers:
        return
    web6, web6_log = add_web6(checker)
    # what reaches the web host with a VPN source address: the hub sent it out un-NATed (a leak through the hub)
    web6.run(
        "nft -f - <<'EOF'\n"
        "table ip6 labseen {\n"
        f"  chain vpn {{ type filter hook input priority 0; ip6 saddr {vpn.network6} counter; }}\n"
        "}\nEOF"
    )
    # the hub's uplink has IPv6 (the lab internet's 2001:db8::/64, on link with the web host) with or without
    # ipv6Egress: without, the hub's firewall must be what stops the phone's IPv6 (a hub with no IPv6 route
    # at all would refuse it anyway, which would prove nothing of the firewall)
    wan_if = world.wan[vpn.hub.name][0]
    if hub_address:
        address = f"{HUB6}/{INTERNET6.prefixlen}"
        checker.node(vpn.hub.name).run(["ip", "-6", "address", "replace", address, "dev", wan_if, "nodad"])
    for i, peer in enumerate(peers):
        cafe = give_cafe_ipv6(checker, peer, i + 1, web6)

        def body(cafe=cafe) -> tuple[bool, str]:
            earlier = len(web6_log.read_text().split())
            code, pongs = try_web6(world.nodes[cafe.peer.name])
            seen = set(web6_log.read_text().split()[earlier:])
            packets = counted(cafe.box)
            unnated = vpn_sourced(web6)
            detail = (
                f"curl -6 exit {code}, ping -6 {pongs}/2; the web host saw {sorted(seen) or 'nobody'} and "
                f"{unnated} packet(s) from {vpn.network6}; the café box counted {packets} packet(s) from "
                f"{cafe.peer_address} to it"
            )
            if vpn.hub.ipv6_egress:
                ok = code == 0 and pongs == 2 and seen == {HUB6} and unnated == 0 and packets == 0
                return ok, detail + f" (expected {HUB6}, the hub's)"
            # refused at the hub (curl: 7, connection refused by its ICMPv6), nothing of it on the internet
            ok = code == CURL_REFUSED and pongs == 0 and not seen and unnated == 0 and packets == 0
            return ok, detail + " (expected: rejected at the hub)"

        name = "full tunnel IPv6 egress from the hub" if vpn.hub.ipv6_egress else "full tunnel IPv6 blocked at the hub"
        checker.attempt(name, peer.name, body)
