"""The address plan: who routes what, and every consistency check.

The plan is derived, never configured: AllowedIPs, interface prefixes, MTU
and keepalive all follow from the topology, so two nodes can never disagree
about the networks between them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .endpoints import split_endpoint, with_port
from .model import Hub, Spoke, Uplink, Vpn

ANY_V4 = ipaddress.IPv4Network("0.0.0.0/0")
ANY_V6 = ipaddress.IPv6Network("::/0")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# docs/lab-notes.md 11: link MTU by uplink type and outer family, WireGuard overhead by outer family.
# DS-Lite carries IPv4 in a softwire over the IPv6 line (40 bytes of IPv6 header: 1460); IPv6 goes native.
LINK_MTU = {"ethernet": 1500, "pppoe": 1492, "dslite": 1500}
SOFTWIRE = {"dslite": 40}  # what the uplink's IPv4 path loses to a tunnel inside the link
OVERHEAD = {False: 60, True: 80}
MIN_MTU = 1280


@dataclass(frozen=True)
class PeerEntry:
    """One [Peer] section as a node sees the other side."""

    name: str  # the other node
    allowed_ips: tuple[Network, ...]
    endpoint: str | None  # host:port, only where the other side is reachable
    keepalive: int  # 0 = off


@dataclass(frozen=True)
class NodePlan:
    """What one node's [Interface] and [Peer] sections must say."""

    name: str
    interface: str
    address: ipaddress.IPv4Interface
    listen_port: int | None
    mtu: int
    peers: tuple[PeerEntry, ...]
    full_tunnel: bool
    forwarding: bool
    proxy_arp: bool
    masquerade: str | bool
    address6: ipaddress.IPv6Interface | None = None  # its address in network6 (dual stack)

    @property
    def addresses(self) -> tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, ...]:
        """`Address =`: IPv4, then IPv6 when the VPN is dual-stack."""
        return (self.address,) if self.address6 is None else (self.address, self.address6)


def _address6(vpn: Vpn, node: Hub | Spoke) -> ipaddress.IPv6Interface | None:
    address = vpn.address6_of(node)
    return None if address is None else ipaddress.IPv6Interface(f"{address}/{vpn.network6.prefixlen}")


def _own6(vpn: Vpn, node: Hub | Spoke) -> list[Network]:
    """The /128 the hub routes to a spoke (nothing without network6)."""
    address = vpn.address6_of(node)
    return [] if address is None else [ipaddress.IPv6Network(address)]


def path_mtu(uplink: Uplink, ipv6: bool) -> int:
    """The MTU UPLINK gives outer packets of one family: the link's (its type's usual one, or `mtu`),
    less a softwire's header for IPv4 over DS-Lite; IPv6 never enters the softwire."""
    link = uplink.mtu or LINK_MTU[uplink.type]
    return link if ipv6 else link - SOFTWIRE.get(uplink.type, 0)


def _tunnel_mtu(a: Uplink, b: Uplink, ipv6: bool = False) -> int:
    """IPV6: the outer packets travel over IPv6 whatever the uplinks say (an endpoint is an IPv6 address).
    Each end's MTU is taken for the outer family the packets use, from that family's own path."""
    over6 = a.ipv6 or b.ipv6 or ipv6
    return max(MIN_MTU, min(path_mtu(a, over6), path_mtu(b, over6)) - OVERHEAD[over6])


def dialled_over_ipv6(node: Hub | Spoke) -> bool:
    """NODE's endpoint is an IPv6 address (`[2001:db8::1]:51820`): whoever dials it sends IPv6 outer packets."""
    return bool(node.endpoint) and ":" in split_endpoint(node.endpoint)[0]


def _routed_through_hub(vpn: Vpn, spoke: Spoke) -> tuple[Network, ...]:
    """What a split-tunnel spoke reaches through the hub: the VPN, the hub's LANs, other spokes' LANs."""
    nets: list[Network] = [vpn.network, *([vpn.network6] if vpn.network6 else []), *vpn.hub.lans]
    for other in vpn.spokes_with_lans:  # not every spoke: that made a thousand peers' plans quadratic
        if other.name != spoke.name:
            nets += other.lans
    return tuple(_collapse(nets))


def _collapse(nets: list[Network]) -> list[Network]:
    """Drop duplicates and networks inside another listed one; keep the user's networks as written
    (adjacent LANs stay two entries, as a reader of the config expects)."""
    kept: list[Network] = []
    for net in nets:
        if not any(net.version == other.version and net.subnet_of(other) for other in kept):
            kept = [k for k in kept if not (k.version == net.version and k.subnet_of(net))] + [net]
    return kept


@dataclass(frozen=True)
class AddressPlan:
    """Per-node plans for one VPN. Endpoints the config cannot know (an Elastic IP) are passed in."""

    vpn: Vpn
    hub_endpoint: str | None = None  # overrides hub.endpoint, e.g. the Elastic IP

    def hub_dial(self) -> str | None:
        endpoint = self.hub_endpoint or self.vpn.hub.endpoint
        return with_port(endpoint, self.vpn.hub.listen_port) if endpoint else None

    def hub_plan(self) -> NodePlan:
        vpn, hub = self.vpn, self.vpn.hub
        point_to_point = vpn.network.prefixlen >= 30 and len(vpn.spokes) == 1
        entries = []
        for spoke in vpn.spokes:
            own = [vpn.network] if point_to_point else [ipaddress.IPv4Network(int(spoke.address))]  # /32; int: no text parsed
            own += ([vpn.network6] if vpn.network6 else []) if point_to_point else _own6(vpn, spoke)
            entries.append(
                PeerEntry(
                    name=spoke.name,
                    allowed_ips=tuple(_collapse([*own, *spoke.lans])),
                    endpoint=with_port(spoke.endpoint, spoke.listen_port) if spoke.endpoint else None,
                    keepalive=0,  # the spokes keep NAT mappings open; the hub only answers
                )
            )
        prefix = 32 if hub.proxy_arp else vpn.network.prefixlen
        over6 = dialled_over_ipv6(hub)
        mtus = [_tunnel_mtu(hub.uplink, s.uplink, over6 or dialled_over_ipv6(s)) for s in vpn.spokes] or [
            _tunnel_mtu(hub.uplink, hub.uplink, over6)
        ]
        return NodePlan(
            name=hub.name,
            interface=hub.interface,
            address=ipaddress.IPv4Interface(f"{hub.address}/{prefix}"),
            listen_port=hub.listen_port,
            mtu=min(mtus),
            peers=tuple(entries),
            full_tunnel=False,
            forwarding=hub.forwarding,
            proxy_arp=hub.proxy_arp is not None,
            masquerade=hub.masquerade,
            address6=_address6(vpn, hub),
        )

    def spoke_plan(self, name: str) -> NodePlan:
        vpn, hub = self.vpn, self.vpn.hub
        spoke = vpn.node(name)
        assert isinstance(spoke, Spoke)
        full = spoke.tunnel == "full"
        allowed = (ANY_V4, ANY_V6) if full else _routed_through_hub(vpn, spoke)
        entry = PeerEntry(
            name=hub.name,
            allowed_ips=allowed,
            endpoint=self.hub_dial(),
            # behind NAT (no endpoint of its own) the spoke keeps the hub able to reach it
            keepalive=0 if spoke.endpoint else spoke.keepalive,
        )
        return NodePlan(
            name=spoke.name,
            interface=spoke.interface,
            address=ipaddress.IPv4Interface(f"{spoke.address}/{vpn.network.prefixlen}"),
            listen_port=spoke.listen_port,
            mtu=_tunnel_mtu(spoke.uplink, hub.uplink, dialled_over_ipv6(hub) or dialled_over_ipv6(spoke)),
            peers=(entry,),
            full_tunnel=full,
            forwarding=bool(spoke.lans),
            proxy_arp=False,
            masquerade=False,
            address6=_address6(vpn, spoke),
        )

    def plan(self, name: str) -> NodePlan:
        return self.hub_plan() if name == self.vpn.hub.name else self.spoke_plan(name)

    def plans(self) -> dict[str, NodePlan]:
        return {node.name: self.plan(node.name) for node in self.vpn.nodes}


def describe(vpn: Vpn) -> str:
    """The one-line summary `wgsites check` prints."""
    hub: Hub = vpn.hub
    lans = sum(len(n.lans) for n in vpn.nodes)
    return (
        f"ok: {hub.kind} hub {hub.name} ({hub.address}) on {vpn.network}{f' and {vpn.network6}' if vpn.network6 else ''}, "
        f"{len(vpn.sites)} site(s), {len(vpn.peers)} peer(s), {lans} LAN(s)"
    )
