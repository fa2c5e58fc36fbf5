"""What the pack needs from the stack it checks: the WireGuard listen port (`wgsites:vpn.listenPort`).

The engine sends the stack's config to a policy pack in `ConfigureStack`, but
pulumi-policy 1.21 keeps only the stack tags from that request, and the engine
sets no `PULUMI_CONFIG` for a pack it starts through the language host. So
`capture_stack_config()` wraps the analyzer's `ConfigureStack` to keep the
config too (a private class of pulumi-policy, pinned <2 in requirements-dev.txt);
older engines that do set `PULUMI_CONFIG` are read as well.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from wgsites_rules import DEFAULT_LISTEN_PORT

VPN_KEY = "wgsites:vpn"
_stack_config: dict[str, str] = {}


def capture_stack_config() -> None:
    """Keep `wgsites:vpn` from every ConfigureStack request (call before PolicyPack(...), which serves at once)."""
    from pulumi_policy import policy

    servicer = policy._PolicyAnalyzerServicer
    original = servicer.ConfigureStack
    if getattr(original, "wgsites_captures", False):
        return

    def configure_stack(self, request, context):
        _stack_config.clear()  # only the VPN object: the rest may hold decrypted secrets (keySeed)
        _stack_config.update({k: v for k, v in request.config.items() if k == VPN_KEY})
        return original(self, request, context)

    configure_stack.wgsites_captures = True
    servicer.ConfigureStack = configure_stack


def stack_config() -> Mapping[str, str]:
    """The stack's config as the engine sent it (object values are JSON text)."""
    if _stack_config:
        return _stack_config
    try:
        return json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    except json.JSONDecodeError:
        return {}


def listen_port_of(config: Mapping[str, Any]) -> int:
    """`wgsites:vpn.listenPort`, else wgsites' default; a malformed value falls back too (the program rejects it)."""
    try:
        port = int(vpn_object(config).get("listenPort", DEFAULT_LISTEN_PORT))
    except (TypeError, ValueError):
        return DEFAULT_LISTEN_PORT
    return port if 1 <= port <= 65535 else DEFAULT_LISTEN_PORT


def listen_port(policy_config: Mapping[str, Any] | None = None) -> int:
    """The policy's own `listenPort` (`--policy-pack-config`) wins; then the stack's; then the default."""
    if policy_config and policy_config.get("listenPort"):
        return int(policy_config["listenPort"])
    return listen_port_of(stack_config())


def vpn_object(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`wgsites:vpn` as an object ({} when absent or malformed: the program refuses that itself)."""
    raw = (stack_config() if config is None else config).get(VPN_KEY)
    try:
        vpn = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return {}
    return vpn if isinstance(vpn, dict) else {}
