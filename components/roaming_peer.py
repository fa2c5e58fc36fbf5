"""A roaming peer (laptop, phone) or any spoke without `ssh`: nothing to push to, so deliver.

Its config carries its own private key (phone apps need it inline) unless the
user brought their own public key; then the config has no PrivateKey line and the
user adds it on the device. Either way the config and its QR code are secret
outputs, and, with `file:`, the config is written to that local path (0600).
"""

from __future__ import annotations

import io
import os
import shlex
from dataclasses import dataclass

import pulumi
import segno
from pulumi_command import local


@dataclass(frozen=True)
class QrCode:
    svg: str
    text: str


def qr_code(config: str) -> QrCode:
    """The QR code WireGuard apps scan ("Add tunnel" -> "Scan from QR code")."""
    qr = segno.make(config, micro=False)
    svg = io.BytesIO()
    qr.save(svg, kind="svg", scale=4)
    text = io.StringIO()
    qr.terminal(out=text, compact=True)
    return QrCode(svg=svg.getvalue().decode(), text=text.getvalue())


def write_command(path: str) -> str:
    """Shell that writes stdin to PATH (0600), atomically; `~` is expanded here, not by a shell."""
    target = os.path.expanduser(path)
    folder = os.path.dirname(target) or "."
    tmp = f"{target}.wgsites-new"
    q = shlex.quote
    return f"umask 077 && mkdir -p {q(folder)} && cat > {q(tmp)} && chmod 600 {q(tmp)} && mv -f {q(tmp)} {q(target)}"


@dataclass(frozen=True)
class RoamingPeerArgs:
    config: pulumi.Input[str]  # the peer's wg-quick config, exactly as the core renders it
    file: str | None = None  # the model's `file:`, e.g. ~/wireguard/home0.conf


class RoamingPeer(pulumi.ComponentResource):
    config: pulumi.Output[str]
    qr_svg: pulumi.Output[str]
    qr_text: pulumi.Output[str]
    file_command: local.Command | None

    def __init__(self, name: str, args: RoamingPeerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wgsites:roaming_peer:RoamingPeer", name, None, opts)
        self.config = pulumi.Output.secret(args.config)
        qr = self.config.apply(qr_code)
        self.qr_svg = pulumi.Output.secret(qr.apply(lambda q: q.svg))
        self.qr_text = pulumi.Output.secret(qr.apply(lambda q: q.text))
        self.file_command = None
        if args.file:
            target = os.path.expanduser(args.file)
            self.file_command = local.Command(
                f"{name}-file",
                create=write_command(args.file),
                delete=f"rm -f {shlex.quote(target)}",
                stdin=self.config,
                logging="none",
                add_previous_output_in_env=False,
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stdout", "stderr"]),
            )
        self.register_outputs({"config": self.config, "qr_svg": self.qr_svg, "qr_text": self.qr_text})
