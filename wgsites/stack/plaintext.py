"""What may appear inside one value of a file wgsites renders: no line break, no control character.

wg-quick runs every `PostUp =` line of a config as root, and the install script and
nftables files are read line by line too: a value that carries a line break (LF, CR,
NEL U+0085, U+2028, U+2029, VT, FF, ...) would add a line of its own. Format
characters (U+202E and friends) are refused too: they make a reviewed diff read
differently from what runs. The parser refuses such values with the key's path; the
renderer refuses them again, whatever their source (a host's answer, a future field).
Text that is shown rather than rendered (a host's stderr in `status` or a Pulumi warning) is
shown with the same characters escaped (escaped).
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


# and Cs: a lone surrogate (a file name's undecodable byte) cannot even be printed
ESCAPED_CATEGORIES = UNSAFE_CATEGORIES | {"Cs"}


def escaped(text: str | bytes) -> str:
    """TEXT as it may reach a terminal, a log or a comment: every control, format and line-separator
    character shown as an escape (ESC as `\\x1b`, U+202E as `\\u202e`), everything else as it is.

    Text a host sends back (stderr, an endpoint, a record) is never printed raw: a cursor move, an
    erase, a window title or a hyperlink (OSC 8) in it would act on the operator's terminal. Bytes
    that are not UTF-8 are shown as escapes too. Escaped text escapes to itself, so layers may apply it again.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="backslashreplace")
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape(char) if unicodedata.category(char) in ESCAPED_CATEGORIES else char for char in text)


def _escape(char: str) -> str:
    """As Python writes the character in a string: \\n, \\r, \\t, \\x1b, \\u202e."""
    return repr(char)[1:-1]
