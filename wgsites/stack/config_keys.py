"""The stack's `wgsites:` keys besides the VPN itself: read and checked here, once, for `wgsites check`
(and scripts/ci-stacks) on the stack file and for the program (components/settings.py) on Pulumi's config,
so both refuse the same mistakes with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigError
from .keys import SEED_MAX_BYTES, SEED_MIN_BYTES, seed_bytes
from .model import Hub, Spoke, Vpn
from .reader import unknown_key

KEY_SEED = "wgsites:keySeed"
NEW_SEED_COMMAND = 'pulumi config set --secret wgsites:keySeed "$(head -c 32 /dev/urandom | base64)"'
KEY_ROTATIONS = "wgsites:keyRotations"
PRESHARED_KEY_ROTATIONS = "wgsites:presharedKeyRotations"
KEY_PASSWORD = "wgsites:sshPrivateKeyPassword"
SET_KEY_PASSWORD = f"pulumi config set --secret {KEY_PASSWORD} (it asks for the passphrase)"
BOOLEANS = ("wgsites:driftCheck",)  # wgsites:autoDeploy is read by check.py for CI
# every `wgsites:` key something reads: the program, CI (autoDeploy); anything else is a typo Pulumi keeps quietly
KNOWN_KEYS = (
    "wgsites:vpn",
    KEY_SEED,
    KEY_ROTATIONS,
    PRESHARED_KEY_ROTATIONS,
    "wgsites:sshPrivateKey",
    "wgsites:sshPrivateKeyPath",
    KEY_PASSWORD,
    *BOOLEANS,
    "wgsites:autoDeploy",
)


def own_key_nodes(vpn: Vpn) -> list[str]:
    """Nodes whose key Pulumi makes: an aws hub and spokes with neither `ssh` nor `publicKey`."""
    return [node.name for node in vpn.nodes if node.key_source == "derived"]


def _rotations(
    key: str,
    raw: Any,
    vpn: Vpn,
    allowed: list[str],
    why_not: Callable[[Hub | Spoke | None], str],
    what: str,
    noun: str = "node",
) -> dict[str, int | str]:
    """A rotations map (KEY: NOUN -> a number or text to raise), every name in ALLOWED; WHY_NOT says why
    another node (None: no such node) cannot be rotated; WHAT is what raising one makes."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError([f"{key}: {raw!r} is not a mapping; write it as `{noun}-name: 1` lines"])
    errors = []
    for name, value in raw.items():
        if name not in allowed:
            why = why_not(next((n for n in vpn.nodes if n.name == name), None))
            errors.append(f"{key}.{name}: {why}; rotate only {', '.join(allowed) or f'no {noun} in this stack'}")
        elif isinstance(value, bool) or not isinstance(value, int | str):
            errors.append(f"{key}.{name}: {value!r} is not a number or a string; raise it (1, 2, ...) to make {what}")
    if errors:
        raise ConfigError(errors)
    return dict(raw)


def key_rotations(raw: Any, vpn: Vpn) -> dict[str, int | str]:
    def why_not(node: Hub | Spoke | None) -> str:
        if node is None:
            return "is not a node of wgsites:vpn"
        if isinstance(node, Spoke) and node.public_key:
            return "brings its own publicKey; replace that key instead"
        return "makes its own key on the host, which wgsites does not rotate"

    return _rotations(KEY_ROTATIONS, raw, vpn, own_key_nodes(vpn), why_not, "a new key")


def preshared_key_rotations(raw: Any, vpn: Vpn) -> dict[str, int | str]:
    """`wgsites:presharedKeyRotations`, read as keyRotations is: spoke -> a number (or text) to raise."""

    def why_not(node: Hub | Spoke | None) -> str:
        if node is None:
            return "is not a node of wgsites:vpn"
        if node is vpn.hub:
            return "is the hub; a preshared key belongs to a hub-spoke pair, so name the spoke"
        return "has no preshared key (set presharedKey: true on it, or wgsites:vpn.presharedKey: true)"

    allowed = [s.name for s in vpn.preshared_spokes]
    return _rotations(PRESHARED_KEY_ROTATIONS, raw, vpn, allowed, why_not, "a new preshared key", "spoke")


def seed_users(vpn: Vpn) -> str:
    """What the seed makes in VPN, for messages: '' when nothing (then no seed is needed)."""
    parts = []
    if nodes := own_key_nodes(vpn):
        parts.append(f"the keys of {', '.join(nodes)}")
    if spokes := vpn.preshared_spokes:
        parts.append(f"the preshared keys of {', '.join(s.name for s in spokes)}")
    return " and ".join(parts)


def check_key_seed(value: str | None, vpn: Vpn, stack: str, secret: bool = True) -> list[str]:
    """Problems with the seed the keys of own_key_nodes(vpn) and the preshared keys are derived from;
    never shows the value."""
    made = seed_users(vpn)
    if not made:
        return []
    if value is None:
        return [f"{KEY_SEED}: missing; {made} are derived from it; set it once for this stack: {NEW_SEED_COMMAND}"]
    try:
        seed_bytes(value)
    except ValueError as exc:
        return [
            f"{KEY_SEED}: the value {exc}; it must be base64 of {SEED_MIN_BYTES} to {SEED_MAX_BYTES} random bytes; "
            f"set a new one: {NEW_SEED_COMMAND}"
        ]
    if not secret:
        return [
            f"{KEY_SEED}: stored in plain text in Pulumi.{stack}.yaml, where it gives away {made}; "
            f"set a new one as a secret: {NEW_SEED_COMMAND}"
        ]
    return []


def _secret_text(value: Any) -> tuple[str | None, bool]:
    """A stack file's value as (text, whether it is a secret): `{secure: ...}` is one Pulumi encrypted, unreadable here."""
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        return None, True
    return (value if isinstance(value, str) else None), False


def stack_config_errors(config: Mapping[str, Any], vpn: Vpn, stack: str) -> list[str]:
    """What the program would refuse in a stack file's `config:` besides wgsites:vpn, in its words: the rotation
    maps, a seed or a passphrase in plain text, a boolean that is none, and a `wgsites:` key nothing reads.
    A missing seed is not refused: a stack file is checked before its secrets are set (`import` says so)."""
    errors = []
    for key in config:
        if isinstance(key, str) and key.startswith("wgsites:") and key not in KNOWN_KEYS:
            errors.append(unknown_key(key, key, list(KNOWN_KEYS)))
    for read in (key_rotations, preshared_key_rotations):
        name = KEY_ROTATIONS if read is key_rotations else PRESHARED_KEY_ROTATIONS
        value = config.get(name)
        try:
            read(None if isinstance(value, Mapping) and "secure" in value else value, vpn)
        except ConfigError as exc:
            errors += exc.messages
    seed, secret = _secret_text(config.get(KEY_SEED))
    if seed is not None:
        errors += check_key_seed(seed, vpn, stack, secret=secret)
    if KEY_PASSWORD in config and not _secret_text(config[KEY_PASSWORD])[1]:
        errors.append(f"{KEY_PASSWORD}: stored in plain text in the stack file; set it as a secret: {SET_KEY_PASSWORD}")
    for key in BOOLEANS:
        value = config.get(key, False)
        if not isinstance(value, bool) and value not in ("true", "false"):
            errors.append(f"{key}: {value!r} is not true or false; write true or false")
    return errors
