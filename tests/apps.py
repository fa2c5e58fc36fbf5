"""What each official WireGuard app accepts when it imports a config (a file or a QR code).

One function per app returns the reasons that app refuses TEXT; an empty list means it imports it.
Each follows its app's own parser, read from its source (cited per rule, no code copied):

- Android: github.com/WireGuard/wireguard-android (read at e7b3a3c1),
  tunnel/src/main/java/com/wireguard/config/{Config,Interface,Peer,Attribute,InetNetwork,InetEndpoint,InetAddresses}.java,
  tunnel/src/main/java/com/wireguard/crypto/Key.java, tunnel/.../android/backend/Tunnel.java (names)
- Apple (iOS, macOS): github.com/WireGuard/wireguard-apple (read at 2fec12a6),
  Sources/Shared/Model/TunnelConfiguration+WgQuickConfig.swift, Sources/Shared/Model/String+ArrayConversion.swift,
  Sources/WireGuardKit/{IPAddressRange,Endpoint,DNSServer}.swift, Sources/WireGuardKitC/key.c
- Windows: github.com/WireGuard/wireguard-windows (read at 5a7d225d), conf/parser.go, conf/name.go

The three differ on purpose here: keys, duplicates, sections, lists and number ranges each follow
their own app, so a config that only one app refuses is caught by that app's function alone.
Messages never repeat a key's value: they end up in test output.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import string

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
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


APPS = {"android": android, "apple": apple, "windows": windows}


def refusals(text: str, name: str | None = None) -> dict[str, list[str]]:
    """Every app's refusals of TEXT, only the apps that refuse it; NAME is the tunnel name where the app uses one."""
    found = {"android": android(text, name), "apple": apple(text), "windows": windows(text, name)}
    return {app: errors for app, errors in found.items() if errors}
