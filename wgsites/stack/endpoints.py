"""Endpoints (`host`, `host:port`, `[v6]:port`) and IP addresses as text: parsed, checked, rebuilt.

A value that reaches a rendered file is rebuilt from its parsed parts, never copied as typed.
"""

from __future__ import annotations

import ipaddress
import re

HOST_RE = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?")


def ip_text(value: str) -> str | None:
    """VALUE as an IP address in canonical text, or None. Zone ids (`fe80::1%eth0`) are refused:
    ipaddress keeps any text after `%`, line breaks included, and no config needs one."""
    if "%" in value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def split_endpoint(value: str) -> tuple[str, int | None] | None:
    """'host', 'host:port', '[v6]:port' -> (host, port), an IP host in canonical text; None when malformed."""
    value = value.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]+))?", value)
    if match:
        host, port = match.group(1), match.group(2)
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, None
    if port is not None and not (re.fullmatch(r"[0-9]{1,5}", port) and 1 <= int(port) <= 65535):
        return None
    address = ip_text(host)
    if address is not None:
        host = address
    elif "%" in host or not HOST_RE.fullmatch(host) or host.rstrip(".").rsplit(".", 1)[-1].isdigit():
        # an all-digit last label is no DNS name (RFC 3696 2): 10.0.0.1-10.0.0.9, 300.1.1.1
        return None
    return host, int(port) if port is not None else None


def join_endpoint(host: str, port: int | None) -> str:
    """The inverse of split_endpoint: IPv6 hosts in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def with_port(endpoint: str, port: int) -> str:
    """ENDPOINT as `host:port`, PORT where it names none."""
    host, given = split_endpoint(endpoint)
    return join_endpoint(host, given or port)
