"""Rendered files that would not fit where they go, found at check time instead of at `pulumi up`.

Three limits bite as a stack grows. An aws hub's bundle may take at most MAX_BUNDLE_CHUNKS SSM
parameters (wgsites/rendering/ssm_format.py: what IAM lets the gateway's role read, and all its bootstrap
reads whatever a manifest says). Two limits bite as forward rules grow (each is one nftables line in the install
script): EC2 takes at most 16 KB of user data "in raw form, before it is
base64-encoded" (EC2 User Guide, instance user data), and Linux takes at most
MAX_ARG_STRLEN (32 pages, 131072 bytes with its NUL) for one argument, which
the install command is: sshd runs it as `sh -c '<command>'`. This module
renders, so it sits beside render.py and is called by load_stack_file and
components/settings.load(), never by stack/parse.py's parse_vpn (no import cycle).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from wgsites.stack.errors import ConfigError
from wgsites.stack.model import Vpn
from wgsites.stack.parse import CONFIG_KEY

from .bundle import gateway_parameters
from .delivery import DeliveryPlan
from .render import STAND_IN_KEY, install_command, render_user_data
from .ssm_format import CHUNK_CHARS, MAX_BUNDLE_CHUNKS

EC2_USER_DATA_BYTES = 16384
MAX_ARG_STRLEN = 131072  # includes the terminating NUL
LONGEST_REGION = "ap-southeast-99"  # stands in for aws:region when the stack file has none (names go into the user data)


def user_data_bytes(vpn: Vpn, stack: str, region: str | None) -> int:
    """The aws hub's user data: a static bootstrap, whose size only its names move (rules travel in the bundle)."""
    hub = vpn.hub
    parameters = gateway_parameters(stack, hub.interface, region or LONGEST_REGION)
    return len(render_user_data(hub, stack, parameters, STAND_IN_KEY).encode())


def install_argument_bytes(vpn: Vpn, stack: str, name: str) -> int:
    """The command sshd hands to `sh -c` as one argument, with its NUL."""
    node = vpn.node(name)
    user = node.ssh.user if node.ssh else "root"
    return len(install_command(vpn, name, stack, "install", user).encode()) + 1


def ssh_managed(vpn: Vpn) -> list[str]:
    """Nodes whose install command travels over SSH."""
    return [node.name for node in vpn.nodes if node.delivery == "ssh"]


def _most_rules_that_fit(vpn: Vpn, size: Callable[[Vpn], int], limit: int) -> int:
    """The longest prefix of forwardRules whose rendering stays within limit (a binary search: rendering is monotone)."""
    low, high = 0, len(vpn.forward_rules)
    while low < high:
        middle = (low + high + 1) // 2
        if size(dataclasses.replace(vpn, forward_rules=vpn.forward_rules[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _too_large(vpn: Vpn, what: str, measured: int, limit_text: str, size: Callable[[Vpn], int], limit: int, path: str) -> str:
    rules = len(vpn.forward_rules)
    if rules == 0:
        return f"{path}.hub: {what} is {measured} bytes, over {limit_text}; shorten the names and interfaces in this stack"
    fit = _most_rules_that_fit(vpn, size, limit)
    return f"{path}.forwardRules: {rules} rules make {what} {measured} bytes, over {limit_text}; keep at most {fit} rules"


def rendered_size_errors(vpn: Vpn, stack: str, region: str | None = None, path: str = CONFIG_KEY) -> list[str]:
    """One message per limit a rendered file passes, naming the key that grew it, the size and the fix."""
    errors: list[str] = []
    if vpn.hub.kind == "aws":
        measured = user_data_bytes(vpn, stack, region)
        if measured > EC2_USER_DATA_BYTES:
            errors.append(
                f"{path}.hub: the user data of the aws hub {vpn.hub.name} is {measured} bytes, over EC2's limit of "
                f"{EC2_USER_DATA_BYTES} bytes (before base64); shorten the stack's and the hub's names"
            )
        chunks = DeliveryPlan(vpn, stack).gateway.bundle_chunks
        if chunks > MAX_BUNDLE_CHUNKS:
            errors.append(
                f"{path}.peers: the bundle of the aws hub {vpn.hub.name} takes {chunks} SSM parameters of {CHUNK_CHARS} "
                f"characters, over the {MAX_BUNDLE_CHUNKS} its gateway reads (what IAM's 10,240-character limit on the "
                "role's policies lets it read); split the peers over two stacks, each with its own hub, or keep fewer "
                "forwardRules"
            )
    sizes = {name: install_argument_bytes(vpn, stack, name) for name in ssh_managed(vpn)}
    if sizes and max(sizes.values()) > MAX_ARG_STRLEN:
        name = max(sizes, key=sizes.__getitem__)

        def argument(v: Vpn) -> int:
            return install_argument_bytes(v, stack, name)

        limit = f"Linux's limit of {MAX_ARG_STRLEN} bytes for one argument (MAX_ARG_STRLEN)"
        what = f"the install command of {name}"
        errors.append(_too_large(vpn, what, sizes[name], limit, argument, MAX_ARG_STRLEN, path))
    return errors


def check_rendered_sizes(vpn: Vpn, stack: str, region: str | None = None) -> None:
    """rendered_size_errors as a ConfigError, for callers that stop at the first failing stage."""
    errors = rendered_size_errors(vpn, stack, region)
    if errors:
        raise ConfigError(errors)
