"""Fixtures for the Pulumi layer: each example stack's program run once under mocks, shared read-only."""

from __future__ import annotations

import pytest
import wgmocks

STACKS = ["home", "router", "internal", "sites", "travel"]
_RUNS: dict[str, wgmocks.Run] = {}


def example_run(stack: str) -> wgmocks.Run:
    if stack not in _RUNS:
        _RUNS[stack] = wgmocks.run_stack(stack)
    return _RUNS[stack]


@pytest.fixture(params=STACKS)
def run(request) -> wgmocks.Run:
    return example_run(request.param)


@pytest.fixture
def home() -> wgmocks.Run:
    return example_run("home")


@pytest.fixture
def router() -> wgmocks.Run:
    return example_run("router")
