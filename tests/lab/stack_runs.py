"""One lab run per example stack, shared by every test that reads its rows (test_stacks.py, test_faults.py).

A run of the home stack takes about 100 s, nearly all of it waiting (the gateway's sync timer, a tunnel's
recovery after a kill); each test running its own was five runs of it. The tests of one stack are one
`xdist_group` (`on_its_own_worker`), so its run happens once, on one worker, and they read it in turn.
"""

from __future__ import annotations

import pytest

from lab.checks import Check, table
from lab.netns import Lab
from lab.run import run_stack
from tests.stacks import stack_file

WITH_FAULTS = ("home", "router")  # the fault scenarios (lab/faults.py) run on these: an aws hub and an SSH hub
_RUNS: dict[str, list[Check]] = {}


def on_its_own_worker(stack: str, *values: object) -> pytest.param:
    """A parameter of a test reading STACK's run, named for the stack (an id alike in every worker): every such
    test goes to the worker that runs it."""
    return pytest.param(stack, *values, id=stack, marks=pytest.mark.xdist_group(f"lab-run-{stack}"))


def results_of(stack: str) -> list[Check]:
    """STACK's rows, from its one lab run in this process (with the fault scenarios where WITH_FAULTS says)."""
    if stack not in _RUNS:
        with Lab() as lab:
            _RUNS[stack] = run_stack(lab, stack_file(stack), faults=stack in WITH_FAULTS)
        print(f"\n{stack}:\n{table(_RUNS[stack])}")
    return _RUNS[stack]


def rows(stack: str, name: str) -> list[Check]:
    found = [c for c in results_of(stack) if c.name == name]
    assert found, f"no {name!r} row in the {stack} lab:\n{table(results_of(stack))}"
    return found


def passed(found: list[Check]) -> None:
    failed = [c for c in found if not c.passed]
    assert not failed, "\n" + table(failed)
