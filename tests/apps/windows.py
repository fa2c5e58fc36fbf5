"""What the official WireGuard app for Windows accepts when it imports a config (see tests/apps/__init__.py)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

from .common import ip_literal

# Windows


_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def _windows_name_ok(name: str) -> bool:
    """conf/name.go TunnelNameIsValid: the file's base name becomes a Windows service name."""
    if name.split(".", 1)[0].upper() in _WINDOWS_RESERVED or name.startswith(".") or name.endswith("."):
        return False
    return re.fullmatch(r"[a-zA-Z0-9_=+.-]{1,32}", name) is not None


def _go_atoi(value: str) -> int | None:
    """strconv.Atoi: an optional sign and ASCII digits."""
    return int(value) if re.fullmatch(r"[+-]?[0-9]+", value) else None


def _go_key(value: str) -> bytes | None:
    """parseKeyBase64: base64.StdEncoding (padding required, unused bits not checked), 32 bytes."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _go_split(value: str) -> list[str] | None:
    """splitList: every piece trimmed; an empty one ("Two commas in a row") refuses the line."""
    pieces = [piece.strip() for piece in value.split(",")]
    return None if "" in pieces else pieces


def _go_addr(value: str) -> bool:
    """netip.ParseAddr: an IPv4 or IPv6 address; an IPv6 zone after '%' may hold anything, even a '/'."""
    address, percent, zone = value.partition("%")
    if percent:
        return bool(zone) and isinstance(ip_literal(address, zone=False), ipaddress.IPv6Address)
    return ip_literal(value) is not None


def _go_prefix(item: str) -> bool:
    """parseIPCidr: netip.ParsePrefix (no zone, prefix <= 32/128), else the whole item as netip.ParseAddr."""
    address, slash, bits = item.rpartition("/")
    if slash:
        ip = ip_literal(address, zone=False)
        if ip is not None and re.fullmatch(r"0|[1-9][0-9]*", bits) and int(bits) <= ip.max_prefixlen:
            return True
    return _go_addr(item)


def _go_endpoint(value: str) -> bool:
    """parseEndpoint: host and port split at the last ':'; a host with ':' must be [IPv6]."""
    host, colon, port = value.rpartition(":")
    if not colon or not host:
        return False
    number = _go_atoi(port)
    if number is None or not 0 <= number <= 65535:
        return False
    if host[0] == "[" or host[-1] == "]" or host.find(":") > 0:
        if not (len(host) > 3 and host[0] == "[" and host[-1] == "]" and host.find(":") > 0):
            return False
        end = host.rfind("%")
        inner = host[1 : end if end > 1 else -1]
        return isinstance(ip_literal(inner, zone=False), ipaddress.IPv6Address)
    return True


def windows(text: str, name: str | None = None) -> list[str]:
    """Why the Windows app refuses TEXT (conf.FromWgQuick); NAME is the tunnel (file) name."""
    if name is not None and not _windows_name_ok(name):
        return [f"tunnel name {name!r} is not valid (conf/name.go)"]
    state = None
    private_key = False
    peers: list[bool] = []  # per [Peer]: whether it has a non-zero public key
    for raw in text.split("\n"):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, has_value, value = line.partition("=")
        key = key.strip().lower()  # keys are case-insensitive
        if key in ("[interface]", "[peer]") and not has_value:
            state = key[1:-1]
            if state == "peer":
                peers.append(False)
            continue
        if state is None:
            return [f"line must occur in a section: {key!r}"]
        if not has_value:
            return [f"config key is missing an equals separator: {line!r}"]  # also an unknown [Section]
        if key in ("preup", "postup", "predown", "postdown"):
            value = raw.partition("=")[2]  # a hook keeps what follows '#'
        value = value.strip()
        if not value:
            return [f"key must have a value: {key!r}"]
        error = _windows_interface(key, value) if state == "interface" else _windows_peer(key, value)
        if error:
            return [error]
        if state == "interface" and key == "privatekey":
            private_key = True
        if state == "peer" and key == "publickey":
            peers[-1] = _go_key(value) != bytes(32)  # an all-zero key counts as none
    if not private_key:
        return ["an interface must have a private key"]
    if not all(peers):
        return ["all peers must have public keys"]
    return []


def _windows_interface(key: str, value: str) -> str | None:
    """The [Interface] keys of FromWgQuick; a repeated key adds to a list or replaces the value."""
    if key == "privatekey":
        return None if _go_key(value) else "[Interface] PrivateKey: invalid key"
    if key == "listenport":
        port = _go_atoi(value)
        return None if port is not None and 0 <= port <= 65535 else f"[Interface] ListenPort: invalid port {value!r}"
    if key == "mtu":
        mtu = _go_atoi(value)
        return None if mtu is not None and 576 <= mtu <= 65535 else f"[Interface] MTU: {value!r} is not 576-65535"
    if key == "address":
        items = _go_split(value)
        return None if items and all(_go_prefix(i) for i in items) else f"[Interface] Address: invalid {value!r}"
    if key == "dns":  # an IP is a server, anything else a search domain
        return None if _go_split(value) else "[Interface] DNS: two commas in a row"
    if key in ("preup", "postup", "predown", "postdown"):
        return None
    if key == "table":
        ok = value in ("off", "auto", "main") or (re.fullmatch(r"\+?[0-9]+", value) is not None and int(value) < 2**32)
        return None if ok else f"[Interface] Table: invalid {value!r}"
    return f"invalid key for [Interface] section: {key!r}"


def _windows_peer(key: str, value: str) -> str | None:
    """The [Peer] keys of FromWgQuick."""
    if key in ("publickey", "presharedkey"):
        return None if _go_key(value) else f"[Peer] {key}: invalid key"
    if key == "allowedips":
        items = _go_split(value)
        return None if items and all(_go_prefix(i) for i in items) else f"[Peer] AllowedIPs: invalid {value!r}"
    if key == "persistentkeepalive":
        keepalive = 0 if value == "off" else _go_atoi(value)
        ok = keepalive is not None and 0 <= keepalive <= 65535
        return None if ok else f"[Peer] PersistentKeepalive: invalid {value!r}"
    if key == "endpoint":
        return None if _go_endpoint(value) else f"[Peer] Endpoint: invalid {value!r}"
    return f"invalid key for [Peer] section: {key!r}"
