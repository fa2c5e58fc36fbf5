"""A stack file -> a checked VPN: everything `wgsites check` does before anything is rendered."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .config import CONFIG_KEY, ConfigError, parse_vpn
from .limits import rendered_size_errors
from .model import Vpn
from .names import STACK_RE
from .stackfile import StackFileError, read_stack_document


def load_stack_file(path: str | Path) -> Vpn:
    """Read `Pulumi.<stack>.yaml` as the Pulumi CLI does (stackfile.py), parse its `wgsites:vpn` object
    and check that every rendered file fits where it goes (limits.py)."""
    path = Path(path)
    try:
        document = read_stack_document(path)
    except StackFileError as exc:
        raise ConfigError(exc.messages) from None
    config = (document or {}).get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping) or CONFIG_KEY not in config:
        raise ConfigError([f"{path}: no `config: {CONFIG_KEY}:` object; describe the VPN under that key"])
    vpn = parse_vpn(config[CONFIG_KEY])
    region = config.get("aws:region")
    errors = rendered_size_errors(vpn, stack_name(path), region if isinstance(region, str) else None)
    if errors:
        raise ConfigError(errors)
    return vpn


def stack_name(path: str | Path) -> str:
    """'Pulumi.home.yaml' -> 'home'; ConfigError when the file name gives no valid Pulumi stack name."""
    name = Path(path).name
    parts = name.split(".")
    stack = parts[1] if len(parts) == 3 and parts[0] == "Pulumi" else Path(path).stem
    if not STACK_RE.fullmatch(stack):
        raise ConfigError(
            [
                f"{path}: the stack name {stack!r} (from the file name) is not a Pulumi stack name; "
                "name the file Pulumi.STACK.yaml with STACK of letters, digits, _ . -"
            ]
        )
    return stack
