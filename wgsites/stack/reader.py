"""Typed values out of the stack's nested dicts, each mistake recorded with its key path.

ConfigError (errors.py) carries every mistake at once, one line each: the key, the value, the fix.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .endpoints import join_endpoint, split_endpoint
from .keys import is_valid_key
from .model import AddressRange
from .names import INTERFACE_RE, NAME_RE
from .plaintext import unsafe_character

FOLDER_RE = re.compile(r"(/[A-Za-z0-9._-]{1,64}){1,16}/?")  # what a script may quote and a reader takes at a glance

T = TypeVar("T")


def unknown_key(where: str, key: str, known: list[str]) -> str:
    """The message for KEY (at WHERE), which nothing reads: a "did you mean" for a near miss (difflib), then KNOWN."""
    close = difflib.get_close_matches(key, known, n=1)
    guess = f" did you mean {close[0]}?" if close else ""
    return f"{where}: unknown key;{guess} use one of: {', '.join(known)}"


class Reader:
    """Reads typed values out of nested dicts, recording errors with their key path."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, value: Any, fix: str) -> None:
        self.errors.append(f"{path}: {show_value(value)} {fix}")

    def get(
        self,
        obj: Mapping[str, Any],
        path: str,
        key: str,
        convert: Callable[[str, Any], T],
        default: Any = ...,
    ) -> T | None:
        if key not in obj or obj[key] is None:
            if default is ...:
                self.errors.append(f"{path}.{key}: missing; {_REQUIRED_HINT.get(key, 'set it')}")
                return None
            return default
        return convert(f"{path}.{key}", obj[key])

    def unknown_keys(self, obj: Mapping[str, Any], path: str, known: set[str]) -> None:
        for key in obj:
            if key not in known:
                self.errors.append(unknown_key(f"{path}.{key}", str(key), sorted(known)))

    # converters: each returns the typed value or None after recording an error

    def mapping(self, path: str, value: Any) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.fail(path, value, "is not a mapping; write it as `key: value` lines")
        return None

    def integer(self, lo: int, hi: int) -> Callable[[str, Any], int | None]:
        def convert(path: str, value: Any) -> int | None:
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                self.fail(path, value, f"is not a whole number from {lo} to {hi}; use one in that range")
                return None
            return value

        return convert

    def boolean(self, path: str, value: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        self.fail(path, value, "is not true or false; write true or false")
        return None

    def choice(self, *options: str) -> Callable[[str, Any], str | None]:
        def convert(path: str, value: Any) -> str | None:
            if value in options:
                return value
            self.fail(path, value, f"is not one of {', '.join(options)}; use one of them")
            return None

        return convert

    def name(self, path: str, value: Any) -> str | None:
        if isinstance(value, str) and NAME_RE.fullmatch(value):
            return value
        self.fail(path, value, "is not a valid name; use 1-32 lowercase letters, digits and inner dashes")
        return None

    def interface(self, path: str, value: Any) -> str | None:
        if isinstance(value, str) and INTERFACE_RE.fullmatch(value):
            return value
        self.fail(
            path,
            value,
            "is not a valid interface name; use at most 15 letters, digits or _=+.- (Linux limit)",
        )
        return None

    def address(self, path: str, value: Any) -> ipaddress.IPv4Address | None:
        try:
            return ipaddress.IPv4Address(str(value).strip())
        except ValueError:
            self.fail(path, value, "is not an IPv4 address; write it like 10.10.11.1 (no prefix)")
            return None

    def network(self, path: str, value: Any) -> ipaddress.IPv4Network | None:
        try:
            return ipaddress.IPv4Network(str(value).strip())
        except ValueError as exc:
            if "host bits set" in str(exc):
                fixed = ipaddress.IPv4Network(str(value).strip(), strict=False)
                self.fail(path, value, f"has host bits set; write the network as {fixed}")
            else:
                self.fail(path, value, "is not an IPv4 network; write it like 10.10.10.0/24")
            return None

    def networks(self, path: str, value: Any) -> tuple[ipaddress.IPv4Network, ...] | None:
        if not isinstance(value, list):
            self.fail(path, value, "is not a list; write it as [10.10.10.0/24, ...]")
            return None
        nets = [self.network(f"{path}[{i}]", v) for i, v in enumerate(value)]
        return tuple(n for n in nets if n is not None)

    def strings(self, path: str, value: Any) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(path, value, "is not a list of strings; write it as [a, b]")
            return None
        return tuple(value)

    def endpoint(self, path: str, value: Any) -> str | None:
        parsed = split_endpoint(value) if isinstance(value, str) else None
        if parsed is not None:
            return join_endpoint(*parsed)  # rebuilt from its parts, never the raw text
        self.fail(path, value, "is not host or host:port; write it like vpn.example.net:51820 or 203.0.113.5")
        return None

    def folder(self, path: str, value: Any) -> str | None:
        """An absolute folder on a host, as the install script quotes it: plain characters, no `..`."""
        if isinstance(value, str) and FOLDER_RE.fullmatch(value) and ".." not in value.split("/"):
            return value.rstrip("/")
        self.fail(path, value, "is not an absolute folder; write it like /var/lib/prometheus/node-exporter")
        return None

    def public_key(self, path: str, value: Any) -> str | None:
        if isinstance(value, str) and is_valid_key(value):
            return value
        self.fail(path, value, "is not a WireGuard public key; paste the 44-character base64 output of `wg pubkey`")
        return None

    def address_range(self, path: str, value: Any) -> AddressRange | None:
        parts = str(value).split("-") if isinstance(value, str) else []
        try:
            first, last = (ipaddress.IPv4Address(p.strip()) for p in parts)
        except ValueError:
            first = last = None
        if first is None or last is None or first > last:
            self.fail(path, value, "is not a range; write it as FIRST-LAST, e.g. 10.10.10.10-10.10.10.49")
            return None
        return AddressRange(first, last)


_REQUIRED_HINT = {
    "network": "set the VPN network, e.g. network: 10.10.11.0/24",
    "hub": "describe the hub (kind: aws or ssh, name, address)",
    "name": "give it a name, e.g. name: laptop",
    "kind": "set kind: aws (a new cloud VM) or kind: ssh (a Linux host you have)",
    "address": "give it a free address in the VPN network",
    "host": "set the host name or address sshd listens on",
    "vpnRange": "set the addresses reserved for VPN users, e.g. 10.10.10.10-10.10.10.49",
    "protocol": "set protocol: tcp or udp",
    "port": "set the port number",
}


def show_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "{...}"
    return repr(value)


def unsafe_strings(value: Any, path: str) -> list[str]:
    """One message per string (value or key) under VALUE that holds a line break or control character.

    Checked before anything else: such a value could add a line (a root hook) to a rendered file.
    """
    if isinstance(value, str):
        code = unsafe_character(value)
        if code is None:
            return []
        return [f"{path}: {show_value(value)} contains {code}, a line break or control character; write it on one line"]
    if isinstance(value, Mapping):
        errors = []
        for key, item in value.items():
            code = unsafe_character(key) if isinstance(key, str) else None
            if code:
                errors.append(f"{path}: the key {key!r} contains {code}, a line break or control character; remove it")
            else:
                errors += unsafe_strings(item, f"{path}.{key}")
        return errors
    if isinstance(value, list):
        return [e for i, item in enumerate(value) for e in unsafe_strings(item, f"{path}[{i}]")]
    return []
