"""Example stacks rendered the way `wgsites render` does, for tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey

from wgsites.cli import local_keys
from wgsites.model import Vpn
from wgsites.render import KeyRing, render_node
from wgsites.stack import read_stack

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("router", "internal", "sites", "travel", "home")
HUB_ENDPOINT = "203.0.113.10"  # stands in for an aws hub's Elastic IP
REGION = "eu-central-1"
BUNDLE_KEY = SigningKey(hashlib.sha256(b"wgsites test bundle signing key").digest())  # signs an aws hub's bundle


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
    """STACK's example file rendered as `wgsites render` does (VPN instead of its wgsites:vpn, if given)."""
    region = REGION  # the examples' own aws:region
    if vpn is None:
        example = read_stack(stack_file(stack))
        vpn, region = example.vpn, example.region or REGION
    keys = local_keys(vpn, tmp)
    endpoint = HUB_ENDPOINT if vpn.hub.kind == "aws" else None
    files = {
        node.name: {f.name: f.content for f in render_node(vpn, node.name, stack, keys, endpoint, region, BUNDLE_KEY)}
        for node in vpn.nodes
    }
    return Rendered(stack, vpn, keys, files)
