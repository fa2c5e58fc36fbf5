"""Generated access policies (hypothesis), each compiled to the hub's nftables, installed in place on a running
office lab (real wireguard-go tunnels) and tried pair by pair, both ways: what passes is what the model says.

Why: the model (wgsites.stack.access.allows) and the compiler (wgsites.rendering.access_firewall) are written apart; only
packets through the real ruleset tell they agree for policies nobody wrote by hand (groups overlapping,
hosts inside LANs, ports of both protocols, rules without ports, an expired spoke).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.access_pairs import Listeners, pair_checks
from lab.checks import Checker, table
from lab.deploy import deploy, run_over_ssh
from lab.netns import Lab
from lab.world import build_world
from tests.stacks import stack_file
from wgsites.rendering.render import install_command
from wgsites.stack.access import AccessPolicy, AccessRule, PortSpec, check_access
from wgsites.stack.check import load_stack_file

SPOKES = ("branch", "alice", "bob", "carol")
HOSTS = {
    "nas": "192.168.10.20",
    "files": "192.168.20.20",
    "office-lan": "192.168.10.0/24",
    "branch-lan": "192.168.20.0/24",
    "hub-itself": "10.10.12.1",
}
PORTS = (PortSpec("tcp", 445, 445), PortSpec("tcp", 20, 22), PortSpec("udp", 53, 53), PortSpec("icmp"))
PAST = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@st.composite
def policies(draw):
    groups = (("g1", tuple(draw(st.sets(st.sampled_from(SPOKES), min_size=1)))),)
    hosts = tuple((name, ipaddress.ip_network(HOSTS[name])) for name in draw(st.sets(st.sampled_from(sorted(HOSTS)))))
    names = [*SPOKES, "g1", "office", *(h for h, _ in hosts)]
    rule = st.builds(
        AccessRule,
        st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True).map(tuple),
        st.lists(st.sampled_from([*names, "internet"]), min_size=1, max_size=2, unique=True).map(tuple),
        st.lists(st.sampled_from(PORTS), max_size=2, unique=True).map(tuple),
    )
    rules = tuple(draw(st.lists(rule, min_size=1, max_size=4)))
    expired = draw(st.sampled_from([None, None, "carol"]))
    return AccessPolicy(groups, rules), hosts, expired


def test_generated_policies_hold_pair_by_pair_on_real_tunnels():
    with Lab() as lab:
        world = build_world(lab, "office", load_stack_file(stack_file("office")), lab.run_dir)
        dep = deploy(world)
        checker = Checker(dep)
        checker.handshakes()
        assert all(c.passed for c in checker.results), table(checker.results)
        listeners = Listeners(world)
        tried = []

        @settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(policies())
        def holds(drawn):
            policy, hosts, expired = drawn
            spokes = tuple(dataclasses.replace(s, expires=PAST if s.name == expired else None) for s in world.vpn.spokes)
            # the compiler against the model alone: the hub's resolver off (its own rule and its port 53 are tried
            # by the office example's pairs and the names checks), so every port here is the lab's echo's
            hub = dataclasses.replace(world.vpn.hub, dns=None)
            vpn = dataclasses.replace(world.vpn, access=policy, hosts=hosts, spokes=spokes, hub=hub)
            assert check_access(vpn, "wgsites:vpn") == []
            run_over_ssh(world, "office", install_command(vpn, "office", "office", "install"), dep.configs["office"])
            checker.vpn = vpn  # the pairs are judged by this policy's model
            results = pair_checks(checker, listeners)
            tried.append(len(results))
            failed = [c for c in results if not c.passed]
            assert not failed, f"{policy}, hosts {hosts}, expired {expired}\n" + table(failed)

        holds()
    print(f"\n{len(tried)} generated policies, {sum(tried)} pairs tried both ways")
    assert len(tried) == 4
