"""The real install script taking a running IPv4 VPN to dual stack in place (its IPv6 addresses added beside
the IPv4 ones, the interface kept; taken off again by the rollback of a change that fails), adding a
dual-stack site in place, dropping network6 again (a restart),
then removing it all: IPv6 forwarding and the uplink's accept_ra put back as they were.

Topology as tests/lab/test_install_script.py: hub, s1 and s2 on one lab bridge (IPv4 outside).
"""

from __future__ import annotations

import time

from lab.netns import Lab
from tests.lab.test_install_script import IFACE, LAB_ADDRESS, STACK, script, wg
from wgsites.rendering.render import KeyRing, render_wg_quick
from wgsites.stack.model import Vpn
from wgsites.stack.parse import parse_vpn

NETWORK6 = "fd10:50::/64"


def vpn(*sites: str, dual: bool = True) -> Vpn:
    known = {
        "s1": {"name": "s1", "address": "10.50.0.2", "ssh": {"host": LAB_ADDRESS["s1"]}},
        "s2": {"name": "s2", "address": "10.50.0.3", "lans": ["10.60.0.0/24"], "ssh": {"host": LAB_ADDRESS["s2"]}},
    }
    raw = {
        "network": "10.50.0.0/24",
        "hub": {
            "name": "hub",
            "kind": "ssh",
            "address": "10.50.0.1",
            "endpoint": LAB_ADDRESS["hub"],
            "ssh": {"host": LAB_ADDRESS["hub"]},
        },
        "sites": [known[s] for s in sites],
    }
    if not dual:
        return parse_vpn(raw)
    # IPv6 egress out of eth0: the hub's sysctls then keep eth0 taking router advertisements
    return parse_vpn({**raw, "network6": NETWORK6, "hub": {**raw["hub"], "masquerade": "eth0", "ipv6Egress": True}})


def ping6(node, address: str, tries: int = 10) -> bool:
    for _ in range(tries):
        if node.run(["ping", "-6", "-c", "1", "-W", "1", address], check=False).returncode == 0:
            return True
    return False


def test_an_ipv4_vpn_goes_dual_stack_then_grows_in_place_and_is_removed_cleanly():
    with Lab() as lab:
        nodes = {name: lab.node(name) for name in ("hub", "s1", "s2")}
        switch = lab.node("sw")
        for name, node in nodes.items():
            lab.link(node, "eth0", switch, f"p-{name}")
            node.add_address("eth0", f"{LAB_ADDRESS[name]}/24")
        switch.add_bridge("br0", [f"p-{name}" for name in nodes])
        hub, s1, s2 = nodes["hub"], nodes["s1"], nodes["s2"]
        hub.sysctl("net.ipv6.conf.all.forwarding", 0)
        accept_ra = "net.ipv6.conf.eth0.accept_ra"
        ra_before = hub.run(["sysctl", "-n", accept_ra]).stdout.strip()
        public = {name: script(node, vpn("s1", "s2", dual=False), "public-key").stdout.strip() for name, node in nodes.items()}

        def conf(v: Vpn, name: str) -> str:
            return render_wg_quick(v, name, STACK, KeyRing(public=public))

        v4, dual1, dual2 = vpn("s1", dual=False), vpn("s1"), vpn("s1", "s2")
        for name in ("hub", "s1"):
            script(nodes[name], v4, "install", conf(v4, name))
        assert not ping6(s1, "fd10:50::1", tries=2)  # IPv4 only so far

        # an in-place change that fails after the IPv6 address went on (a route the host already has elsewhere
        # makes the new site's LAN route fail): the rollback takes the address off again
        hub.run(["ip", "route", "add", "10.60.0.0/24", "dev", "eth0"])
        # an address the operator put on the interface by hand: the rollback takes only what the run added
        hub.run(["ip", "-6", "address", "add", "fd99::7/128", "dev", IFACE, "nodad"])
        failed = script(hub, dual2, "install", conf(dual2, "hub"), check=False)
        assert failed.returncode != 0 and "[#] ip -6 address add fd10:50::1/64 dev wg0" in failed.stderr, failed.stderr
        assert "the previous one is back" in failed.stderr and "[#] ip -6 address del fd10:50::1/64 dev wg0" in failed.stderr
        assert "inet6 fd10:50" not in hub.run(["ip", "-6", "address", "show", "dev", IFACE]).stdout
        assert "inet6 fd99::7/128" in hub.run(["ip", "-6", "address", "show", "dev", IFACE]).stdout, failed.stderr
        hub.run(["ip", "-6", "address", "del", "fd99::7/128", "dev", IFACE])
        assert hub.read_file("/etc/wireguard/wg0.conf") == conf(v4, "hub")
        hub.run(["ip", "route", "del", "10.60.0.0/24", "dev", "eth0"])

        # network6 added: IPv6 addresses beside the running IPv4 ones, added in place (the same interface)
        ifindex = {name: nodes[name].read_file(f"/sys/class/net/{IFACE}/ifindex") for name in ("hub", "s1")}
        started = time.monotonic()
        done = {name: script(nodes[name], dual1, "install", conf(dual1, name)) for name in ("hub", "s1")}
        for name in ("hub", "s1"):
            said = done[name].stderr
            assert "reloaded in place" in said and "restarting" not in said, said
            assert f"[#] ip -6 address add {dual1.address6_of(dual1.node(name))}/64 dev wg0" in said, said
            assert nodes[name].read_file(f"/sys/class/net/{IFACE}/ifindex") == ifindex[name]
        assert ping6(s1, "fd10:50::1"), "s1 cannot reach the hub over IPv6 after the change"
        print(f"\ns1 pinged the hub over IPv6 {time.monotonic() - started:.1f} s after the dual-stack install")
        assert hub.run(["sysctl", "-n", "net.ipv6.conf.all.forwarding"]).stdout.strip() == "1"
        assert hub.run(["sysctl", "-n", accept_ra]).stdout.strip() == "2"
        assert "inet6 fd10:50::1/64" in hub.run(["ip", "-6", "address", "show", "dev", IFACE]).stdout

        # a dual-stack site added: peers only, so the hub reloads in place again
        grown = script(hub, dual2, "install", conf(dual2, "hub"))
        assert "reloaded in place" in grown.stderr and "restarting" not in grown.stderr, grown.stderr
        assert hub.read_file(f"/sys/class/net/{IFACE}/ifindex") == ifindex["hub"]
        script(s2, dual2, "install", conf(dual2, "s2"))
        allowed = wg(hub, "allowed-ips")
        assert "fd10:50::3/128" in allowed and "10.60.0.0/24" in allowed, allowed
        assert "10.60.0.0/24 scope link" in hub.run(["ip", "route", "show", "dev", IFACE]).stdout  # syncconf adds none
        assert ping6(s2, "fd10:50::1") and ping6(s1, "fd10:50::1")
        script(s1, dual2, "install", conf(dual2, "s1"))  # s1 learns nothing new: it routes network6 already
        assert ping6(s1, "fd10:50::3"), "s1 cannot reach s2 over IPv6 through the hub"

        # network6 dropped again: an address goes, which only wg-quick's down and up do (a restart)
        back = script(s1, v4, "install", conf(v4, "s1"))
        assert "interface settings changed: restarting wg0" in back.stderr, back.stderr
        assert "inet6 fd10:50" not in s1.run(["ip", "-6", "address", "show", "dev", IFACE]).stdout

        # removed: the hub's IPv6 forwarding is what it was before wgsites (0)
        script(hub, dual2, "remove")
        assert hub.run(["sysctl", "-n", "net.ipv6.conf.all.forwarding"]).stdout.strip() == "0"
        assert hub.run(["sysctl", "-n", accept_ra]).stdout.strip() == ra_before != "2"
        assert hub.run(["ip", "link", "show", IFACE], check=False).returncode != 0
