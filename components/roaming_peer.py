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


@dataclass(frozen=True)
class RoamingPeerArgs:
    """The config arrives secret (WireGuardVpn makes it so, once for all peers): a secret layer per peer
    here cost a 1000-peer program six thousand tasks, a seventh of its time."""

    config: pulumi.Output[str]  # secret; the peer's wg-quick config, exactly as the core renders it
    file: str | None = None  # the model's `file:`, e.g. ~/wireguard/home0.conf


class RoamingPeer(pulumi.ComponentResource):
    """Its attributes are annotated in __init__, not on the class: the SDK evaluates a resource class's
    annotations each time one of its instances resolves, a thousand times for a thousand peers."""

    def __init__(self, name: str, args: RoamingPeerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wgsites:roaming_peer:RoamingPeer", name, None, opts)
        self.config: pulumi.Output[str] = args.config
        self.file_command: local.Command | None = None
        if args.file:
            # the path was checked with the stack (wgsites.stack.validate.check_file_targets, as `wgsites check` does)
            self.file_command = local.Command(
                f"{name}-file",
                create=write_command(args.file),
                delete=remove_command(args.file),
                stdin=self.config,
                logging="none",
                add_previous_output_in_env=False,
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stdout", "stderr"]),
            )
        # nothing registered: the stack exports the config (`<peer>_config`); as this component's output too,
        # the state held every config twice, and the file backend writes the whole state after each step
        self.register_outputs({})
