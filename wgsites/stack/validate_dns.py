"""The rules for the VPN's DNS names (domain, named hosts, the hub's resolver): one message per problem, naming
the key, the value and the fix."""

from __future__ import annotations

import ipaddress

from .model import Vpn
from .resolver import listen_addresses, shown


def check_names(vpn: Vpn, path: str) -> list[str]:
    return [*check_hosts(vpn, path), *check_forwarders(vpn, path)]


def check_hosts(vpn: Vpn, path: str) -> list[str]:
    """Where a named host lies, for the resolver and the access policy alike: on the VPN network or a LAN of the
    VPN (a spoke reaches it through the tunnel), never a node's VPN address, never a node's name."""
    errors = []
    nodes = {node.name for node in vpn.nodes} | {alias for node in vpn.nodes for alias in node.aliases}
    addresses = {
        ipaddress.ip_network(address): node.name
        for node in vpn.nodes
        for address in (node.address, vpn.address6_of(node))
        if address is not None
    }
    for name, network in vpn.hosts:
        where = f"{path}.hosts.{name}"
        value = shown(network)
        if name in nodes:
            errors.append(
                f"{where}: {value!r} gives a host the name of a node, which is {name}.{vpn.domain} already; "
                "give the host another name"
            )
        if network in addresses:
            errors.append(
                f"{where}: {value!r} is the VPN address of {addresses[network]}, named "
                f"{addresses[network]}.{vpn.domain} already; name a host on a LAN, or remove this entry"
            )
        elif not any(network.version == net.version and network.subnet_of(net) for net in vpn.own_networks):  # type: ignore[arg-type]
            lans = ", ".join(str(net) for net in vpn.own_networks)
            errors.append(
                f"{where}: {value!r} is on no LAN of the VPN ({lans}), so no spoke reaches it through the tunnel; "
                "fix the address, or add its LAN to the `lans` of the hub or site it is behind"
            )
    return errors


def check_forwarders(vpn: Vpn, path: str) -> list[str]:
    """The resolver forwards to other resolvers: never to itself (a loop), nor to an address no server answers on."""
    if vpn.hub.dns is None:
        return []
    errors = []
    own = set(listen_addresses(vpn))
    for i, server in enumerate(vpn.hub.dns.forwarders):
        where = f"{path}.hub.dns.forwarders[{i}]"
        address = ipaddress.ip_address(server)
        if server in own:
            errors.append(
                f"{where}: {server!r} is the hub's own VPN address, where this resolver listens: it would ask itself; "
                "name an upstream resolver, e.g. 9.9.9.9, or remove forwarders to use the hub's own"
            )
        elif address.is_unspecified or address.is_multicast or str(address) == "255.255.255.255":
            errors.append(f"{where}: {server!r} is an address no DNS server answers on; give a resolver's address")
    return errors
