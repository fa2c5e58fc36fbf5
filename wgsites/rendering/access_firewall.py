"""The access policy and the spokes' expiry as the hub's nftables rows (rendered by nftables.nft.j2).

Every packet between two spokes, or between a spoke and a LAN, crosses the hub (the VPN is a
star: a spoke's only peer is the hub), so the hub's forward chain is where the policy holds;
its input chain holds it for the hub itself (its SSH, its DNS). Its own outgoing traffic is not
filtered: replies to it pass statefully. The rows are data: the template writes the nftables.
"""

from __future__ import annotations

import calendar
import ipaddress
from dataclasses import dataclass

from wgsites.stack.access import INTERNET, PortSpec, declares_policy, networks_of, rules_of
from wgsites.stack.model import Vpn

FAMILIES = (("ip", 4), ("ip6", 6))


@dataclass(frozen=True)
class AcceptRow:
    """One allowed flow start: `ip saddr {..} ip daddr {..} tcp dport {..}` (DESTINATIONS negated for the internet)."""

    family: str  # ip or ip6
    sources: str  # an nftables set: { 10.10.11.10, 192.168.5.0/24 }
    destinations: str
    negate: bool = False  # the internet: anything but the VPN's networks
    match: str = ""  # tcp dport { 445 }, meta l4proto icmp, or "" for every protocol


@dataclass(frozen=True)
class ExpiryRow:
    """A spoke whose traffic ends at EPOCH (seconds, UTC: nft reads a quoted time in the host's own zone)."""

    name: str
    family: str
    addresses: str
    epoch: int
    shown: str  # the same moment for people, in UTC


@dataclass(frozen=True)
class FirewallPolicy:
    """What the hub's chains hold beyond today's rules: expiry drops, and with a policy its accepts and default deny."""

    expiries: tuple[ExpiryRow, ...]
    accepts: tuple[AcceptRow, ...]
    default_deny: bool


def nft_set(nets: list) -> str:
    """Networks as one nftables anonymous set, collapsed: an interval set refuses overlapping elements."""
    collapsed = ipaddress.collapse_addresses(nets)
    items = [str(n.network_address) if n.num_addresses == 1 else str(n) for n in collapsed]
    return "{ " + ", ".join(items) + " }"


def _matches(family: str, ports: tuple[PortSpec, ...]) -> list[str]:
    """The protocol part of a row, one per protocol the rule names; [""] when it names none (all traffic)."""
    if not ports:
        return [""]
    out = []
    for protocol in ("tcp", "udp"):
        numbers = [p.nft for p in ports if p.protocol == protocol]
        if numbers:
            out.append(f"{protocol} dport {{ {', '.join(numbers)} }}")
    if any(p.protocol == "icmp" for p in ports):
        out.append("meta l4proto icmp" if family == "ip" else "meta l4proto ipv6-icmp")
    return out


def routed(vpn: Vpn, version: int) -> list:
    """The VPN's own networks of one IP version: what `internet` is not."""
    return [net for net in vpn.own_networks if net.version == version]


def accept_rows(vpn: Vpn) -> tuple[AcceptRow, ...]:
    rows: list[AcceptRow] = []
    for rule in rules_of(vpn):
        sources = [net for name in rule.sources for net in networks_of(vpn, name, as_source=True)]
        for family, version in FAMILIES:
            mine = [n for n in sources if n.version == version]
            if not mine:
                continue
            named = [net for name in rule.destinations if name != INTERNET for net in networks_of(vpn, name)]
            targets = [(False, [n for n in named if n.version == version])]
            if INTERNET in rule.destinations:
                targets.append((True, routed(vpn, version)))
            for negate, nets in targets:
                if not nets:
                    continue
                for match in _matches(family, rule.ports):
                    rows.append(AcceptRow(family, nft_set(mine), nft_set(nets), negate, match))
    return tuple(dict.fromkeys(rows))


def expiry_rows(vpn: Vpn) -> tuple[ExpiryRow, ...]:
    rows = []
    for spoke in vpn.spokes:
        if spoke.expires is None:
            continue
        nets = networks_of(vpn, spoke.name)
        for family, version in FAMILIES:
            mine = [n for n in nets if n.version == version]
            if mine:
                epoch = calendar.timegm(spoke.expires.utctimetuple())
                shown = f"{spoke.expires:%Y-%m-%d %H:%M} UTC"
                rows.append(ExpiryRow(spoke.name, family, nft_set(mine), epoch, shown))
    return tuple(rows)


def enforces_policy(vpn: Vpn, name: str) -> bool:
    """Whether NAME's firewall holds the policy: the hub (the only node every flow crosses), when one is declared."""
    return name == vpn.hub.name and declares_policy(vpn)


def firewall_policy(vpn: Vpn, name: str) -> FirewallPolicy | None:
    """NAME's share of the policy; None where it enforces none (enforces_policy)."""
    if not enforces_policy(vpn, name):
        return None
    return FirewallPolicy(expiry_rows(vpn), accept_rows(vpn), vpn.access is not None)
