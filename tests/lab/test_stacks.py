"""Every example stack brought up in namespaces from exactly what the core renders, and checked."""

from __future__ import annotations

import pytest

from tests.lab.stack_runs import WITH_FAULTS, on_its_own_worker, passed, results_of
from tests.stacks import STACKS

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


@pytest.mark.parametrize("stack", [on_its_own_worker(s) for s in STACKS])
def test_stack_in_the_lab(stack):
    """Every row passes; on the home and router stacks that includes the fault scenarios (test_faults.py reads them)."""
    results = results_of(stack)
    names = {c.name for c in results}
    assert MUST_SHOW[stack] | NAMES <= names, f"checks missing: {(MUST_SHOW[stack] | NAMES) - names}"
    assert (stack in WITH_FAULTS) == ("hub's WireGuard killed, boot path rerun" in names)
    passed(results)
