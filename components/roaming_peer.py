"""A roaming peer (laptop, phone) or any spoke without `ssh`: nothing to push to, so deliver.

Its config carries its own private key (phone apps need it inline) unless the
user brought their own public key; then the config has no PrivateKey line and the
user adds it on the device. Either way the config is a secret stack output (`wgsites qr` makes its
QR code from it), and, with `file:`, the config is written to that local path (0600).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

import pulumi
from pulumi_command import local

from wgsites.rendering.render import RENDERED_MARK


def write_command(path: str) -> str:
    """Shell that writes stdin to PATH (0600), atomically, through a fresh temporary name that mktemp makes
    with O_EXCL (never a fixed name another user could plant a link at); `~` is expanded here, not by a shell.
    The folder is one nobody else can write (wgsites.stack.validate.check_file_targets), so nobody swaps the file between
    the steps."""
    folder = os.path.dirname(os.path.expanduser(path)) or "."
    target = os.path.join(folder, os.path.basename(path))
    template = os.path.join(folder, f".{os.path.basename(target)}.XXXXXXXXXX")
    q = shlex.quote
    return (
        f"umask 077 && mkdir -p {q(folder)} && tmp=$(mktemp {q(template)}) && trap 'rm -f \"$tmp\"' EXIT"
        f' && cat > "$tmp" && mv -f "$tmp" {q(target)}'
    )


def remove_command(path: str) -> str:
    """Shell that removes PATH only while it is still the config wgsites wrote (a file put there since stays)."""
    target = shlex.quote(os.path.expanduser(path))
    mark = shlex.quote(RENDERED_MARK)
    return f"if [ -f {target} ] && [ ! -L {target} ] && head -n 1 {target} | grep -qF {mark}; then rm -f {target}; fi"


# The type a device's component had until devices stopped being resources: its `file:` command's old parent
PEER_TYPE = "wgsites:roaming_peer:RoamingPeer"


@dataclass(frozen=True)
class RoamingPeer:
    """A device, not a resource: what it receives is its config, a secret stack output (`<peer>_config`),
    and with `file:` a local command that writes it. As a component of its own, each device cost the state
    a URN, times and the SDK's stack trace (1.5 kB), and the file backend rewrites the whole state after
    every step: at 1000 devices, 1000 steps more (bench/RESULTS.md)."""

    config: pulumi.Output[str]  # secret; the peer's wg-quick config, exactly as the core renders it
    file_command: local.Command | None  # `file:`: writes the config to that local path (0600)


def roaming_peer(
    prefix: str, name: str, config: pulumi.Output[str], file: str | None, aliases: tuple[str, ...], parent: pulumi.Resource
) -> RoamingPeer:
    """Device NAME (its earlier names ALIASES) of the VPN component PARENT (named PREFIX), CONFIG arriving secret
    (WireGuardVpn makes it so, once for all peers: a secret layer per peer cost a 1000-peer program six
    thousand tasks). With FILE (the model's `file:`, checked with the stack by
    wgsites.stack.validate.check_file_targets), the command that writes it keeps its URN's history: it was the
    child of the device's component (before this release, and under each earlier name)."""
    if not file:
        return RoamingPeer(config, None)
    old_parents = [(n, pulumi.create_urn(f"{prefix}-{n}", PEER_TYPE, parent=parent)) for n in (name, *aliases)]
    history = [pulumi.Alias(name=f"{prefix}-{n}-file", parent=urn) for n, urn in old_parents]
    history += [pulumi.Alias(name=f"{prefix}-{n}-file") for n in aliases]
    command = local.Command(
        f"{prefix}-{name}-file",
        create=write_command(file),
        delete=remove_command(file),
        stdin=config,
        logging="none",
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(parent=parent, aliases=history, additional_secret_outputs=["stdout", "stderr"]),
    )
    return RoamingPeer(config, command)
