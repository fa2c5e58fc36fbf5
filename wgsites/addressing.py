"""The address plan: who routes what, and every consistency check.

The plan is derived, never configured: AllowedIPs, interface prefixes, MTU
and keepalive all follow from the topology, so two nodes can never disagree
about the networks between them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .model import Hub, Spoke, Uplink, Vpn
from .validate import extra_checks, special_lans, special_network

ANY_V4 = ipaddress.IPv4Network("0.0.0.0/0")
ANY_V6 = ipaddress.IPv6Network("::/0")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# LAB-NOTES 11: link MTU by uplink type, WireGuard overhead by outer family.
LINK_MTU = {"ethernet": 1500, "pppoe": 1492, "dslite": 1460}
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
    managed: bool  # key made on the host (ssh) or delivered beside the config (aws)


def check_vpn(vpn: Vpn, path: str) -> list[str]:
    """Every cross-field rule; one message per problem, naming key, value and fix."""
    errors: list[str] = []
    hub, net = vpn.hub, vpn.network
    hub_path = f"{path}.hub"
    proxy = hub.proxy_arp
    all_lans = [(f"{hub_path}.lans[{i}]", lan) for i, lan in enumerate(hub.lans)]
    spoke_paths = _spoke_paths(vpn, path)
    for spoke in vpn.spokes:
        all_lans += [(f"{spoke_paths[spoke.name]}.lans[{i}]", lan) for i, lan in enumerate(spoke.lans)]

    if net.prefixlen > 31:  # every other check would only repeat this one
        return [f"{path}.network: '{net}' has no room for two nodes; use a /31 or larger network"]
    if special_network(net):  # likewise: every address and LAN would be "outside" or "overlapping" it
        return extra_checks(vpn, path)
    refused_lans = special_lans(vpn)
    all_lans = [(p, lan) for p, lan in all_lans if lan not in refused_lans]
    if hub.kind == "aws" and proxy:
        errors.append(f"{hub_path}.proxyArp: set on an aws hub; proxy ARP needs a LAN, so use kind: ssh on a LAN host")
    if hub.kind == "aws" and hub.lans:
        errors.append(f"{hub_path}.lans: {[str(n) for n in hub.lans]} on an aws hub; put LANs on the site that has them")
    if hub.kind == "aws" and hub.ssh:
        errors.append(f"{hub_path}.ssh: set on an aws hub; it has no SSH, remove ssh (use aws.adminCidrs to open 22)")

    # names and interfaces
    seen_names: dict[str, str] = {}
    for node_path, node in [(hub_path, hub), *((spoke_paths[s.name], s) for s in vpn.spokes)]:
        if node.name in seen_names:
            errors.append(
                f"{node_path}.name: '{node.name}' is already used by {seen_names[node.name]}; give each node its own name"
            )
        seen_names.setdefault(node.name, node_path)

    # addresses
    seen_addr: dict[ipaddress.IPv4Address, str] = {}
    for node_path, node in [(hub_path, hub), *((spoke_paths[s.name], s) for s in vpn.spokes)]:
        addr = node.address
        if addr not in net:
            errors.append(f"{node_path}.address: '{addr}' is outside the VPN network {net}; pick a free address in {net}")
        elif net.prefixlen < 31 and addr in (net.network_address, net.broadcast_address):
            errors.append(f"{node_path}.address: '{addr}' is the network or broadcast address of {net}; pick a host address")
        elif proxy and addr not in proxy.vpn_range:
            errors.append(
                f"{node_path}.address: '{addr}' is outside proxyArp.vpnRange {proxy.vpn_range}; "
                "pick an address inside the range reserved for the VPN"
            )
        if addr in seen_addr:
            errors.append(f"{node_path}.address: '{addr}' is already used by {seen_addr[addr]}; give each node its own address")
        seen_addr.setdefault(addr, node_path)

    # LANs: no overlap with each other or the VPN network (proxy ARP: the hub's LAN *is* the VPN network)
    for i, (lan_path, lan) in enumerate(all_lans):
        if lan.overlaps(net) and not (proxy and lan_path.startswith(hub_path) and lan == net):
            errors.append(
                f"{lan_path}: '{lan}' overlaps the VPN network {net}; sites are routed, not bridged, "
                "so pick a VPN network outside every LAN"
            )
        for other_path, other in all_lans[:i]:
            if lan.overlaps(other):
                errors.append(
                    f"{lan_path}: '{lan}' overlaps {other} at {other_path}; traffic between sites is not NATed, "
                    "so renumber one of the LANs"
                )

    if proxy:
        if hub.lans != (net,):
            errors.append(
                f"{hub_path}.lans: {[str(n) for n in hub.lans]} must be exactly [{net}] with proxyArp; "
                "the VPN addresses are carved out of that LAN"
            )
        for end in ("first", "last"):
            if getattr(proxy.vpn_range, end) not in net:
                errors.append(
                    f"{hub_path}.proxyArp.vpnRange: '{proxy.vpn_range}' is not inside the LAN {net}; "
                    "reserve a range of the LAN for VPN users"
                )
                break
        if proxy.dhcp_range and proxy.vpn_range.overlaps(proxy.dhcp_range):
            errors.append(
                f"{hub_path}.proxyArp.vpnRange: '{proxy.vpn_range}' overlaps the DHCP range {proxy.dhcp_range}; "
                "shrink the router's DHCP pool or move the VPN range so they are disjoint"
            )

    # spokes
    for spoke in vpn.spokes:
        sp = spoke_paths[spoke.name]
        if spoke.tunnel == "full" and not hub.masquerade:
            errors.append(
                f"{sp}.tunnel: 'full' needs the hub to masquerade; set hub.masquerade "
                "(the hub's egress interface, or true), or use tunnel: split"
            )
        if spoke.tunnel == "full" and spoke.lans:
            errors.append(f"{sp}.lans: a full-tunnel peer cannot route LANs; use tunnel: split")
        if spoke.endpoint and spoke.listen_port is None:
            errors.append(
                f"{sp}.endpoint: '{spoke.endpoint}' has no port and listenPort is not set; write host:port or set listenPort"
            )
    if proxy and hub.masquerade:
        errors.append(f"{hub_path}.masquerade: set with proxyArp; proxy-ARP users are on the LAN itself, so remove it")
    return errors + extra_checks(vpn, path)


def _spoke_paths(vpn: Vpn, path: str) -> dict[str, str]:
    paths: dict[str, str] = {}
    counters = {"site": 0, "peer": 0}
    for spoke in vpn.spokes:
        key = "sites" if spoke.kind == "site" else "peers"
        paths.setdefault(spoke.name, f"{path}.{key}[{counters[spoke.kind]}]")
        counters[spoke.kind] += 1
    return paths


def _tunnel_mtu(a: Uplink, b: Uplink) -> int:
    link = min(a.mtu or LINK_MTU[a.type], b.mtu or LINK_MTU[b.type])
    return max(MIN_MTU, link - OVERHEAD[a.ipv6 or b.ipv6])


def _with_port(endpoint: str, port: int) -> str:
    from .config import split_endpoint

    host, given = split_endpoint(endpoint)
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{given or port}"


def _routed_through_hub(vpn: Vpn, spoke: Spoke) -> tuple[Network, ...]:
    """What a split-tunnel spoke reaches through the hub: the VPN, the hub's LANs, other spokes' LANs."""
    nets: list[Network] = [vpn.network, *vpn.hub.lans]
    for other in vpn.spokes:
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
        return _with_port(endpoint, self.vpn.hub.listen_port) if endpoint else None

    def hub_plan(self) -> NodePlan:
        vpn, hub = self.vpn, self.vpn.hub
        point_to_point = vpn.network.prefixlen >= 30 and len(vpn.spokes) == 1
        entries = []
        for spoke in vpn.spokes:
            own = [vpn.network] if point_to_point else [ipaddress.IPv4Network(spoke.address)]
            entries.append(
                PeerEntry(
                    name=spoke.name,
                    allowed_ips=tuple(_collapse([*own, *spoke.lans])),
                    endpoint=_with_port(spoke.endpoint, spoke.listen_port) if spoke.endpoint else None,
                    keepalive=0,  # the spokes keep NAT mappings open; the hub only answers
                )
            )
        prefix = 32 if hub.proxy_arp else vpn.network.prefixlen
        mtus = [_tunnel_mtu(hub.uplink, s.uplink) for s in vpn.spokes] or [_tunnel_mtu(hub.uplink, hub.uplink)]
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
            managed=True,
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
            mtu=_tunnel_mtu(spoke.uplink, hub.uplink),
            peers=(entry,),
            full_tunnel=full,
            forwarding=bool(spoke.lans),
            proxy_arp=False,
            masquerade=False,
            managed=spoke.managed,
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
        f"ok: {hub.kind} hub {hub.name} ({hub.address}) on {vpn.network}, "
        f"{len(vpn.sites)} site(s), {len(vpn.peers)} peer(s), {lans} LAN(s)"
    )
