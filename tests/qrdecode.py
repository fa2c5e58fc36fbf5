"""Read QR codes back with a real decoder, zbarimg (Debian's zbar-tools), byte for byte."""

from __future__ import annotations

import subprocess
from pathlib import Path

# -Sbinary: the symbol's bytes as they are (no charset guess, no newline added)
ZBARIMG = ["zbarimg", "--nodbus", "--raw", "-q", "-Sbinary"]

# segno's compact terminal art: one character is two modules, top and bottom; a block is a light module
_HALVES = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


def decode_image(path: Path) -> bytes | None:
    """The data of the one QR code in the image at PATH, or None when zbarimg finds none."""
    done = subprocess.run([*ZBARIMG, str(path)], capture_output=True, timeout=60)
    return done.stdout if done.returncode == 0 else None


def terminal_art_to_pbm(text: str, scale: int = 4) -> bytes:
    """The terminal art of `wgsites.rendering.qr` as a plain PBM bitmap (1 = dark), so zbarimg can read what a phone would."""
    rows: list[list[bool]] = []
    for line in text.splitlines():
        pairs = [_HALVES[char] for char in line]
        rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    body = []
    for row in rows:
        pixels = " ".join("0" if light else "1" for light in row for _ in range(scale))
        body += [pixels] * scale
    return f"P1\n{len(rows[0]) * scale} {len(rows) * scale}\n".encode() + "\n".join(body).encode() + b"\n"
