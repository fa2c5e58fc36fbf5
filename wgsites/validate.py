"""Every cross-field rule of a stack (check_vpn): stacks every field of which parses, but which
would not work (or would quietly do the wrong thing) once deployed.

One function per rule group; each returns messages naming key, value and fix.
"""

from __future__ import annotations

import ipaddress

from .endpoints import split_endpoint
from .keys import is_low_order
from .model import Hub, Spoke, Vpn
from .names import nft_table
from .operator_files import file_target_problem
from .validate_names import check_names

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

# wg-quick's INTERFACE_RE lets these through; the kernel (".", "..") or the tools ("-x") do not.
PATH_NAMES = {".", ".."}
# A device's config file is named after its interface, and the Windows app names the tunnel after the
# file: it refuses these (wireguard-windows conf/name.go), as Windows refuses such file names.
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
# wg-quick allows + and = in a name; systemd's unit names do not (unit-name.c VALID_CHARS: letters, digits, :-_.\)
SYSTEMD_REFUSES = {"+", "="}
EGRESS_FIX = "name the interface traffic leaves by, e.g. ens5 or eth0, or write true"


def node_paths(vpn: Vpn, path: str) -> list[tuple[str, Hub | Spoke]]:
    """Every node with its key path, hub first, as messages name them."""
    paths: list[tuple[str, Hub | Spoke]] = [(f"{path}.hub", vpn.hub)]
    counters = {"site": 0, "peer": 0}
    for spoke in vpn.spokes:
        key = "sites" if spoke.kind == "site" else "peers"
        paths.append((f"{path}.{key}[{counters[spoke.kind]}]", spoke))
        counters[spoke.kind] += 1
    return paths


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
            continue  # config.py reported it
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


def check_interface_names(vpn: Vpn, path: str) -> list[str]:
    """Names wg-quick's rule allows but that become paths (/etc/wireguard/..conf, /var/lib/wgsites/..) or options."""
    errors = []
    named = [(f"{p}.interface", n.interface) for p, n in node_paths(vpn, path)]
    if isinstance(vpn.hub.masquerade, str):
        named.append((f"{path}.hub.masquerade", vpn.hub.masquerade))
    for key, name in named:
        fix = EGRESS_FIX if key.endswith(".masquerade") else "use a name such as wg0"
        if name == "lo":
            errors.append(f"{key}: 'lo' is the loopback interface every host has; {fix}")
        elif name in PATH_NAMES:
            errors.append(
                f"{key}: {name!r} is a directory name, not an interface (Linux refuses it and paths built from it "
                f"leave their folder); {fix}"
            )
        elif name.startswith("-"):
            errors.append(f"{key}: {name!r} starts with '-', which ip, wg and nft read as an option; {fix}")
    for node_path, node in node_paths(vpn, path):
        odd = sorted(set(node.interface) & SYSTEMD_REFUSES)
        if node.delivery != "file" and odd:  # installed as the unit wg-quick@IFACE
            errors.append(
                f"{node_path}.interface: {node.interface!r} has {' and '.join(map(repr, odd))}, which systemd refuses in "
                f"a unit name (wg-quick@{node.interface}.service cannot start); use letters, digits, _ . -, e.g. wg0"
            )
    for node_path, node in node_paths(vpn, path):
        if node.is_device and node.interface.split(".")[0].upper() in WINDOWS_RESERVED:
            errors.append(
                f"{node_path}.interface: {node.interface!r} is a name Windows reserves for a device, so the WireGuard "
                "app for Windows cannot import a tunnel of that name; use a name such as wg0"
            )
    hub = vpn.hub
    if isinstance(hub.masquerade, str) and hub.masquerade == hub.interface:
        errors.append(f"{path}.hub.masquerade: {hub.masquerade!r} is the tunnel itself; {EGRESS_FIX}")
    return errors


def _host_key(node: Hub | Spoke) -> tuple[str, int] | None:
    if node.ssh is None:
        return None
    return node.ssh.host.lower().rstrip("."), node.ssh.port


def check_shared_hosts(vpn: Vpn, path: str) -> list[str]:
    """Two nodes on one SSH host: the same interface (or nftables table) would overwrite each other's
    config, and the same UDP port lets only one of them come up."""
    errors = []
    seen: list[tuple[str, Hub | Spoke]] = []
    for node_path, node in node_paths(vpn, path):
        host = _host_key(node)
        if host is None:
            continue
        where = f"{node.ssh.host}:{node.ssh.port}"
        for other_path, other in seen:
            if _host_key(other) != host:
                continue
            if other.interface == node.interface:
                errors.append(
                    f"{node_path}.interface: {node.interface!r} is also {other_path}'s interface on the same host {where}; "
                    "they would overwrite each other's config, so give one another interface"
                )
            elif nft_table(other.interface) == nft_table(node.interface):
                errors.append(
                    f"{node_path}.interface: {node.interface!r} and {other_path}'s {other.interface!r} share the nftables "
                    f"table {nft_table(node.interface)} on the same host {where}; rename one"
                )
            elif node.listen_port and node.listen_port == other.listen_port:
                errors.append(
                    f"{node_path}.listenPort: {node.listen_port} is also {other_path}'s port on the same host {where}; "
                    "only one interface can listen on it, so pick another port"
                )
        seen.append((node_path, node))
    return errors


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


def check_unique_names(vpn: Vpn, path: str) -> list[str]:
    """One node per name, counting the names nodes had before (aliases): a Pulumi alias names one resource."""
    errors, seen = [], {}
    for node_path, node in node_paths(vpn, path):
        if node.name in seen:
            errors.append(f"{node_path}.name: '{node.name}' is already used by {seen[node.name]}; give each node its own name")
        seen.setdefault(node.name, node_path)
    for node_path, node in node_paths(vpn, path):
        for i, alias in enumerate(node.aliases):
            if alias == node.name or alias in node.aliases[:i]:
                errors.append(f"{node_path}.aliases[{i}]: '{alias}' is listed already (or is its name); remove it")
            elif alias in seen:
                errors.append(
                    f"{node_path}.aliases[{i}]: '{alias}' is also {seen[alias]}; an alias is a name this node had "
                    "before, so it cannot be another node's: remove it, or rename that node"
                )
            else:
                seen[alias] = f"{node_path}.aliases[{i}]"
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


ULA = ipaddress.IPv6Network("fc00::/7")
MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
NETWORK6_PREFIXES = (48, 120)  # a site's usual allocation down to a block that still numbers a /24's nodes


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
