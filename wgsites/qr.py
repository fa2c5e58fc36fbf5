"""QR codes of device configs, as the WireGuard apps scan them ("Add tunnel" -> "Scan from QR code").

The code holds the whole config, private key included: whatever is made here is as secret
as the config itself. No Pulumi here; the Pulumi layer and `render --out` both call it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno


@dataclass(frozen=True)
class QrCode:
    png: bytes  # a file to scan from a screen or print
    svg: str
    text: str  # terminal art (half blocks), for `pulumi stack output` or `cat`


def qr_code(config: str) -> QrCode:
    """CONFIG as one QR code (never a micro code: the apps' scanners read only full ones)."""
    qr = segno.make(config, micro=False)
    png = io.BytesIO()
    qr.save(png, kind="png", scale=4)  # segno's default quiet zone of 4 modules, which scanners need
    svg = io.BytesIO()
    qr.save(svg, kind="svg", scale=4)
    text = io.StringIO()
    qr.terminal(out=text, compact=True)
    return QrCode(png=png.getvalue(), svg=svg.getvalue().decode(), text=text.getvalue())
