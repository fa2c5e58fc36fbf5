"""What the official WireGuard app for Android accepts when it imports a config (see tests/apps/__init__.py)."""

from __future__ import annotations

import ipaddress
import re

from .common import ip_literal, strict_base64_key

# Android


_ANDROID_LINE = re.compile(r"([A-Za-z0-9_]+)\s*=\s*([^\s#][^#]*)")  # Attribute.java LINE_PATTERN (Java \w is ASCII)
_ANDROID_HOSTNAME = re.compile(  # InetAddresses.java VALID_HOSTNAME: what DNS= takes as a search domain
    r"(?=.{1,255}$)[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?(?:\.[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?)*\.?"
)
_ANDROID_NAME = re.compile(r"[a-zA-Z0-9_=+.-]{1,15}")  # android/backend/Tunnel.java NAME_PATTERN
# java.net.URI's server authority, which InetEndpoint.parse builds from "wg://" + endpoint
_URI_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_URI_HOSTNAME = re.compile(rf"(?:{_URI_LABEL}\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?")


def _java_int(value: str) -> int | None:
    """Integer.parseInt: an optional sign, decimal digits, 32 bits."""
    if not re.fullmatch(r"[+-]?\d+", value):
        return None
    number = int(value)
    return number if -(2**31) <= number < 2**31 else None


def _java_split(value: str) -> list[str]:
    """Attribute.split: Pattern "\\s*,\\s*" split, which drops trailing empty strings (Java's split)."""
    parts = re.split(r"\s*,\s*", value)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def _android_network(item: str) -> bool:
    """InetNetwork.parse: address[/mask]; a mask above 32/128 is refused."""
    address, slash, mask = item.rpartition("/") if "/" in item else (item, "", "")
    ip = ip_literal(address)
    if ip is None:
        return False
    if slash:
        bits = _java_int(mask)
        if bits is None or bits > ip.max_prefixlen:
            return False
    return True


def _android_endpoint(value: str) -> bool:
    """InetEndpoint.parse: no /?#, then java.net.URI must see a host and a port in 0-65535."""
    if re.search(r"[/?#]", value):
        return False
    match = re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]*):([0-9]+)", value)
    if not match:
        return False  # URI has no port (getPort() is -1) or no server authority
    host, port = match.groups()
    if host.startswith("["):
        ok = isinstance(ip_literal(host[1:-1]), ipaddress.IPv6Address)
    else:
        ok = isinstance(ip_literal(host, zone=False), ipaddress.IPv4Address) or bool(_URI_HOSTNAME.fullmatch(host))
    return ok and int(port) <= 65535


def android(text: str, name: str | None = None) -> list[str]:
    """Why the Android app (com.wireguard.android) refuses TEXT; NAME is the tunnel name it is given."""
    errors: list[str] = []
    if name is not None and not _ANDROID_NAME.fullmatch(name):
        errors.append(f"tunnel name {name!r} is not 1-15 of a-zA-Z0-9_=+.- (Tunnel.java)")
    # Config.parse: lines as BufferedReader.readLine splits them; '#' starts a comment anywhere
    interface_lines: list[str] = []
    peers: list[list[str]] = []
    section = None
    seen_interface = False
    for raw in re.split(r"\r\n|\r|\n", text):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if line.lower() == "[interface]":  # equalsIgnoreCase
                section, seen_interface = "interface", True
            elif line.lower() == "[peer]":
                section = "peer"
                peers.append([])
            else:
                return errors + [f"unknown section {line!r} (Config.java)"]
        elif section == "interface":
            interface_lines.append(line)  # every [Interface] section is combined
        elif section == "peer":
            peers[-1].append(line)
        else:
            return errors + [f"line outside a section: {line!r} (Config.java)"]
    # Config.parse hands the peers to Peer.parse first, then the combined interface
    for lines in peers:
        errors += _android_peer(lines)
    if not seen_interface:
        return errors + ["no [Interface] section (Config.java)"]
    return errors + _android_interface(interface_lines)


def _android_attributes(lines: list[str], where: str) -> list[tuple[str, str]] | str:
    pairs = []
    for line in lines:
        match = _ANDROID_LINE.fullmatch(line)
        if not match:  # no '=', an empty value, or a key that is not \w+
            return f"{where}: syntax error in {line.split('=', 1)[0].strip()!r} (Attribute.java)"
        pairs.append((match.group(1).lower(), match.group(2)))  # keys are case-insensitive
    return pairs


def _android_interface(lines: list[str]) -> list[str]:
    """Interface.java parse and Builder: a key seen twice adds to a list, or the last one wins."""
    pairs = _android_attributes(lines, "[Interface]")
    if isinstance(pairs, str):
        return [pairs]
    private_key = False
    apps = {"includedapplications": False, "excludedapplications": False}
    for key, value in pairs:
        if key == "address":
            if not all(_android_network(item) for item in _java_split(value)):
                return ["[Interface] Address: not address[/prefix] (InetNetwork.java)"]
        elif key == "dns":
            # an IP is a server; else it must be a host name, which becomes a search domain
            for item in _java_split(value):
                if ip_literal(item) is None and not _ANDROID_HOSTNAME.fullmatch(item):
                    return [f"[Interface] DNS: {item!r} is neither an IP nor a host name (Interface.java)"]
        elif key in apps:
            apps[key] = True
        elif key == "listenport":
            port = _java_int(value)
            if port is None or not 0 <= port <= 65535:
                return [f"[Interface] ListenPort: {value!r} is not 0-65535 (Interface.java)"]
        elif key == "mtu":
            mtu = _java_int(value)
            if mtu is None or mtu < 0:
                return [f"[Interface] MTU: {value!r} is not a number >= 0 (Interface.java)"]
        elif key == "privatekey":
            if not strict_base64_key(value):
                return ["[Interface] PrivateKey: not a base64 key (crypto/Key.java)"]
            private_key = True
        else:
            return [f"[Interface] unknown attribute {key!r} (Interface.java)"]
    if not private_key:
        return ["[Interface] PrivateKey: missing (Interface.java Builder.build)"]
    if all(apps.values()):
        return ["[Interface] IncludedApplications and ExcludedApplications together (Interface.java)"]
    return []


def _android_peer(lines: list[str]) -> list[str]:
    """Peer.java parse and Builder."""
    pairs = _android_attributes(lines, "[Peer]")
    if isinstance(pairs, str):
        return [pairs]
    public_key = False
    for key, value in pairs:
        if key == "allowedips":
            if not all(_android_network(item) for item in _java_split(value)):
                return ["[Peer] AllowedIPs: not address[/prefix] (InetNetwork.java)"]
        elif key == "endpoint":
            if not _android_endpoint(value):
                return [f"[Peer] Endpoint: {value!r} is not host:port (InetEndpoint.java)"]
        elif key == "persistentkeepalive":
            keepalive = _java_int(value)
            if keepalive is None or not 0 <= keepalive <= 65535:
                return [f"[Peer] PersistentKeepalive: {value!r} is not 0-65535 (Peer.java)"]
        elif key in ("presharedkey", "publickey"):
            if not strict_base64_key(value):
                return [f"[Peer] {key}: not a base64 key (crypto/Key.java)"]
            public_key = public_key or key == "publickey"
        else:
            return [f"[Peer] unknown attribute {key!r} (Peer.java)"]
    return [] if public_key else ["[Peer] PublicKey: missing (Peer.java Builder.build)"]
