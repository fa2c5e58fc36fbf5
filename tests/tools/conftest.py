"""The host-tool tests' one real WireGuard interface (needs root: tests using it are marked `lab`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.netns import Lab, Node


@pytest.fixture(scope="module")
def wg_interface() -> Iterator[tuple[Node, str]]:
    """A real (userspace) WireGuard interface in a throwaway lab node (its own /run/wireguard), for `wg setconf`."""
    with Lab() as lab:
        node = lab.node("wgtools")
        node.run(["wireguard-go", "wg0"])
        yield node, "wg0"
