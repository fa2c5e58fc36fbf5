"""What the official WireGuard app for Apple (iOS, macOS) accepts when it imports a config (see tests/apps/__init__.py)."""

from __future__ import annotations

import re
import string

from .common import ip_literal, strict_base64_key

# Apple (iOS and macOS)


_APPLE_INTERFACE_KEYS = {"privatekey", "listenport", "address", "dns", "mtu"}
_APPLE_PEER_KEYS = {"publickey", "presharedkey", "allowedips", "endpoint", "persistentkeepalive"}
_APPLE_LISTS = {"address", "allowedips", "dns"}  # the only keys that may repeat; their values are joined
_APPLE_NEWLINES = "\n\r\x0b\x0c\x85\u2028\u2029"  # Character.isNewline
# Foundation's CharacterSet.urlHostAllowed, which Endpoint(from:) requires of the host
_URL_HOST_ALLOWED = set(string.ascii_letters + string.digits + "!$&'()*+,-.:;=[]_~")


def _swift_uint16(value: str) -> int | None:
    """UInt16(String): an optional sign and ASCII digits, 0-65535."""
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        return None
    number = int(value)
    return number if 0 <= number <= 65535 else None


def _apple_split(value: str) -> list[str]:
    """String+ArrayConversion.swift splitToArray: empty pieces are dropped, the others trimmed."""
    return [piece.strip() for piece in value.split(",") if piece != ""]


def _apple_range(item: str) -> bool:
    """IPAddressRange(from:): address[/prefix]; a prefix above 32/128 is lowered to it, not refused."""
    address, slash, prefix = item.rpartition("/") if "/" in item else (item, "", "")
    if ip_literal(address) is None:
        return False
    return not slash or (re.fullmatch(r"\+?[0-9]+", prefix) is not None and int(prefix) <= 255)  # UInt8


def _apple_endpoint(value: str) -> bool:
    """Endpoint(from:): [host]:port or host:port split at the first ':', port a UInt16."""
    if value.startswith("["):
        end = value.find("]", 1)
        if end < 0 or value[end + 1 : end + 2] != ":":
            return False
        host, port = value[1:end], value[end + 2 :]
    else:
        host, colon, port = value.partition(":")
        if not colon:
            return False
    return _swift_uint16(port) is not None and set(host) <= _URL_HOST_ALLOWED


def apple(text: str) -> list[str]:
    """Why the iOS/macOS app refuses TEXT (TunnelConfiguration(fromWgQuickConfig:))."""
    lines = [line for line in re.split(f"\r\n|[{_APPLE_NEWLINES}]", text) if line]  # split omits empty lines
    state = None
    attributes: dict[str, str] = {}
    interfaces = 0
    peer_keys: list[str] = []
    for index, raw in enumerate(lines):
        line = raw.split("#", 1)[0].strip()
        lowered = line.lower()
        if line:
            if "=" in line:
                key_with_case, _, value = line.partition("=")
                key = key_with_case.strip().lower()
                if key in attributes and key not in _APPLE_LISTS:
                    return [f"{key_with_case.strip()!r} given twice (multipleEntriesForKey)"]
                attributes[key] = f"{attributes[key]},{value.strip()}" if key in attributes else value.strip()
                # outside any section a key is not checked: the next header drops it
                if state == "interface" and key not in _APPLE_INTERFACE_KEYS:
                    return [f"[Interface] unrecognized key {key_with_case.strip()!r}"]
                if state == "peer" and key not in _APPLE_PEER_KEYS:
                    return [f"[Peer] unrecognized key {key_with_case.strip()!r}"]
            elif lowered not in ("[interface]", "[peer]"):
                return [f"invalid line {line!r} (no '=' and not [Interface] or [Peer])"]
        # a header or the last line ends the section before it
        if index == len(lines) - 1 or lowered in ("[interface]", "[peer]"):
            if state == "interface":
                errors = _apple_interface(attributes)
                if errors:
                    return errors
                interfaces += 1
                if interfaces > 1:
                    return ["more than one [Interface] section (multipleInterfaces)"]
            elif state == "peer":
                errors = _apple_peer(attributes)
                if errors:
                    return errors
                peer_keys.append(attributes["publickey"])
        if lowered in ("[interface]", "[peer]"):
            state = lowered[1:-1]
            attributes = {}
    if len(set(peer_keys)) != len(peer_keys):
        return ["two peers with the same public key (multiplePeersWithSamePublicKey)"]
    return [] if interfaces else ["no [Interface] section (noInterface)"]


def _apple_interface(attributes: dict[str, str]) -> list[str]:
    """collate(interfaceAttributes:)."""
    if "privatekey" not in attributes:
        return ["[Interface] PrivateKey: missing (interfaceHasNoPrivateKey)"]
    if not strict_base64_key(attributes["privatekey"]):
        return ["[Interface] PrivateKey: not a base64 key (interfaceHasInvalidPrivateKey)"]
    if "listenport" in attributes and _swift_uint16(attributes["listenport"]) is None:
        return [f"[Interface] ListenPort: {attributes['listenport']!r} is not 0-65535"]
    if not all(_apple_range(item) for item in _apple_split(attributes.get("address", ""))):
        return ["[Interface] Address: not address[/prefix] (interfaceHasInvalidAddress)"]
    # DNS: an IP is a server, anything else a search domain; never refused
    if "mtu" in attributes and _swift_uint16(attributes["mtu"]) is None:
        return [f"[Interface] MTU: {attributes['mtu']!r} is not 0-65535"]
    return []


def _apple_peer(attributes: dict[str, str]) -> list[str]:
    """collate(peerAttributes:)."""
    if "publickey" not in attributes:
        return ["[Peer] PublicKey: missing (peerHasNoPublicKey)"]
    for key in ("publickey", "presharedkey"):
        if key in attributes and not strict_base64_key(attributes[key]):
            return [f"[Peer] {key}: not a base64 key"]
    if not all(_apple_range(item) for item in _apple_split(attributes.get("allowedips", ""))):
        return ["[Peer] AllowedIPs: not address[/prefix] (peerHasInvalidAllowedIP)"]
    if "endpoint" in attributes and not _apple_endpoint(attributes["endpoint"]):
        return [f"[Peer] Endpoint: {attributes['endpoint']!r} is not host:port (peerHasInvalidEndpoint)"]
    if "persistentkeepalive" in attributes and _swift_uint16(attributes["persistentkeepalive"]) is None:
        return [f"[Peer] PersistentKeepalive: {attributes['persistentkeepalive']!r} is not 0-65535"]
    return []
