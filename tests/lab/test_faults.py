"""Faults in the lab: the hub's WireGuard killed and its boot path rerun, a laptop roaming, IPv6 at a café.

One lab per stack for the whole module: the home stack (aws hub, full- and split-tunnel
peers) and the router stack (ssh hub), each run once with its fault scenarios.
"""

from __future__ import annotations

import re

import pytest

from lab.checks import Check, table
from lab.faults import RECOVERY_LIMIT
from lab.netns import Lab
from lab.run import run_stack
from tests.stacks import stack_file

_RUNS: dict[str, list[Check]] = {}


def results_of(stack: str) -> list[Check]:
    """The stack's rows, from one lab run shared by every test of this module."""
    if stack not in _RUNS:
        with Lab() as lab:
            _RUNS[stack] = run_stack(lab, stack_file(stack))
        print(f"\n{stack}:\n{table(_RUNS[stack])}")
    return _RUNS[stack]


def rows(stack: str, name: str) -> list[Check]:
    found = [c for c in results_of(stack) if c.name == name]
    assert found, f"no {name!r} row in the {stack} lab:\n{table(results_of(stack))}"
    return found


def passed(found: list[Check]) -> None:
    failed = [c for c in found if not c.passed]
    assert not failed, "\n" + table(failed)


@pytest.mark.parametrize("stack", ["home", "router"])
def test_every_row_passes(stack):
    passed(results_of(stack))


@pytest.mark.parametrize("stack, spokes", [("home", {"home", "laptop", "phone", "added"}), ("router", {"laptop"})])
def test_hub_killed_every_tunnel_back_by_the_boot_path_alone(stack, spokes):
    passed(rows(stack, "hub's WireGuard killed, boot path rerun"))
    back = rows(stack, "tunnel back after the hub's restart")
    assert {c.nodes for c in back} == spokes
    for row in back:
        seconds = float(re.search(r"answered again ([\d.]+) s after the kill", row.detail).group(1))
        assert 1 < seconds <= RECOVERY_LIMIT, row  # an outage was seen (the kill worked) and it ended in time
        assert "unchanged, nothing run on it" in row.detail
    passed(back)


@pytest.mark.parametrize("stack", ["home", "router"])
def test_laptop_roams_within_one_keepalive(stack):
    (row,) = rows(stack, "laptop roams: traffic resumes within one keepalive")
    assert row.nodes == "laptop"
    passed([row])


def test_ipv6_never_leaves_beside_the_full_tunnel():
    (full,) = rows("home", "IPv6 at the café: full tunnel does not leak")
    assert full.nodes == "phone"
    assert "counted 0 packet(s)" in full.detail and "web host saw nobody" in full.detail, full
    (split,) = rows("home", "IPv6 at the café: split tunnel")  # the control: the lab's IPv6 path does work
    assert split.nodes == "laptop" and "curl -6 [2001:db8::80] exit 0" in split.detail
    passed([full, split])
