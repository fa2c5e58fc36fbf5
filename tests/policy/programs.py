"""The real program's resources, as the engine would hand them to the pack: type and plain inputs.

Each stack runs once under Pulumi's mocks (tests/mocks/wgmocks.py) and is
shared read-only; tests mutate deep copies.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wgmocks

ROOT_PACK = Path(__file__).resolve().parents[2] / "policy"
FILE_PEER_PATH = "/nonexistent/wgsites-policy-test/home0.conf"  # never written: commands do not run under mocks


@dataclass(frozen=True)
class Recorded:
    name: str
    type: str
    inputs: dict[str, Any]

    def copy(self) -> dict[str, Any]:
        return copy.deepcopy(self.inputs)


@dataclass(frozen=True)
class Program:
    stack: str
    listen_port: int
    resources: tuple[Recorded, ...]

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def named(self, suffix: str) -> Recorded:
        found = [r for r in self.resources if r.name.endswith(suffix)]
        assert len(found) == 1, f"{len(found)} resources named *{suffix}"
        return found[0]


def with_file_peer(stack: str) -> dict[str, Any]:
    """The stack's VPN with `file:` on its first peer, so the program registers the roaming peer's local command."""
    vpn = copy.deepcopy(wgmocks.stack_config(stack)["wgsites:vpn"])
    vpn["peers"][0]["file"] = FILE_PEER_PATH
    return vpn


@functools.cache
def program(stack: str, file_peer: bool = False) -> Program:
    run = wgmocks.run_stack(stack, vpn=with_file_peer(stack) if file_peer else None)
    resources = tuple(
        Recorded(r.name, r.typ, wgmocks.unwrap(dict(r.inputs))) for r in run.mocks.resources if not r.typ.startswith("wgsites:")
    )
    return Program(stack, wgmocks.model(run).hub.listen_port, resources)
