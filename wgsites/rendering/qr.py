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
    """One QR symbol; each form is made only when asked for (the Pulumi layer never needs the PNG)."""

    symbol: segno.QRCode

    def png(self) -> bytes:
        """A file to scan from a screen or print (segno's quiet zone of 4 modules, which scanners need)."""
        out = io.BytesIO()
        self.symbol.save(out, kind="png", scale=4)
        return out.getvalue()

    def svg(self) -> str:
        out = io.BytesIO()
        self.symbol.save(out, kind="svg", scale=4)
        return out.getvalue().decode()

    def text(self) -> str:
        """Terminal art (half blocks), for `pulumi stack output` or `cat`."""
        out = io.StringIO()
        self.symbol.terminal(out=out, compact=True)
        return out.getvalue()


def qr_code(config: str) -> QrCode:
    """CONFIG as one QR code (never a micro code: the apps' scanners read only full ones)."""
    return QrCode(segno.make(config, micro=False))
