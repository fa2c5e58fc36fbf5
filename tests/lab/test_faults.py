"""Faults in the lab: the hub's WireGuard killed and its boot path rerun, a laptop roaming, IPv6 at a café.

The rows of the home stack (aws hub, full- and split-tunnel peers) and the router stack (ssh hub), from the
one lab run of each that test_stacks.py also reads (stack_runs.py): every row of it passing is its test there.
"""

from __future__ import annotations

import re

import pytest

from lab.faults import RECOVERY_LIMIT
from tests.lab.stack_runs import on_its_own_worker, passed, rows


@pytest.mark.parametrize(
    ("stack", "spokes"),
    [on_its_own_worker("home", {"home", "laptop", "phone", "added"}), on_its_own_worker("router", {"laptop"})],
)
def test_hub_killed_every_tunnel_back_by_the_boot_path_alone(stack, spokes):
    passed(rows(stack, "hub's WireGuard killed, boot path rerun"))
    back = rows(stack, "tunnel back after the hub's restart")
    assert {c.nodes for c in back} == spokes
    for row in back:
        seconds = float(re.search(r"answered again ([\d.]+) s after the kill", row.detail).group(1))
        assert 1 < seconds <= RECOVERY_LIMIT, row  # an outage was seen (the kill worked) and it ended in time
        assert "unchanged, nothing run on it" in row.detail
    passed(back)


@pytest.mark.parametrize("stack", [on_its_own_worker("home"), on_its_own_worker("router")])
def test_laptop_roams_within_one_keepalive(stack):
    (row,) = rows(stack, "laptop roams: traffic resumes within one keepalive")
    assert row.nodes == "laptop"
    passed([row])


@pytest.mark.xdist_group("lab-run-home")
def test_ipv6_never_leaves_beside_the_full_tunnel():
    (full,) = rows("home", "IPv6 at the café: full tunnel does not leak")
    assert full.nodes == "phone"
    assert "counted 0 packet(s)" in full.detail and "web host saw nobody" in full.detail, full
    (split,) = rows("home", "IPv6 at the café: split tunnel")  # the control: the lab's IPv6 path does work
    assert split.nodes == "laptop" and "curl -6 [2001:db8::80] exit 0" in split.detail
    passed([full, split])
