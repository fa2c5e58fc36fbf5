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

from lab.addresses import LabSetupError, nat_box_public
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


def test_a_pi_login_a_site_with_an_ipv6_endpoint_and_more_than_30_spokes_behind_nat(tmp_path):
    vpn = {
        "network": "10.10.40.0/24",
        "listenPort": 51000,
        "hub": {
            "name": "hub",
            "kind": "ssh",
            "address": "10.10.40.1",
            "endpoint": "hub.example.net",
            "lans": ["10.40.0.0/24"],
            "ssh": {"host": "10.40.0.1", "user": "pi"},
        },
        "sites": [
            {
                "name": "shop",
                "address": "10.10.40.2",
                "endpoint": "[2001:db8:40::2]:51000",
                "uplink": {"type": "ethernet", "ipv6": True},
                "lans": ["10.41.0.0/24"],
                "ssh": {"host": "10.41.0.1", "user": "pi"},
            }
        ],
        "peers": [{"name": f"p{i}", "address": f"10.10.40.{10 + i}"} for i in range(NAT_SPOKES)],
    }
    results = play(tmp_path, "pi", vpn, faults=False, changes=False)
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
    rows = {(c.name, c.nodes): c.detail for c in results}
    for node in ("hub", "shop"):
        assert "logged in as ['pi'], sudo -n gives ['root']" in rows[("SSH as pi, install through sudo -n", node)]
    # the site's IPv6 endpoint is played over IPv4, said in its row, at the stack's MTU for its IPv6 path
    assert "[2001:db8:40::2]:51000 (IPv6) is played over IPv4" in rows[("IPv6 endpoint played over IPv4", "shop")]
    assert ("MTU 1420", "shop") in rows and ("MTU 1420", "hub") in rows and ("MTU 1440", "p0") in rows
    # the 31st spoke (the site, then p0 ... p29) is behind the first NAT box on TEST-NET-2
    assert "expected 198.51.100.1:*" in rows[("hub learned the endpoint", "hub:p29")]


def test_a_hub_endpoint_written_as_an_ipv6_address_is_dialled_over_ipv6(tmp_path):
    vpn = {
        "network": "10.10.42.0/24",
        "listenPort": 51000,
        "hub": {
            "name": "hub",
            "kind": "ssh",
            "address": "10.10.42.1",
            "endpoint": "[2001:db8:42::1]:51000",
            "uplink": {"type": "ethernet", "ipv6": True},
            "masquerade": "wan0",
            "lans": ["10.42.0.0/24"],
            "ssh": {"host": "10.42.0.1"},
        },
        "sites": [{"name": "shop", "address": "10.10.42.2", "endpoint": "shop.example.net:51000", "lans": ["10.43.0.0/24"]}],
        "peers": [
            {"name": "laptop", "address": "10.10.42.10"},
            {"name": "phone", "address": "10.10.42.11", "tunnel": "full", "dns": ["9.9.9.9"]},
        ],
    }
    results = play(tmp_path, "hub6", vpn, changes=False)  # with the faults: roaming, IPv6 at the café, the hub killed
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
    rows = {(c.name, c.nodes): c.detail for c in results}
    for spoke in ("shop", "laptop", "phone"):
        assert ("MTU 1420", spoke) in rows  # 1500 - 80: the stack's IPv6 path, not the 1440 of an IPv4 one
        assert "answered 3/3: True" in rows[("tunnel over IPv6 at its MTU, unfragmented", spoke)]
        assert "expected [2001:db8:" in rows[("hub learned the endpoint", f"hub:{spoke}")]
    assert not [c for c in results if c.name == "IPv6 endpoint played over IPv4"]


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


def test_past_the_last_nat_box_the_stack_is_one_fail_row_naming_why():
    assert [nat_box_public(i) for i in (29, 30, 282)] == ["203.0.113.79", "198.51.100.1", "198.51.100.253"]
    with pytest.raises(LabSetupError, match=r"^the lab has NAT boxes for 283 spokes, not 284$"):
        nat_box_public(283)
