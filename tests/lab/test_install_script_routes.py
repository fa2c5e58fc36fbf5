"""The routes a reload in place gives the hub's peers are the ones `wg-quick up` gives the same config.

`wg syncconf` adds no routes (docs/lab-notes.md 9), so the install script gives every AllowedIPs network a
route on the interface, as wg-quick does at up: a network no route on the interface covers yet
(`ip route show dev IFACE match NET` empty) gets one. wg-quick asks that of each network in a process of
its own; the script asks them all in one `ip -batch` (3 of a 1000-peer hub's 4 seconds of install went to
the processes). The oracle here is wg-quick itself: one namespace brings the config up with `wg-quick up`,
another runs the hub's install script (up with one site, then the same config reloaded in place), and both
end with the same routes: none for an address the interface's own prefix covers, one for each other network,
two for nested networks (wg-quick adds the longest prefix first, so a wider one never covers it).
"""

from __future__ import annotations

import random
import re

from lab.netns import Lab, Node
from tests.lab.test_install_script import IFACE, STACK, script
from tests.lab.test_install_script_dual_stack import vpn
from wgsites.rendering.render import KeyRing, render_wg_quick
from wgsites.stack.keys import generate_private_key, public_key_of

# beside the VPN's own addresses (inside its /24 and /64, covered by the interface's prefix routes): LANs,
# nested ones, one inside the VPN's network, and IPv6 ones
NETWORKS = [
    "10.70.0.0/16",
    "10.70.1.0/24",
    "10.71.0.0/24",
    "10.50.0.128/25",
    "192.0.2.0/24",
    "fd20::/48",
    "fd20:0:1::/64",
    "fd10:50::99/128",
]
PEERS = 300


def extra_peers(rng: random.Random) -> str:
    """PEERS [Peer] sections, shuffled: each a VPN address (IPv4, then IPv6), the first ones a network of NETWORKS too."""
    sections = []
    for i in range(PEERS):
        allowed = [f"10.50.0.{10 + i}/32" if i < 100 else f"fd10:50::{i:x}/128"]
        if i < len(NETWORKS):
            allowed.append(NETWORKS[i])
        sections.append(f"[Peer]\nPublicKey = {public_key_of(generate_private_key())}\nAllowedIPs = {', '.join(allowed)}\n")
    rng.shuffle(sections)
    return "\n".join(sections)


def routes(node: Node) -> set[str]:
    """The destinations of the routes on the interface, both families."""
    found = set()
    for family in ("-4", "-6"):
        shown = node.run(["ip", family, "route", "show", "dev", IFACE]).stdout
        found |= {line.split()[0] for line in shown.splitlines() if line.strip()}
    return found


def test_a_reload_in_place_routes_as_wg_quick_up_does():
    rng = random.Random(32)
    with Lab() as lab:
        ours, quick = lab.node("hub"), lab.node("quick")
        ours.run(["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"])  # the uplink the hub's sysctls name
        public = {name: public_key_of(generate_private_key()) for name in ("s1", "s2")}
        public["hub"] = script(ours, vpn("s1"), "public-key").stdout.strip()
        one_site = render_wg_quick(vpn("s1"), "hub", STACK, KeyRing(public=public))
        script(ours, vpn("s1"), "install", one_site)

        grown = one_site.replace("\n# The VPN's names", f"\n{extra_peers(rng)}\n# The VPN's names", 1)
        done = script(ours, vpn("s1"), "install", grown)
        assert "reloaded in place" in done.stderr, done.stderr[-3000:]

        # the oracle: wg-quick up of the same config (its key written in, the hub's own hooks left out)
        plain = re.sub(r"^(PostUp|PreDown) = .*\n", "", grown, flags=re.M)
        plain = plain.replace("[Interface]\n", f"[Interface]\nPrivateKey = {generate_private_key()}\n", 1)
        quick.write_file(f"/etc/wireguard/{IFACE}.conf", plain, mode=0o600)
        quick.run(["wg-quick", "up", IFACE])

        expected = routes(quick)
        assert {"10.70.0.0/16", "10.70.1.0/24", "fd20::/48", "fd20:0:1::/64"} <= expected  # nested: both
        assert "10.50.0.128/25" not in expected and "fd10:50::99" not in expected  # the prefix route covers them
        assert routes(ours) == expected
        added = set(re.findall(r"route added: (\S+)", done.stderr))
        assert added == {n for n in NETWORKS if n not in ("10.50.0.128/25", "fd10:50::99/128")}
