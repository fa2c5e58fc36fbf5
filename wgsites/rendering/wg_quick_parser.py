"""A wg-quick config as wg-quick reads it (wg-quick(8), wg(8)): a user's own files for `import`, and the
config installed on a host, read back by the drift check. Every mistake is a ConfigError naming the file
and the line; a private key is read only to know its public key, and kept nowhere.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wgsites.stack.endpoints import split_endpoint
from wgsites.stack.errors import ConfigError
from wgsites.stack.keys import is_valid_key, public_key_of
from wgsites.stack.names import INTERFACE_RE, NAME_RE

# what wg-quick reads in each section (wg-quick(8), wg(8)); import carries some over, notes or refuses others
KNOWN_KEYS = {
    "interface": (
        "Address",
        "DNS",
        "MTU",
        "Table",
        "PreUp",
        "PostUp",
        "PreDown",
        "PostDown",
        "SaveConfig",
        "PrivateKey",
        "ListenPort",
        "FwMark",
    ),
    "peer": ("PublicKey", "PresharedKey", "AllowedIPs", "Endpoint", "PersistentKeepalive"),
}


@dataclass(frozen=True)
class WgPeer:
    public_key: str
    allowed_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    endpoint: str | None
    name: str | None  # from a `# name` comment in or just above the section
    preshared: bool = False  # it has a PresharedKey line (the key itself is not kept)


@dataclass(frozen=True)
class WgConfig:
    path: Path
    interface: str  # wg-quick's: the file name without .conf
    addresses: tuple[ipaddress.IPv4Interface, ...]
    listen_port: int | None
    public_key: str | None  # of an inline PrivateKey (the private key itself is not kept)
    dns: tuple[str, ...]
    mtu: int | None
    hooks: tuple[str, ...]  # `PostUp = ...` lines, as written
    peers: tuple[WgPeer, ...]


def _name(comment: str) -> str | None:
    words = re.findall(r"[a-z0-9]+", comment.lower())
    name = "-".join(words)[:32].strip("-")
    return name if name and NAME_RE.fullmatch(name) else None


def read_wg_config(path: str | Path) -> WgConfig:
    """PATH as wg-quick reads it; ConfigError naming the file and line for anything import cannot use."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read it ({exc}); give a wg-quick config such as /etc/wireguard/wg0.conf"]) from None
    return parse_wg_config(text, path)


def parse_wg_config(text: str, path: Path) -> WgConfig:
    """TEXT, the config at PATH (wg-quick names the interface after the file)."""
    errors: list[str] = []
    interface: dict[str, list[str]] = {}
    peers: list[dict[str, Any]] = []
    section, comment = None, None
    for number, raw in enumerate(text.splitlines(), 1):
        code, _, note = raw.partition("#")
        line = code.strip()
        if not line:
            if note.strip() and section == "peer" and peers[-1]["name"] is None and "publickey" not in peers[-1]:
                peers[-1]["name"] = _name(note)  # [Peer], then `# laptop`: the guide's way
            elif note.strip():
                comment = note.strip()  # `# laptop`, then [Peer]
            continue
        if line.startswith("["):
            section = line.lower().strip("[]")
            if section == "peer":
                peers.append({"name": _name(comment) if comment else None})
            elif section != "interface":
                errors.append(f"{path} line {number}: unknown section {line!r}; a wg-quick config has [Interface] and [Peer]")
            comment = None
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not eq or section not in ("interface", "peer"):
            errors.append(f"{path} line {number}: {line!r} is not a key = value line of a section")
        elif key not in {k.lower() for k in KNOWN_KEYS[section]}:
            errors.append(
                f"{path} line {number}: {line!r}: {key!r} is no key of [{section.title()}] that wg-quick reads; "
                f"use one of {', '.join(KNOWN_KEYS[section])}, or remove the line"
            )
        elif section == "interface":
            interface.setdefault(key, []).append(value)
        else:
            peers[-1].setdefault(key, []).append(value)
    stem = path.name.removesuffix(".conf")
    if not INTERFACE_RE.fullmatch(stem):
        errors.append(f"{path}: {stem!r} is not an interface name (wg-quick names the interface after the file)")
    addresses = []
    for value in ",".join(interface.get("address", [])).split(","):
        try:
            address = ipaddress.ip_interface(value.strip()) if value.strip() else None
        except ValueError:
            errors.append(f"{path}: Address {value.strip()!r} is not an address with a prefix, like 10.10.11.1/24")
            continue
        if isinstance(address, ipaddress.IPv4Interface):
            addresses.append(address)
    if not addresses:
        errors.append(f"{path}: no IPv4 Address in [Interface]; import needs each node's VPN address")
    private = (interface.get("privatekey") or [None])[-1]
    if private is not None and not is_valid_key(private):
        errors.append(f"{path}: [Interface] PrivateKey is not a WireGuard key")
        private = None
    result_peers = []
    for i, peer in enumerate(peers):
        key = (peer.get("publickey") or [""])[-1]
        if not is_valid_key(key):
            errors.append(f"{path}: [Peer] {i + 1} has no valid PublicKey")
            continue
        nets = []
        for value in filter(None, (v.strip() for v in ",".join(peer.get("allowedips", [])).split(","))):
            try:
                nets.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                errors.append(f"{path}: [Peer] {i + 1} AllowedIPs {value!r} is not a network")
        endpoint = (peer.get("endpoint") or [None])[-1]
        if endpoint is not None and split_endpoint(endpoint) is None:
            errors.append(f"{path}: [Peer] {i + 1} Endpoint {endpoint!r} is not host:port")
            endpoint = None
        result_peers.append(WgPeer(key, tuple(nets), endpoint, peer["name"], "presharedkey" in peer))
    port = _whole_number(path, "ListenPort", interface, 1, 65535, "51820", errors)
    mtu = _whole_number(path, "MTU", interface, 68, 65535, "1420", errors)
    if errors:
        raise ConfigError(errors)
    hooks = tuple(f"{k} = {v}" for k in ("preup", "postup", "predown", "postdown") for v in interface.get(k, []))
    return WgConfig(
        path=path,
        interface=stem,
        addresses=tuple(addresses),
        listen_port=port,
        public_key=public_key_of(private) if private else None,
        dns=tuple(d.strip() for d in ",".join(interface.get("dns", [])).split(",") if d.strip()),
        mtu=mtu,
        hooks=hooks,
        peers=tuple(result_peers),
    )


def _whole_number(
    path: Path, key: str, interface: dict[str, list[str]], lo: int, hi: int, example: str, errors: list[str]
) -> int | None:
    """[Interface] KEY as a number from LO to HI written in ASCII digits (int() also takes '²' and '٥'), or None."""
    value = (interface.get(key.lower()) or [None])[-1]
    if value is None:
        return None
    if re.fullmatch(r"[0-9]{1,5}", value) and lo <= int(value) <= hi:
        return int(value)
    errors.append(f"{path}: [Interface] {key} {value!r} is not a whole number from {lo} to {hi}; write it like {example}")
    return None
