"""The rules on where addresses and networks lie (check_vpn runs them): routable, inside the VPN network,
one node each, no LAN over another, proxy ARP's range inside its LAN, the hub's endpoint outside every
LAN routed into the tunnel, and the dual stack's network6 and address6.
"""

from __future__ import annotations

import ipaddress

from .endpoints import split_endpoint
from .key_paths import node_paths
from .model import Vpn

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Networks no VPN, LAN or SSH source can be; first match wins, so "everything" comes first.
SPECIAL_V4 = [
    (ipaddress.IPv4Network("0.0.0.0/8"), "the unspecified 'this network' block 0.0.0.0/8"),
    (ipaddress.IPv4Network("127.0.0.0/8"), "loopback 127.0.0.0/8"),
    (ipaddress.IPv4Network("169.254.0.0/16"), "link-local 169.254.0.0/16"),
    (ipaddress.IPv4Network("224.0.0.0/4"), "multicast 224.0.0.0/4"),
    (ipaddress.IPv4Network("240.0.0.0/4"), "the reserved block 240.0.0.0/4 (with the broadcast address)"),
]

SPECIAL_V6 = [
    (ipaddress.IPv6Network("::/128"), "the unspecified address ::"),
    (ipaddress.IPv6Network("::1/128"), "loopback ::1"),
    (ipaddress.IPv6Network("fe80::/10"), "link-local fe80::/10"),
    (ipaddress.IPv6Network("ff00::/8"), "multicast ff00::/8"),
]

ULA = ipaddress.IPv6Network("fc00::/7")
MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
NETWORK6_PREFIXES = (48, 120)  # a site's usual allocation down to a block that still numbers a /24's nodes


def special_network(net: Network) -> str | None:
    """What a network overlaps that no routed network may: None for an ordinary one."""
    if net.prefixlen == 0:
        return "every address"
    for special, what in SPECIAL_V4 if net.version == 4 else SPECIAL_V6:
        if net.overlaps(special):
            return what
    return None


def check_special_networks(vpn: Vpn, path: str) -> list[str]:
    """The VPN network and LANs are routed through the tunnel: a loopback or multicast one can never work,
    and 0.0.0.0/0 as a LAN would take every route from the nodes that reach it."""
    errors = []
    what = special_network(vpn.network)
    if what:
        errors.append(
            f"{path}.network: '{vpn.network}' covers {what}, which is never routed through a tunnel; "
            "use a private network such as 10.10.11.0/24"
        )
    for node_path, node in node_paths(vpn, path):
        for i, lan in enumerate(node.lans):
            what = special_network(lan)
            if what:
                errors.append(
                    f"{node_path}.lans[{i}]: '{lan}' covers {what}, which no LAN can be; "
                    "list the LAN's own network, such as 192.168.1.0/24"
                )
    return errors


def special_lans(vpn: Vpn) -> set[ipaddress.IPv4Network]:
    """LANs check_special_networks refuses, so the overlap checks do not repeat the same mistake."""
    return {lan for node in vpn.nodes for lan in node.lans if special_network(lan)}


def check_admin_cidrs(vpn: Vpn, path: str) -> list[str]:
    """SSH to the aws hub is closed unless listed: 0.0.0.0/0 would open it to the internet, and a
    loopback or multicast source never arrives at a security group."""
    errors = []
    for i, cidr in enumerate(vpn.hub.aws.admin_cidrs):
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError:
            continue  # parse.py reported it
        what = special_network(net)
        if what == "every address":
            errors.append(
                f"{path}.hub.aws.adminCidrs[{i}]: '{cidr}' opens SSH to every address on the internet; "
                "list the networks you administer from, e.g. 198.51.100.7/32"
            )
        elif what:
            errors.append(
                f"{path}.hub.aws.adminCidrs[{i}]: '{cidr}' covers {what}, which no SSH client comes from; "
                "list the networks you administer from, e.g. 198.51.100.7/32"
            )
    return errors


def check_addresses(vpn: Vpn, path: str) -> list[str]:
    """Inside the VPN network, a host address, inside the proxy-ARP range, one node each."""
    net, proxy = vpn.network, vpn.hub.proxy_arp
    errors, seen = [], {}
    for node_path, node in node_paths(vpn, path):
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
        if addr in seen:
            errors.append(f"{node_path}.address: '{addr}' is already used by {seen[addr]}; give each node its own address")
        seen.setdefault(addr, node_path)
    return errors


def check_lans(vpn: Vpn, path: str) -> list[str]:
    """No LAN overlaps another or the VPN network (with proxy ARP the hub's LAN *is* the VPN network).

    A LAN that check_special_networks refuses is left out here: one mistake, one message.
    """
    net, hub_path = vpn.network, f"{path}.hub"
    refused = special_lans(vpn)
    lans = [
        (f"{node_path}.lans[{i}]", lan)
        for node_path, node in node_paths(vpn, path)
        for i, lan in enumerate(node.lans)
        if lan not in refused
    ]
    errors = []
    for i, (lan_path, lan) in enumerate(lans):
        if lan.overlaps(net) and not (vpn.hub.proxy_arp and lan_path.startswith(hub_path) and lan == net):
            errors.append(
                f"{lan_path}: '{lan}' overlaps the VPN network {net}; sites are routed, not bridged, "
                "so pick a VPN network outside every LAN"
            )
        for other_path, other in lans[:i]:
            if lan.overlaps(other):
                errors.append(
                    f"{lan_path}: '{lan}' overlaps {other} at {other_path}; traffic between sites is not NATed, "
                    "so renumber one of the LANs"
                )
    return errors


def check_proxy_arp(vpn: Vpn, path: str) -> list[str]:
    """The guide's internal-host setup: the LAN is the VPN network, a VPN range inside it, clear of DHCP."""
    hub, net, hub_path = vpn.hub, vpn.network, f"{path}.hub"
    proxy = hub.proxy_arp
    if not proxy:
        return []
    errors = []
    if hub.lans != (net,):
        errors.append(
            f"{hub_path}.lans: {[str(n) for n in hub.lans]} must be exactly [{net}] with proxyArp; "
            "the VPN addresses are carved out of that LAN"
        )
    if proxy.vpn_range.first not in net or proxy.vpn_range.last not in net:
        errors.append(
            f"{hub_path}.proxyArp.vpnRange: '{proxy.vpn_range}' is not inside the LAN {net}; "
            "reserve a range of the LAN for VPN users"
        )
    if proxy.dhcp_range and proxy.vpn_range.overlaps(proxy.dhcp_range):
        errors.append(
            f"{hub_path}.proxyArp.vpnRange: '{proxy.vpn_range}' overlaps the DHCP range {proxy.dhcp_range}; "
            "shrink the router's DHCP pool or move the VPN range so they are disjoint"
        )
    return errors


def check_endpoint_routes(vpn: Vpn, path: str) -> list[str]:
    """The hub's endpoint, as an address, outside every LAN the spokes route into the tunnel: there the tunnel's
    own packets to the hub would be routed into the tunnel (the hub's LANs on every spoke, a site's LANs on
    every other spoke)."""
    parsed = split_endpoint(vpn.hub.endpoint) if vpn.hub.endpoint else None
    try:
        address = ipaddress.ip_address(parsed[0]) if parsed else None
    except ValueError:  # a name: where it points is not known here
        return []
    if address is None:
        return []
    errors = []
    for node_path, node in node_paths(vpn, path):
        for i, lan in enumerate(node.lans):
            if address not in lan:
                continue
            if node is vpn.hub:
                errors.append(
                    f"{path}.hub.endpoint: {vpn.hub.endpoint!r} is inside the hub's own LAN {lan}, which every spoke "
                    "routes into the tunnel, so the tunnel's packets to the hub would go into the tunnel; give the "
                    "hub's public address or name"
                )
            else:
                errors.append(
                    f"{node_path}.lans[{i}]: '{lan}' contains the hub's endpoint {vpn.hub.endpoint}; every other spoke "
                    "routes it into the tunnel, so their packets to the hub would go into the tunnel; give the hub "
                    "an endpoint outside it, or renumber that LAN"
                )
    return errors


def check_ipv6(vpn: Vpn, path: str) -> list[str]:
    """Dual stack: network6 an ordinary /48-/120, every node's IPv6 address inside it and its own, ipv6Egress
    only with network6 (with NAT for a ULA, in a dual-stack subnet for an aws hub)."""
    errors: list[str] = []
    net6, hub = vpn.network6, vpn.hub
    if net6 is None:
        errors += [
            f"{node_path}.address6: '{node.address6}' without network6; set {path}.network6 (e.g. fd10:99::/64) "
            "or remove address6"
            for node_path, node in node_paths(vpn, path)
            if node.address6 is not None
        ]
        if hub.ipv6_egress:
            errors.append(
                f"{path}.hub.ipv6Egress: true without network6; the tunnel carries no IPv6 to send out, so set "
                f"{path}.network6 (e.g. fd10:99::/64) or remove ipv6Egress"
            )
        return errors
    what = special_network(net6) or ("IPv4-mapped addresses ::ffff:0:0/96" if net6.overlaps(MAPPED) else None)
    shortest, longest = NETWORK6_PREFIXES
    if what:
        return [
            *errors,
            f"{path}.network6: '{net6}' covers {what}, which is never routed through a tunnel; "
            "use a ULA such as fd10:99::/64 or a prefix you own",
        ]
    if not shortest <= net6.prefixlen <= longest:
        return [
            *errors,
            f"{path}.network6: '{net6}' is a /{net6.prefixlen}; use a /{shortest} to /{longest}, "
            "e.g. a /64 such as fd10:99::/64 (a VPN network covers only its own nodes)",
        ]
    if hub.ipv6_egress and net6.subnet_of(ULA) and not hub.masquerade:
        errors.append(
            f"{path}.hub.ipv6Egress: true with the ULA network6 {net6}, which the internet does not route back; "
            "set hub.masquerade (NAT out of the hub's address), or use a prefix you own routed to the hub"
        )
    if hub.ipv6_egress and hub.kind == "aws" and not hub.aws.subnet_id:
        errors.append(
            f"{path}.hub.ipv6Egress: true on an aws hub without aws.subnetId; a default VPC has no IPv6, so name "
            "a dual-stack public subnet (an IPv6 CIDR block, ::/0 routed to the internet gateway): aws.subnetId: subnet-..."
        )
    seen: dict[ipaddress.IPv6Address, str] = {}
    for node_path, node in node_paths(vpn, path):
        try:
            addr = vpn.address6_of(node)
        except ipaddress.AddressValueError:
            addr = None
        how = "" if node.address6 is not None else f" (derived from address {node.address}: network6 + its offset)"
        fix = "set address6 to a free address in it" if node.address6 is None else f"pick a free address in {net6}"
        if addr is None or addr not in net6:
            errors.append(f"{node_path}.address6: '{addr}'{how} is outside network6 {net6}; {fix}")
        elif addr == net6.network_address:
            errors.append(f"{node_path}.address6: '{addr}'{how} is the network address of {net6}; {fix}")
        elif addr in seen:
            errors.append(f"{node_path}.address6: '{addr}'{how} is already used by {seen[addr]}; {fix}")
        if addr is not None:
            seen.setdefault(addr, node_path)
    return errors
