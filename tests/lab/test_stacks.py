"""Every example stack brought up in namespaces from exactly what the core renders, and checked."""

from __future__ import annotations

import time

import pytest

from lab.checks import table
from lab.netns import Lab
from lab.run import run_stack
from tests.stacks import STACKS, stack_file

# What each stack must at least show, beyond the checks every stack gets (handshake, pings, MTU, routes).
MUST_SHOW = {
    "router": {"reach LAN host 10.10.10.20", "hub learned the endpoint"},
    "internal": {"reach LAN host 10.10.10.20", "proxy ARP answers for the VPN user"},
    "sites": {
        "LAN 10.10.11.20 -> 10.10.10.20",
        "LAN 10.10.10.20 -> 10.10.11.20",
        "path gateway, hub tunnel, target",
        "tcp 22 rejected between sites",
    },
    "travel": {
        "full tunnel egress from the gateway",
        "peer added via SSM, applied by the sync unit",
        "no packet lost while the peer was added",
    },
    "home": {
        "reach LAN host 10.10.10.20",
        "full tunnel egress from the gateway",
        "WAN address change: tunnel recovers by itself",
        "peer added via SSM, applied by the sync unit",
        "no packet lost while the peer was added",
        "the added peer's tunnel works",
    },
}
# Every example's hub serves the VPN's names (README, Names): asked from every spoke, silent outside, reloaded in place.
NAMES = {
    "names resolve from the spoke",
    "the resolver is silent on the hub's public side",
    "a name added under a lookup loop: reloaded in place, no query lost",
}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_in_the_lab(stack):
    start = time.monotonic()
    with Lab() as lab:
        results = run_stack(lab, stack_file(stack), faults=False)  # the fault scenarios: test_faults.py
    print(f"\n{stack} stack, lab took {time.monotonic() - start:.0f} s\n{table(results)}")
    names = {c.name for c in results}
    assert MUST_SHOW[stack] | NAMES <= names, f"checks missing: {(MUST_SHOW[stack] | NAMES) - names}"
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
