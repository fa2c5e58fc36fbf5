"""Example stacks rendered the way `wgsites render` does, for tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wgsites.cli import local_keys
from wgsites.model import Vpn
from wgsites.render import KeyRing, render_node
from wgsites.stack import load_stack_file

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("router", "internal", "sites", "travel", "home")
HUB_ENDPOINT = "203.0.113.10"  # stands in for an aws hub's Elastic IP


@dataclass
class Rendered:
    stack: str
    vpn: Vpn
    keys: KeyRing
    files: dict[str, dict[str, str]]  # node -> file name -> content

    def conf(self, node: str) -> str:
        return self.files[node][f"{self.vpn.node(node).interface}.conf"]


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def render_stack(stack: str, tmp: Path, vpn: Vpn | None = None) -> Rendered:
    vpn = vpn or load_stack_file(stack_file(stack))
    keys = local_keys(vpn, tmp)
    endpoint = HUB_ENDPOINT if vpn.hub.kind == "aws" else None
    files = {
        node.name: {f.name: f.content for f in render_node(vpn, node.name, stack, keys, hub_endpoint=endpoint)}
        for node in vpn.nodes
    }
    return Rendered(stack, vpn, keys, files)
