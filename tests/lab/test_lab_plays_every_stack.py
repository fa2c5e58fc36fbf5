"""Stacks unlike the examples, played by `python -m lab`'s own path (lab.run.run_stack) as they would really run.

Why: the README promises that the lab plays every stack `check` accepts, or says in a row what it changed:
a non-root `ssh.user` (the lab makes the user and its sudo rule, so the install script's `sudo -n` path
runs), an IPv6 hub endpoint (played over IPv4 at the stack's IPv6 MTU, said in a row), more than 30
spokes behind NAT (NAT boxes past the first 30 live in TEST-NET-2), and `ipv6Egress` both ways.
"""

from __future__ import annotations

import time

import pytest
import yaml

from lab.checks import table
from lab.netns import Lab
from lab.run import run_stack

NAT_SPOKES = 32  # past the 30 NAT boxes of the lab internet's first network


def play(tmp_path, name: str, vpn: dict, **options) -> list:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": {"wgsites:vpn": vpn}}))
    start = time.monotonic()
    with Lab() as lab:
        results = run_stack(lab, path, **options)
    print(f"\n{name} stack, lab took {time.monotonic() - start:.0f} s\n{table(results)}")
    return results


def test_a_pi_login_an_ipv6_endpoint_and_more_than_30_spokes_behind_nat(tmp_path):
    vpn = {
        "network": "10.10.40.0/24",
        "listenPort": 51000,
        "hub": {
            "name": "hub",
            "kind": "ssh",
            "address": "10.10.40.1",
            "endpoint": "[2001:db8:40::1]:51000",
            "uplink": {"type": "ethernet", "ipv6": True},
            "lans": ["10.40.0.0/24"],
            "ssh": {"host": "10.40.0.1", "user": "pi"},
        },
        "sites": [
            {"name": "shop", "address": "10.10.40.2", "lans": ["10.41.0.0/24"], "ssh": {"host": "10.41.0.1", "user": "pi"}}
        ],
        "peers": [{"name": f"p{i}", "address": f"10.10.40.{10 + i}"} for i in range(NAT_SPOKES - 1)],
    }
    results = play(tmp_path, "pi", vpn, faults=False, changes=False)
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
    rows = {(c.name, c.nodes): c.detail for c in results}
    for node in ("hub", "shop"):
        assert "logged in as ['pi'], sudo -n gives ['root']" in rows[("SSH as pi, install through sudo -n", node)]
    assert "[2001:db8:40::1]:51000 (IPv6) is played over IPv4" in rows[("IPv6 endpoint played over IPv4", "hub")]
    assert ("MTU 1420", "p30") in rows  # the stack's MTU for its IPv6 path, not the 1440 of the lab's IPv4 one
    assert "198.51.100.1:" in rows[("hub learned the endpoint", "hub:p29")]  # the 31st spoke's NAT box


@pytest.mark.parametrize("egress", [True, False], ids=["ipv6Egress", "no-ipv6Egress"])
def test_ipv6_egress_both_ways(tmp_path, egress):
    vpn = {
        "network": "10.10.41.0/24",
        "network6": "fd10:41::/64",
        "hub": {
            "name": "hub",
            "kind": "ssh",
            "address": "10.10.41.1",
            "endpoint": "hub.example.net",
            "masquerade": "wan0",
            "ipv6Egress": egress,
            "ssh": {"host": "hub.example.net"},
        },
        "peers": [{"name": "phone", "address": "10.10.41.11", "tunnel": "full", "dns": ["9.9.9.9"]}],
    }
    results = play(tmp_path, "egress", vpn, changes=False)
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
    name = "full tunnel IPv6 egress from the hub" if egress else "full tunnel IPv6 blocked at the hub"
    assert [c.nodes for c in results if c.name == name] == ["phone"]
    assert not [c for c in results if c.name == "IPv6 at the café: full tunnel does not leak"]
