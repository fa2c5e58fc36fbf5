"""Run only by test_parallel_groups.py (its name is not test_*): tests that share a module-scoped fixture."""

import os

import pytest


@pytest.fixture(scope="module")
def shared() -> dict[str, object]:
    """What the module's tests build up in order, as a lab shared by several tests does."""
    return {"worker": os.environ.get("PYTEST_XDIST_WORKER", "none"), "done": []}


@pytest.mark.parametrize("step", range(6))
def test_in_order_on_one_worker(shared, step):
    assert shared["done"] == list(range(step))
    assert os.environ.get("PYTEST_XDIST_WORKER", "none") == shared["worker"]
    shared["done"].append(step)


@pytest.mark.parametrize("alone", range(6))
def test_alone(alone):
    """Tests of no shared fixture: free to run on any worker."""
