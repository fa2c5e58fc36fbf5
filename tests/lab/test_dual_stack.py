"""A dual-stack VPN (network6) brought up in the lab from what the core renders: an SSH hub with a LAN,
a site behind NAT (managed over SSH), a split-tunnel laptop and a full-tunnel phone with its own address6.

Proves: ping -6 and HTTP over IPv6 between every two nodes (the receiver logs the sender's own
VPN address), every IPv4 check of a stack still passing beside it, and the phone's IPv6: with
hub.ipv6Egress an IPv6-only web host on the lab internet logs the hub's IPv6 address; without,
the same request fails at the hub; either way the phone's café box counts no packet beside the tunnel.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from lab.addresses import HUB6
from lab.checks import Checker, table
from lab.deploy import deploy
from lab.dual_stack import ipv6_egress
from lab.netns import Lab
from lab.run import LAB_SYNC_SECONDS
from lab.world import build_world
from tests.stacks import dual_stack_vpn
from wgsites.stack.model import Vpn
from wgsites.stack.parse import parse_vpn

STACK = {
    "network": "10.10.11.0/24",
    "network6": "fd10:11::/64",
    "listenPort": 51000,
    "hub": {
        "name": "router",
        "kind": "ssh",
        "address": "10.10.11.1",
        "endpoint": "home.example.net",
        "lans": ["10.10.10.0/24"],
        "masquerade": "wan0",
        "ssh": {"host": "10.10.10.1"},
    },
    "sites": [{"name": "office", "address": "10.10.11.3", "lans": ["10.10.12.0/24"], "ssh": {"host": "office.example.net"}}],
    "peers": [
        {"name": "laptop", "address": "10.10.11.2", "interface": "home0"},
        {"name": "phone", "address": "10.10.11.11", "address6": "fd10:11::beef", "tunnel": "full", "dns": ["9.9.9.9"]},
    ],
}
NODES = ("router", "office", "laptop", "phone")


def run(egress: bool, vpn: Vpn | None = None) -> list:
    vpn = vpn or parse_vpn({**STACK, "hub": {**STACK["hub"], "ipv6Egress": egress}})
    if vpn.hub.kind == "aws":  # the lab's sync period, as lab.run does
        vpn = dataclasses.replace(
            vpn, hub=dataclasses.replace(vpn.hub, aws=dataclasses.replace(vpn.hub.aws, sync_seconds=LAB_SYNC_SECONDS))
        )
    start = time.monotonic()
    with Lab() as lab:
        world = build_world(lab, "dual", vpn, lab.run_dir)
        checker = Checker(deploy(world))
        checker.run_all()
        checker.guard("IPv6 egress", "-", lambda: ipv6_egress(checker))
        results = checker.results
    took = time.monotonic() - start
    print(f"\ndual-stack lab ({vpn.hub.kind} hub, ipv6Egress: {vpn.hub.ipv6_egress}) took {took:.0f} s\n{table(results)}")
    return results


@pytest.mark.parametrize("egress", [True, False], ids=["ipv6Egress", "no-ipv6Egress"])
def test_a_dual_stack_vpn_in_the_lab(egress):
    results = run(egress)
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
    pairs = {c.nodes for c in results if c.name == "ping6 over the tunnel"}
    assert pairs == {f"{a}->{b}" for a in NODES for b in NODES if a != b}
    assert {c.nodes for c in results if c.name == "HTTP over IPv6, source kept"} == pairs
    names = {c.name for c in results}
    assert {"full tunnel egress from the gateway", "reach LAN host 10.10.10.20", "routes as the guide lists"} <= names
    # the site's LAN, reached by the split peer through the hub (tunnel to tunnel), then traced to the hub's LAN:
    # the hub's hop shows, as its ICMP is not spent on redirects
    assert {"reach LAN host 10.10.12.20", "path gateway, hub tunnel, target", "hub sent no ICMP redirect"} <= names
    if egress:
        (row,) = [c for c in results if c.name == "full tunnel IPv6 egress from the hub"]
        assert f"the web host saw ['{HUB6}']" in row.detail and "counted 0 packet(s)" in row.detail
    else:
        (row,) = [c for c in results if c.name == "full tunnel IPv6 blocked at the hub"]
        assert "the web host saw nobody" in row.detail and "counted 0 packet(s)" in row.detail


@pytest.mark.parametrize("egress", [True, False], ids=["ipv6Egress", "no-ipv6Egress"])
def test_the_home_stack_dual_stack_with_its_aws_hub(egress):
    """The home example with network6: the aws stand-in gateway (cloud-init, its SSM sync) runs the dual-stack
    bundle; every node reaches every other over IPv6; the phone's IPv6 leaves from the gateway or is rejected there."""
    vpn = dual_stack_vpn("home", egress)
    results = run(egress, vpn)
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
    nodes = [n.name for n in vpn.nodes]
    pairs = {c.nodes for c in results if c.name == "HTTP over IPv6, source kept"}
    assert pairs == {f"{a}->{b}" for a in nodes for b in nodes if a != b}
    name = "full tunnel IPv6 egress from the hub" if egress else "full tunnel IPv6 blocked at the hub"
    assert [c.nodes for c in results if c.name == name] == ["phone"]
