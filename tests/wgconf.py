"""Parse wg-quick configs into plain structures, so tests compare meaning, not text."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass
class Section:
    values: dict[str, list[str]] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        found = self.values.get(key.lower())
        return found[-1] if found else None

    def all(self, key: str) -> list[str]:
        return self.values.get(key.lower(), [])

    def networks(self, key: str = "AllowedIPs") -> set[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        items = [part.strip() for value in self.all(key) for part in value.split(",") if part.strip()]
        return {ipaddress.ip_network(item, strict=False) for item in items}


@dataclass
class WgConf:
    interface: Section
    peers: list[Section]

    def peer(self, public_key: str) -> Section:
        for peer in self.peers:
            if peer.get("PublicKey") == public_key:
                return peer
        raise KeyError(public_key)


def parse(text: str) -> WgConf:
    interface = Section()
    peers: list[Section] = []
    current: Section | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.lower() == "[interface]":
            current = interface
        elif line.lower() == "[peer]":
            current = Section()
            peers.append(current)
        else:
            key, _, value = line.partition("=")
            assert current is not None, f"line outside a section: {raw!r}"
            current.values.setdefault(key.strip().lower(), []).append(value.strip())
    return WgConf(interface, peers)
