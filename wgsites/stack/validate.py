"""Every cross-field rule of a stack (check_vpn): stacks every field of which parses, but which
would not work (or would quietly do the wrong thing) once deployed.

One function per rule group; each returns messages naming key, value and fix. Here: what the nodes do
(the hub's kind and forwarding, tunnels, keys, the addresses they dial, the files they are written to);
where addresses and networks lie in validate_networks, names in validate_names.
"""

from __future__ import annotations

import ipaddress

from wgsites.rendering.operator_files import file_target_problem

from .endpoints import split_endpoint
from .key_paths import node_paths
from .keys import is_low_order
from .model import Spoke, Vpn
from .validate_dns import check_names
from .validate_names import check_interface_names, check_shared_hosts, check_unique_names
from .validate_networks import (
    check_addresses,
    check_admin_cidrs,
    check_endpoint_routes,
    check_ipv6,
    check_lans,
    check_proxy_arp,
    check_special_networks,
    special_network,
)


def check_public_keys(vpn: Vpn, path: str) -> list[str]:
    """A key WireGuard rejects, or one key on two devices (the hub would route both to whichever spoke last spoke)."""
    errors = []
    owners: dict[str, str] = {}
    for node_path, node in node_paths(vpn, path):
        key = getattr(node, "public_key", None)
        if not key:
            continue
        if is_low_order(key):
            errors.append(
                f"{node_path}.publicKey: {key!r} is a low-order Curve25519 point, which WireGuard rejects "
                "(no handshake can complete); paste the device's own `wg pubkey` output"
            )
        elif key in owners:
            errors.append(
                f"{node_path}.publicKey: {key!r} is already the key of {owners[key]}; "
                "each device needs its own key pair (wg genkey | wg pubkey)"
            )
        owners.setdefault(key, node_path)
    return errors


def check_forwarding(vpn: Vpn, path: str) -> list[str]:
    """forwarding: false on a hub that must route: masquerade, full tunnels, LANs and proxy ARP all pass through it."""
    hub = vpn.hub
    if hub.forwarding:
        return []
    needs = []
    if hub.masquerade:
        needs.append("masquerade")
    full = [s.name for s in vpn.spokes if s.tunnel == "full"]
    if full:
        needs.append(f"full-tunnel peers ({', '.join(full)})")
    with_lans = ([hub.name] if hub.lans else []) + [s.name for s in vpn.spokes if s.lans]
    if with_lans:
        needs.append(f"LANs ({', '.join(with_lans)})")
    if hub.proxy_arp:
        needs.append("proxyArp")
    if not needs:
        return []
    return [
        f"{path}.hub.forwarding: False but the hub must route for {' and '.join(needs)}; "
        "remove forwarding: false (it is only for a hub that isolates its spokes)"
    ]


def check_forward_rules(vpn: Vpn, path: str) -> list[str]:
    """nftables applies the first matching rule, so a second rule for the same port never acts."""
    errors = []
    first: dict[tuple[str, int], int] = {}
    for i, rule in enumerate(vpn.forward_rules):
        key = (rule.protocol, rule.port)
        if key in first:
            errors.append(
                f"{path}.forwardRules[{i}]: '{rule.protocol} {rule.port}' is already ruled by forwardRules[{first[key]}], "
                "which nftables applies first; keep one rule per port"
            )
        first.setdefault(key, i)
    return errors


def address_kind(host: str) -> str | None:
    """What makes an IP literal (or localhost) unusable as a host others reach: None for an ordinary host."""
    if host.lower().rstrip(".") == "localhost" or host.lower().rstrip(".").endswith(".localhost"):
        return "loopback"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip == ipaddress.IPv4Address("255.255.255.255"):
        return "broadcast"
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def check_dial_addresses(vpn: Vpn, path: str) -> list[str]:
    """Endpoints are dialled from other machines, SSH hosts by Pulumi, DNS servers by the peer: an unspecified,
    multicast or broadcast address answers none of them (nor, for an endpoint, a loopback or link-local one)."""
    errors = []
    for node_path, node in node_paths(vpn, path):
        parsed = split_endpoint(node.endpoint) if node.endpoint else None
        kind = address_kind(parsed[0]) if parsed else None
        if kind:
            errors.append(
                f"{node_path}.endpoint: {node.endpoint!r} is {_a(kind)} address, which other machines cannot dial; "
                "give the public host name or address of this node"
            )
        kind = address_kind(node.ssh.host) if node.ssh else None
        if kind in ("unspecified", "multicast", "broadcast", "reserved"):
            errors.append(
                f"{node_path}.ssh.host: {node.ssh.host!r} is {_a(kind)} address, which no sshd listens on; "
                "give the address or name Pulumi reaches this host at"
            )
        for i, server in enumerate(node.dns if isinstance(node, Spoke) else ()):
            kind = address_kind(server)
            if kind in ("unspecified", "multicast", "broadcast", "reserved"):
                errors.append(
                    f"{node_path}.dns[{i}]: {server!r} is {_a(kind)} address, which no DNS server answers on; "
                    "give a resolver's address, e.g. 10.10.10.1"
                )
    return errors


def check_file_targets(vpn: Vpn, path: str) -> list[str]:
    """A roaming peer's `file:` may be written (operator_files.file_target_problem, which the program asks too)."""
    return [
        f"{node_path}.file: {node.file!r} {why}"
        for node_path, node in node_paths(vpn, path)
        if isinstance(node, Spoke) and node.file and (why := file_target_problem(node.file))
    ]


def check_site_keepalive(vpn: Vpn, path: str) -> list[str]:
    """A site behind NAT (no endpoint) with keepalive off: the hub loses the way to its LANs once the NAT
    mapping times out, so traffic from other spokes into those LANs stops until the site speaks first."""
    return [
        f"{node_path}.keepalive: 0 on a site behind NAT (no endpoint) with LANs; the hub could not reach "
        f"{', '.join(map(str, node.lans))} after the NAT forgets it, so keep the default 25"
        for node_path, node in node_paths(vpn, path)
        if isinstance(node, Spoke) and node.kind == "site" and node.lans and not node.endpoint and node.keepalive == 0
    ]


def extra_checks(vpn: Vpn, path: str) -> list[str]:
    """Every rule of this module, in the order a reader meets the keys."""
    return [
        *check_special_networks(vpn, path),
        *check_admin_cidrs(vpn, path),
        *check_interface_names(vpn, path),
        *check_shared_hosts(vpn, path),
        *check_public_keys(vpn, path),
        *check_forwarding(vpn, path),
        *check_forward_rules(vpn, path),
        *check_dial_addresses(vpn, path),
        *check_site_keepalive(vpn, path),
        *check_endpoint_routes(vpn, path),
        *check_file_targets(vpn, path),
        *check_names(vpn, path),
    ]


def check_vpn(vpn: Vpn, path: str) -> list[str]:
    """Every cross-field rule; one message per problem, naming key, value and fix."""
    net = vpn.network
    if net.prefixlen > 31:  # every other check would only repeat this one
        return [f"{path}.network: '{net}' has no room for two nodes; use a /31 or larger network"]
    if special_network(net):  # likewise: every address and LAN would be "outside" or "overlapping" it
        return extra_checks(vpn, path)
    return [
        *check_hub_kind(vpn, path),
        *check_unique_names(vpn, path),
        *check_addresses(vpn, path),
        *check_lans(vpn, path),
        *check_proxy_arp(vpn, path),
        *check_spokes(vpn, path),
        *check_ipv6(vpn, path),
        *extra_checks(vpn, path),
    ]


def check_hub_kind(vpn: Vpn, path: str) -> list[str]:
    """An aws hub is a new VM: no LAN of its own, no proxy ARP, no SSH."""
    hub, hub_path = vpn.hub, f"{path}.hub"
    if hub.kind != "aws":
        return []
    errors = []
    if hub.proxy_arp:
        errors.append(f"{hub_path}.proxyArp: set on an aws hub; proxy ARP needs a LAN, so use kind: ssh on a LAN host")
    if hub.lans:
        errors.append(f"{hub_path}.lans: {[str(n) for n in hub.lans]} on an aws hub; put LANs on the site that has them")
    if hub.ssh:
        errors.append(f"{hub_path}.ssh: set on an aws hub; it has no SSH, remove ssh (use aws.adminCidrs to open 22)")
    if hub.aws.vpc_id and not hub.aws.subnet_id:
        errors.append(
            f"{hub_path}.aws.vpcId: '{hub.aws.vpc_id}' without subnetId; name the public subnet of that VPC the "
            "gateway goes in (its route table sends 0.0.0.0/0 to an internet gateway): aws.subnetId: subnet-..."
        )
    return errors


def check_spokes(vpn: Vpn, path: str) -> list[str]:
    """Full tunnels need the hub's NAT and route no LANs; an endpoint needs a port."""
    hub = vpn.hub
    errors = []
    for spoke_path, spoke in node_paths(vpn, path)[1:]:
        if spoke.tunnel == "full" and not hub.masquerade:
            errors.append(
                f"{spoke_path}.tunnel: 'full' needs the hub to masquerade; set hub.masquerade "
                "(the hub's egress interface, or true), or use tunnel: split"
            )
        if spoke.tunnel == "full" and spoke.lans:
            errors.append(f"{spoke_path}.lans: a full-tunnel peer cannot route LANs; use tunnel: split")
        if spoke.endpoint and spoke.listen_port is None:
            errors.append(
                f"{spoke_path}.endpoint: '{spoke.endpoint}' has no port and listenPort is not set; "
                "write host:port or set listenPort"
            )
        if spoke.tunnel == "full" and not spoke.dns and not spoke.no_dns and hub.dns is None:
            errors.append(
                f"{spoke_path}.dns: missing for a full-tunnel peer, and the hub serves no DNS (hub.dns: false), so it "
                "would keep the resolver of the network it is on (a café's), reached outside the tunnel; set dns, e.g. "
                "dns: [9.9.9.9], or a resolver on a LAN of the VPN, or let the hub serve DNS (remove hub.dns: false)"
            )
    if hub.proxy_arp and hub.masquerade:
        errors.append(f"{path}.hub.masquerade: set with proxyArp; proxy-ARP users are on the LAN itself, so remove it")
    return errors
