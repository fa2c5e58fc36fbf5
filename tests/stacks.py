"""Example stacks rendered the way `wgsites render` does, for tests."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml
from nacl.signing import SigningKey

from wgsites.operations.cli import local_keys
from wgsites.rendering.delivery import DeliveryPlan
from wgsites.rendering.render import KeyRing
from wgsites.stack.check import read_stack
from wgsites.stack.model import Vpn
from wgsites.stack.parse import CONFIG_KEY, parse_vpn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"  # the example stacks; a user's own stack files sit in ROOT
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
    return EXAMPLES / f"Pulumi.{stack}.yaml"


def render_stack(stack: str, tmp: Path, vpn: Vpn | None = None) -> Rendered:
    """STACK's example file rendered as `wgsites render` does (VPN instead of its wgsites:vpn, if given)."""
    region = REGION  # the examples' own aws:region
    if vpn is None:
        example = read_stack(stack_file(stack))
        vpn, region = example.vpn, example.region or REGION
    keys = local_keys(vpn, tmp)
    endpoint = HUB_ENDPOINT if vpn.hub.kind == "aws" else None
    plan = DeliveryPlan(vpn, stack, region)
    files = {node.name: {f.name: f.content for f in plan.files(node.name, keys, endpoint, BUNDLE_KEY)} for node in vpn.nodes}
    return Rendered(stack, vpn, keys, files)


DUAL_STACK_SUBNET = "subnet-0123456789abcdef0"  # an aws hub with ipv6Egress names its dual-stack subnet


def dual_stack_raw(stack: str, egress: bool = True) -> dict:
    """STACK's wgsites:vpn with an IPv6 VPN network beside its IPv4 one (fd10:N::/64, N the stack's number);
    with EGRESS, a hub that masquerades has IPv6 to the internet too."""
    raw = copy.deepcopy(yaml.safe_load(stack_file(stack).read_text())["config"][CONFIG_KEY])
    raw["network6"] = f"fd10:{STACKS.index(stack) + 1}::/64"
    for node in [raw["hub"], *raw.get("sites", []), *raw.get("peers", [])]:
        if node["address"] == raw["network"].split("/")[0]:  # a /31's first node: network6 + 0 is no host
            node["address6"] = f"fd10:{STACKS.index(stack) + 1}::100"
    if egress and raw["hub"].get("masquerade"):
        raw["hub"]["ipv6Egress"] = True
        if raw["hub"]["kind"] == "aws":
            raw["hub"]["aws"] = {**raw["hub"].get("aws", {}), "subnetId": DUAL_STACK_SUBNET}
    return raw


def dual_stack_vpn(stack: str, egress: bool = True) -> Vpn:
    return parse_vpn(dual_stack_raw(stack, egress))
