"""A tunnel whose outer packets travel over IPv6 only (the hub's endpoint `[2001:db8:6::1]`), at the MTU wgsites
renders for it: the largest DF ping passes, inner IPv4 and IPv6, and not one outer packet is fragmented.

Why: IPv6's header is 20 bytes longer than IPv4's, so a tunnel over IPv6 needs an MTU 20 bytes
smaller (1420 on a 1500 link, docs/lab-notes.md 11). The same test at the IPv4 tunnel MTU (1440)
shows what the smaller one prevents: the sender fragments every full-size outer packet.
"""

from __future__ import annotations

import re

from lab.netns import Lab, Node
from tests.stacks import render_stack
from wgsites.stack.parse import parse_vpn

OUTER = "2001:db8:6::/64"  # RFC 3849: the only network between the two namespaces
HUB_OUTER, PEER_OUTER = "2001:db8:6::1", "2001:db8:6::2"
STACK = {
    "network": "10.66.0.0/24",
    "network6": "fd10:66::/64",
    "hub": {
        "name": "hub",
        "kind": "ssh",
        "address": "10.66.0.1",
        "endpoint": f"[{HUB_OUTER}]:51820",
        "ssh": {"host": "hub.example.net"},
    },
    "peers": [{"name": "laptop", "address": "10.66.0.2"}],
}


def counter(node: Node, name: str) -> int:
    out = node.run(["nstat", "-az", name]).stdout
    match = re.search(rf"^{name}\s+(\d+)", out, re.M)
    return int(match.group(1)) if match else -1


def largest_df_ping(node: Node, target: str, size: int, v6: bool = False) -> tuple[bool, str]:
    """Whether a don't-fragment ping of SIZE payload bytes is answered (3 of 3)."""
    argv = ["ping", *(["-6"] if v6 else []), "-n", "-M", "do", "-s", str(size), "-c", "3", "-i", "0.2", "-W", "2", target]
    out = node.run(argv, check=False)
    return " 3 received" in out.stdout, (out.stdout.splitlines() or [""])[-1] + out.stderr.strip()


def test_a_tunnel_over_ipv6_only_at_its_rendered_mtu_sends_no_fragment(tmp_path):
    vpn = parse_vpn(STACK)
    rendered = render_stack("v6outer", tmp_path, vpn)
    mtu = {name: int(re.search(r"(?m)^MTU = (\d+)$", rendered.conf(name)).group(1)) for name in ("hub", "laptop")}
    assert mtu == {"hub": 1420, "laptop": 1420}  # 1500 - 40 (IPv6) - 8 (UDP) - 32 (WireGuard)
    with Lab() as lab:
        hub, laptop = lab.node("v6hub"), lab.node("v6laptop")
        lab.link(hub, "eth0", laptop, "eth0")
        for node, address in ((hub, HUB_OUTER), (laptop, PEER_OUTER)):
            node.run(["ip", "-6", "address", "add", f"{address}/64", "dev", "eth0", "nodad"])
            assert not node.run(["ip", "-4", "address", "show", "dev", "eth0"]).stdout.strip()  # IPv6 only
        # the files as rendered (the hub's config loads its key file and its nftables file in PostUp); the
        # hub's key is made on the host, as the install script does, and its public half given to the laptop
        hub.write_file("/etc/wireguard/wg0.conf", rendered.conf("hub"), 0o600)
        hub.write_file("/etc/wireguard/wg0.nft", rendered.files["hub"]["wg0.nft"], 0o600)
        hub.run("wg genkey > /etc/wireguard/wg0.key && chmod 600 /etc/wireguard/wg0.key")
        hub_public = hub.run("wg pubkey < /etc/wireguard/wg0.key").stdout.strip()
        laptop.write_file(
            "/etc/wireguard/wg0.conf", rendered.conf("laptop").replace(rendered.keys.public["hub"], hub_public), 0o600
        )
        for node in (hub, laptop):
            node.run(["wg-quick", "up", "wg0"])
        for node, name in ((hub, "hub"), (laptop, "laptop")):
            shown = node.run(["ip", "-o", "link", "show", "dev", "wg0"]).stdout
            assert f"mtu {mtu[name]} " in shown, shown
        before = {n.name: counter(n, "Ip6FragCreates") for n in (hub, laptop)}
        inner4 = mtu["laptop"] - 28  # IPv4 20 + ICMP 8
        inner6 = mtu["laptop"] - 48  # IPv6 40 + ICMPv6 8
        for node, target4, target6 in ((laptop, "10.66.0.1", "fd10:66::1"), (hub, "10.66.0.2", "fd10:66::2")):
            ok, said = largest_df_ping(node, target4, inner4)
            assert ok, f"{node.name}: DF ping of {inner4} bytes to {target4}: {said}"
            ok, said = largest_df_ping(node, target6, inner6, v6=True)
            assert ok, f"{node.name}: DF ping -6 of {inner6} bytes to {target6}: {said}"
            too_big, said = largest_df_ping(node, target4, inner4 + 1)
            assert not too_big and "message too long" in said.lower(), said  # the MTU is the limit, not more
        endpoint = hub.run(["wg", "show", "wg0", "endpoints"]).stdout
        assert f"[{PEER_OUTER}]:" in endpoint  # the hub learned the peer's IPv6 address: outer packets are IPv6
        after = {n.name: counter(n, "Ip6FragCreates") for n in (hub, laptop)}
        assert after == before, f"outer IPv6 fragments created: before {before}, after {after}"
        print(f"\nMTU {mtu['laptop']}: DF ping {inner4} (IPv4) and {inner6} (IPv6) pass both ways; fragments {after}")

        # the IPv4 tunnel MTU over the same IPv6 path: every full-size packet leaves in two fragments
        for node in (hub, laptop):
            node.run(["ip", "link", "set", "dev", "wg0", "mtu", "1440"])
        ok, said = largest_df_ping(laptop, "10.66.0.1", 1440 - 28)
        fragmented = counter(laptop, "Ip6FragCreates") - after["v6laptop"]
        print(f"MTU 1440 over IPv6: DF ping {1440 - 28} answered: {ok}; outer fragments created by the laptop: {fragmented}")
        assert fragmented > 0, "the contrast must show: an IPv4-sized tunnel MTU fragments over IPv6"
