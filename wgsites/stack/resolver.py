"""The hub's resolver for the VPN: what it answers and which devices point at it.

The hub runs a dnsmasq of its own (not the host's resolver) bound to its VPN addresses only. It answers
`<node>.<domain>` for every node (A and AAAA for its tunnel addresses), `<host>.<domain>` for each LAN host
the stack names by a single address (`hosts`; a named network gets none), reverse lookups for the VPN
networks, and forwards every other name. The templates that turn this into dnsmasq's files are
dnsmasq.conf.j2 and dnsmasq-hosts.j2 (wgsites/render.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from .model import Spoke, Vpn

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def serves_dns(vpn: Vpn) -> bool:
    """Whether the hub runs the VPN's resolver (`hub.dns`, on unless set to false)."""
    return vpn.hub.dns is not None


def peer_dns(vpn: Vpn, spoke: Spoke) -> tuple[str, ...]:
    """The `DNS =` entries of SPOKE's config: its own servers, else the hub's resolver for a roaming peer.

    A full-tunnel peer sends every lookup to the hub, through the tunnel. A split-tunnel peer gets the hub and
    the VPN's domain: wg-quick and the apps that know search domains ask the hub for names under it. A site
    gateway gets none: it is a router whose own resolver serves its LAN (its hosts may ask the hub directly).
    """
    if spoke.no_dns:
        return ()
    if spoke.dns:
        return spoke.dns
    if spoke.kind != "peer" or not serves_dns(vpn):
        return ()
    hub = str(vpn.hub.address)
    return (hub,) if spoke.tunnel == "full" else (hub, vpn.domain)


def listen_addresses(vpn: Vpn) -> tuple[str, ...]:
    """The hub's VPN addresses: the only ones its resolver answers on (never the uplink)."""
    six = vpn.address6_of(vpn.hub)
    return (str(vpn.hub.address), *((str(six),) if six else ()))


def fqdn(vpn: Vpn, name: str) -> str:
    return f"{name}.{vpn.domain}"


def addressed_hosts(vpn: Vpn) -> tuple[tuple[str, IPAddress], ...]:
    """The named hosts that are one address (a bare IP, a /32 or /128): each gets a DNS name, forward and reverse.
    A named network (a whole LAN) is a name for the access rules only: no one address answers for it."""
    return tuple((name, net.network_address) for name, net in vpn.hosts if net.prefixlen == net.max_prefixlen)


def shown(network: IPNetwork) -> str:
    """A named host's value as a user writes it: a single address bare (192.168.1.20), a network with its prefix."""
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


def records(vpn: Vpn) -> tuple[tuple[str, str], ...]:
    """(address, full name) for every node's tunnel addresses and every named LAN host: a hosts file's lines,
    from which dnsmasq answers forward and reverse lookups alike."""
    lines: list[tuple[str, str]] = []
    for node in vpn.nodes:
        lines.append((str(node.address), fqdn(vpn, node.name)))
        if (six := vpn.address6_of(node)) is not None:
            lines.append((str(six), fqdn(vpn, node.name)))
    lines += [(str(address), fqdn(vpn, name)) for name, address in addressed_hosts(vpn)]
    return tuple(lines)


def reverse_zones(vpn: Vpn) -> tuple[str, ...]:
    """The reverse-lookup zones of the VPN networks, answered by the hub alone (never forwarded: a private
    network's reverse names mean nothing to the internet). A prefix off an octet (IPv4) or nibble (IPv6)
    boundary is covered by the zones of its subnets at the next boundary, so no address outside it is claimed."""
    networks: list[IPNetwork] = [vpn.network, *((vpn.network6,) if vpn.network6 else ())]
    return tuple(zone for network in networks for zone in _zones(network))


def _zones(network: IPNetwork) -> list[str]:
    step = 8 if network.version == 4 else 4
    boundary = -(-network.prefixlen // step) * step  # rounded up to the next label
    labels = boundary // step
    zones = []
    for subnet in network.subnets(new_prefix=boundary) if boundary > network.prefixlen else (network,):
        pointer = subnet.network_address.reverse_pointer.split(".")
        kept = pointer[len(pointer) - 2 - labels :]  # the label per octet or nibble, then in-addr/ip6 and arpa
        zones.append(".".join(kept))
    return zones


def config_names(vpn: Vpn, allowed_ips: Mapping[str, Sequence[IPNetwork]]) -> tuple[tuple[str, str], ...]:
    """The records the hub's config must spell out as `# name` lines: the hub's own, the named hosts, and a spoke's
    only where its [Peer] does not show its address (its AllowedIPs, ALLOWED_IPS here, start with its /32 and hold
    its /128: the install script names it from there). Spelling out every peer would grow a 4500-peer bundle by a
    third."""
    shown = set()
    for spoke in vpn.spokes:
        entries = allowed_ips.get(spoke.name, ())
        six = vpn.address6_of(spoke)
        if (
            entries
            and entries[0] == ipaddress.ip_network(spoke.address)
            and (six is None or ipaddress.ip_network(six) in entries)
        ):
            shown.add(fqdn(vpn, spoke.name))
    return tuple(record for record in records(vpn) if record[1] not in shown)
