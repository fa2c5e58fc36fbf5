"""What may appear inside one value of a file wgsites renders: no line break, no control character.

wg-quick runs every `PostUp =` line of a config as root, and the install script and
nftables files are read line by line too: a value that carries a line break (LF, CR,
NEL U+0085, U+2028, U+2029, VT, FF, ...) would add a line of its own. Format
characters (U+202E and friends) are refused too: they make a reviewed diff read
differently from what runs. The parser refuses such values with the key's path; the
renderer refuses them again, whatever their source (a host's answer, a future field).
"""

from __future__ import annotations

import unicodedata

# Cc: C0/C1 controls (TAB, LF, CR, NEL, ...); Cf: format (bidi overrides, zero width);
# Zl, Zp: U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def unsafe_character(text: str) -> str | None:
    """The first character of TEXT that may not stand inside a value, as `U+XXXX`; None if there is none."""
    if text.isascii() and text.isprintable():  # space to tilde: no control character, the common case at once
        return None
    for char in text:
        if unicodedata.category(char) in UNSAFE_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


def escaped_line(text: str, limit: int = 200) -> str:
    """TEXT from outside wgsites (a host's stderr) as one line that is safe to print: printable ASCII as
    it is, a backslash doubled, anything else escaped (\\x1b, \\u202e, \\n), cut at LIMIT characters."""
    shown = "".join(char if " " <= char <= "~" and char != "\\" else _escape(char) for char in text[:limit])
    return shown[:limit] + ("..." if len(shown) > limit or len(text) > limit else "")


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
