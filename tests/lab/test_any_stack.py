"""The lab runs any stack that passes `check`: own keys, DNS, several LANs in 192.168/16 and 172.16/12, port 443,
a site whose router gets its config as a file.

Why: a user's stack is not one of the examples. The lab must play a bring-your-own-key
device, stand in for a peer's public DNS server, keep its own networks out of the
stack's, and say in the table what it did, a FAIL row instead of a traceback.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from lab.checks import table
from lab.netns import Lab
from lab.run import run_stack
from wgsites.stack.keys import generate_private_key, public_key_of

# 192.168.0.0/24 and 172.16.0.0/24 are the first blocks the lab would take for a café and its
# management network: the stack holding them makes the lab pick others
EVERYTHING = {
    "network": "10.77.0.0/24",
    "listenPort": 443,
    "hub": {
        "name": "hub",
        "kind": "ssh",
        "address": "10.77.0.1",
        "endpoint": "vpn.example.net",
        "masquerade": "eth0",
        "lans": ["10.10.10.0/24"],
        "ssh": {"host": "hub.example.net"},
    },
    "sites": [
        {
            "name": "office",
            "address": "10.77.0.2",
            "lans": ["192.168.0.0/24", "172.16.0.0/24"],
            "keepalive": 25,
            "ssh": {"host": "office.example.net"},
        },
        # a router wgsites cannot reach: its config comes as a file, and says to turn on forwarding
        {"name": "shop", "address": "10.77.0.3", "lans": ["10.30.0.0/24"]},
    ],
    "peers": [
        {"name": "own", "address": "10.77.0.10", "publicKey": public_key_of(generate_private_key())},
        {"name": "full", "address": "10.77.0.11", "tunnel": "full", "dns": ["9.9.9.9"]},
        {"name": "split", "address": "10.77.0.12", "tunnel": "split", "dns": ["1.1.1.1", "2620:fe::fe"]},
    ],
}

MUST_PASS = {
    ("bring-your-own key: the lab plays the device", "own"),
    ("handshake with the hub", "own"),
    ("DNS through the tunnel, none on the café", "full"),
    ("DNS of a split tunnel goes direct", "split"),
    ("this machine's resolver untouched", "-"),
    ("full tunnel egress from the gateway", "full"),
    ("reach LAN host 192.168.0.20", "split"),
    ("reach LAN host 172.16.0.20", "split"),
    ("LAN 172.16.0.20 -> 10.10.10.20", "office->hub"),
    ("path gateway, hub tunnel, target", "office->hub"),
    ("handshake with the hub", "office"),
    ("handshake with the hub", "shop"),
    ("reach LAN host 10.30.0.20", "split"),
    ("LAN 10.30.0.20 -> 10.10.10.20", "shop->hub"),
}


def write_stack(tmp_path: Path, raw: dict, name: str) -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": {"aws:region": "eu-central-1", "wgsites:vpn": raw}}, sort_keys=False))
    return path


def test_a_stack_with_everything_at_once(tmp_path):
    start = time.monotonic()
    with Lab() as lab:
        results = run_stack(lab, write_stack(tmp_path, EVERYTHING, "everything"), faults=False, changes=False)
    print(f"\neverything stack, lab took {time.monotonic() - start:.0f} s\n{table(results)}")
    rows = {(c.name, c.nodes) for c in results}
    assert MUST_PASS <= rows, f"rows missing: {MUST_PASS - rows}"
    paths = [c for c in results if c.name == "path gateway, hub tunnel, target"]
    assert len(paths) == 3  # one per LAN behind a site (the office's two, the shop's one), each from its own gateway
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)


def test_a_stack_the_lab_cannot_build_is_a_row(tmp_path):
    # 31 spokes with an endpoint of their own: the lab internet has public addresses for 30 (behind NAT, 283)
    sites = [{"name": f"s{i}", "address": f"10.77.0.{20 + i}", "endpoint": f"s{i}.example.net:51820"} for i in range(31)]
    broken = {**EVERYTHING, "sites": sites, "peers": []}
    with Lab() as lab:
        results = run_stack(lab, write_stack(tmp_path, broken, "toomany"), faults=False, changes=False)
    print("\n" + table(results))
    assert [(c.name, c.passed) for c in results] == [("lab: build the stack's world", False)]
    assert "the lab has public addresses for 30 spokes, not 31" in results[0].detail


def test_a_crashing_check_is_a_fail_row_and_the_run_goes_on(monkeypatch):
    """A check whose body crashes, and a whole step that crashes, each leave a FAIL row with the reason."""
    from lab.checks import Checker
    from tests.stacks import stack_file

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Checker, "hops", staticmethod(boom))  # inside the path check's body
    monkeypatch.setattr(Checker, "mtu", boom)  # a whole step
    with Lab() as lab:
        results = run_stack(lab, stack_file("sites"), faults=False, changes=False)
    print("\n" + table(results))
    rows = {(c.name, c.passed, c.detail) for c in results}
    assert ("checks: MTU", False, "RuntimeError: boom") in rows
    assert ("path gateway, hub tunnel, target", False, "RuntimeError: boom") in rows
    assert any(c.name == "hub learned the endpoint" and c.passed for c in results)  # the checks after it ran
