"""Value rules more than one official WireGuard app shares (each use names the app whose source it follows)."""

from __future__ import annotations

import base64
import binascii
import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# value rules shared by more than one app (each use says which app's source it follows)


def strict_base64_key(value: str) -> bool:
    """44 characters ending in '=', 32 bytes, unused low bits zero (Android crypto/Key.java fromBase64,
    Apple WireGuardKitC/key.c key_from_base64: both refuse a key whose last character carries extra bits)."""
    if len(value) != 44 or value[-1] != "=":
        return False
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and base64.b64encode(raw).decode() == value


def ip_literal(value: str, zone: bool = True) -> IPAddress | None:
    """A numeric IPv4 (dotted quad, no leading zeros) or IPv6 address, as the platforms' numeric parsers take
    them (Android 10 and later: android.net.InetAddresses; older Androids also take 010.0.0.1)."""
    if not zone and "%" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None
