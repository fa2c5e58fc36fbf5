"""A stack file -> a checked VPN: everything `wgsites check` does before anything is rendered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wgsites.rendering.limits import rendered_size_errors

from .config_keys import stack_config_errors
from .errors import ConfigError
from .model import Vpn
from .names import STACK_RE
from .parse import CONFIG_KEY, parse_vpn
from .region import hub_region
from .yaml_file import StackFileError, read_stack_document

AUTO_DEPLOY = "wgsites:autoDeploy"


@dataclass(frozen=True)
class StackFile:
    vpn: Vpn
    stack: str
    region: str | None  # aws:region (else AWS_REGION / AWS_DEFAULT_REGION, as for any AWS tool); aws hubs only
    auto_deploy: bool = False  # wgsites:autoDeploy: CI runs `pulumi up` for this stack on a push to main


def load_stack_file(path: str | Path) -> Vpn:
    return read_stack(path).vpn


def read_stack(path: str | Path) -> StackFile:
    """Read `Pulumi.<stack>.yaml` as the Pulumi CLI does (yaml_file.py), parse its `wgsites:vpn` object
    and check that every rendered file fits where it goes (rendering/limits.py)."""
    path = Path(path)
    stack = stack_name(path)
    try:
        document = read_stack_document(path)
    except StackFileError as exc:
        raise ConfigError(exc.messages) from None
    config = (document or {}).get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping) or CONFIG_KEY not in config:
        raise ConfigError([f"{path}: no `config: {CONFIG_KEY}:` object; describe the VPN under that key"])
    vpn = parse_vpn(config[CONFIG_KEY])
    region, region_errors = hub_region(vpn, config.get("aws:region"), path.name)
    errors = rendered_size_errors(vpn, stack, region) + stack_config_errors(config, vpn, stack)
    auto_deploy = _auto_deploy(config.get(AUTO_DEPLOY, False), errors)
    errors += region_errors
    if errors:
        raise ConfigError(errors)
    return StackFile(vpn, stack, region, auto_deploy)


def _auto_deploy(value: object, errors: list[str]) -> bool:
    """`wgsites:autoDeploy`: a bool, or the text Pulumi writes for one (`pulumi config set wgsites:autoDeploy true`)."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    errors.append(f"{AUTO_DEPLOY}: {value!r} is not true or false; write true (CI deploys this stack on a push to main) or false")
    return False


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
