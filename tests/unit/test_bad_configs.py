"""Each user mistake gives exactly one message naming the key, the value and the fix."""

from __future__ import annotations

import base64
import copy

import pytest

from wgsites.config import ConfigError, parse_vpn
from wgsites.limits import install_argument_bytes, rendered_size_errors, user_data_bytes

BASE = {
    "network": "10.10.11.0/24",
    "listenPort": 51000,
    "hub": {
        "name": "router",
        "kind": "ssh",
        "address": "10.10.11.1",
        "endpoint": "home.example.net",
        "lans": ["10.10.10.0/24"],
        "ssh": {"host": "10.10.10.1"},
    },
    "sites": [{"name": "office", "address": "10.10.11.3", "lans": ["10.20.0.0/24"], "ssh": {"host": "192.0.2.7"}}],
    "peers": [{"name": "laptop", "address": "10.10.11.2", "interface": "home0"}],
}

PROXY = {
    "network": "10.10.10.0/24",
    "hub": {
        "name": "internal",
        "kind": "ssh",
        "address": "10.10.10.10",
        "endpoint": "home.example.net",
        "lans": ["10.10.10.0/24"],
        "proxyArp": {"vpnRange": "10.10.10.10-10.10.10.49", "dhcpRange": "10.10.10.50-10.10.10.254"},
        "ssh": {"host": "10.10.10.10"},
    },
    "peers": [{"name": "laptop", "address": "10.10.10.11"}],
}

AWS = {
    "network": "10.99.0.0/24",
    "hub": {"name": "gateway", "kind": "aws", "address": "10.99.0.1", "masquerade": "ens5"},
    "peers": [{"name": "phone", "address": "10.99.0.11", "tunnel": "full", "dns": ["9.9.9.9"]}],
}


def edit(base: dict, path: str, value: object) -> dict:
    """Copy of base with one key set (value ...: deleted). Path like 'hub.lans' or 'peers.0.address'."""
    config = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = config
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is ...:
        del target[last]
    else:
        target[last] = value
    return config


P = "wgsites:vpn"


def one_line(code: str) -> str:
    return f"contains U+{code}, a line break or control character; write it on one line"


NOT_DNS = "is not an IP address; DNS servers are given by address, e.g. 10.10.10.1"
NOT_NETWORK = "is not a network; write it like 198.51.100.7/32"
NOT_INSTANCE = "is not an EC2 instance type; write it like t4g.nano or t3.micro"
NOT_ENDPOINT = "is not host or host:port; write it like vpn.example.net:51820 or 203.0.113.5"
NOT_HOST = "is not a host name or address; write it like router.lan or 192.0.2.10"
CASES = [
    (BASE, "network", "10.10.11.1/24", f"{P}.network: '10.10.11.1/24' has host bits set; write the network as 10.10.11.0/24"),
    (BASE, "network", "banana", f"{P}.network: 'banana' is not an IPv4 network; write it like 10.10.10.0/24"),
    (BASE, "network", ..., f"{P}.network: missing; set the VPN network, e.g. network: 10.10.11.0/24"),
    (BASE, "listenPort", 70000, f"{P}.listenPort: 70000 is not a whole number from 1 to 65535; use one in that range"),
    (BASE, "listenPort", "51000", f"{P}.listenPort: '51000' is not a whole number from 1 to 65535; use one in that range"),
    (BASE, "colour", "blue", f"{P}.colour: unknown key; use one of: forwardRules, hub, listenPort, network, peers, sites"),
    (BASE, "hub.kind", "gcp", f"{P}.hub.kind: 'gcp' is not one of aws, ssh; use one of them"),
    (
        BASE,
        "hub.address",
        "10.10.12.1",
        f"{P}.hub.address: '10.10.12.1' is outside the VPN network 10.10.11.0/24; pick a free address in 10.10.11.0/24",
    ),
    (
        BASE,
        "hub.address",
        "10.10.11.1/24",
        f"{P}.hub.address: '10.10.11.1/24' is not an IPv4 address; write it like 10.10.11.1 (no prefix)",
    ),
    (
        BASE,
        "hub.address",
        "10.10.11.255",
        f"{P}.hub.address: '10.10.11.255' is the network or broadcast address of 10.10.11.0/24; pick a host address",
    ),
    (
        BASE,
        "hub.endpoint",
        ...,
        f"{P}.hub.endpoint: missing for kind: ssh; set the public host or address spokes dial, e.g. home.example.net",
    ),
    (
        BASE,
        "hub.endpoint",
        "home.example.net:99999",
        f"{P}.hub.endpoint: 'home.example.net:99999' is not host or host:port; "
        "write it like vpn.example.net:51820 or 203.0.113.5",
    ),
    (BASE, "hub.ssh", ..., f"{P}.hub.ssh: missing for kind: ssh; set ssh.host (and ssh.user, ssh.port if not root and 22)"),
    (
        BASE,
        "hub.ssh",
        {"host": "router.lan", "port": 0},
        f"{P}.hub.ssh.port: 0 is not a whole number from 1 to 65535; use one in that range",
    ),
    (
        BASE,
        "hub.interface",
        "wireguard-home-0",
        f"{P}.hub.interface: 'wireguard-home-0' is not a valid interface name; "
        "use at most 15 letters, digits or _=+.- (Linux limit)",
    ),
    (
        BASE,
        "hub.name",
        "Router 1",
        f"{P}.hub.name: 'Router 1' is not a valid name; use 1-32 lowercase letters, digits and inner dashes",
    ),
    (BASE, "peers.0.name", "router", f"{P}.peers[0].name: 'router' is already used by {P}.hub; give each node its own name"),
    (
        BASE,
        "peers.0.address",
        "10.10.11.1",
        f"{P}.peers[0].address: '10.10.11.1' is already used by {P}.hub; give each node its own address",
    ),
    (
        BASE,
        "peers.0.address",
        "10.10.12.2",
        f"{P}.peers[0].address: '10.10.12.2' is outside the VPN network 10.10.11.0/24; pick a free address in 10.10.11.0/24",
    ),
    (
        edit(BASE, "peers.0.dns", ["10.10.10.1"]),
        "peers.0.tunnel",
        "full",
        f"{P}.peers[0].tunnel: 'full' needs the hub to masquerade; set hub.masquerade "
        "(the hub's egress interface, or true), or use tunnel: split",
    ),
    (BASE, "peers.0.tunnel", "all", f"{P}.peers[0].tunnel: 'all' is not one of split, full; use one of them"),
    (
        BASE,
        "peers.0.publicKey",
        "not-a-key",
        f"{P}.peers[0].publicKey: 'not-a-key' is not a WireGuard public key; paste the 44-character base64 output of `wg pubkey`",
    ),
    (BASE, "peers.0.keepalive", -1, f"{P}.peers[0].keepalive: -1 is not a whole number from 0 to 65535; use one in that range"),
    (
        BASE,
        "peers.0.dns",
        ["dns.example"],
        f"{P}.peers[0].dns[0]: 'dns.example' is not an IP address; DNS servers are given by address, e.g. 10.10.10.1",
    ),
    (
        BASE,
        "peers.0.file",
        "/tmp/laptop.txt",
        f"{P}.peers[0].file: '/tmp/laptop.txt' is not a path ending in .conf; write it like ~/wireguard/home0.conf",
    ),
    (
        BASE,
        "sites.0.lans",
        ["10.10.10.128/25"],
        f"{P}.sites[0].lans[0]: '10.10.10.128/25' overlaps 10.10.10.0/24 at {P}.hub.lans[0]; "
        "traffic between sites is not NATed, so renumber one of the LANs",
    ),
    (
        BASE,
        "sites.0.lans",
        ["10.10.11.0/25"],
        f"{P}.sites[0].lans[0]: '10.10.11.0/25' overlaps the VPN network 10.10.11.0/24; "
        "sites are routed, not bridged, so pick a VPN network outside every LAN",
    ),
    (BASE, "sites.0.lans", "10.20.0.0/24", f"{P}.sites[0].lans: '10.20.0.0/24' is not a list; write it as [10.10.10.0/24, ...]"),
    (
        BASE,
        "sites.0.endpoint",
        "office.example.net",
        f"{P}.sites[0].endpoint: 'office.example.net' has no port and listenPort is not set; write host:port or set listenPort",
    ),
    (
        BASE,
        "sites.0.publicKey",
        "Dr4IBsr+Dn9a2yusl43le05zSLnqflxmkYwkNkvPfDc=",
        f"{P}.sites[0].publicKey: set together with ssh; a host managed over SSH makes its own key, so remove publicKey",
    ),
    (BASE, "sites", {"name": "office"}, f"{P}.sites: {{...}} is not a list; write each entry on its own `- ` line"),
    (
        PROXY,
        "hub.proxyArp.dhcpRange",
        "10.10.10.40-10.10.10.254",
        f"{P}.hub.proxyArp.vpnRange: '10.10.10.10-10.10.10.49' overlaps the DHCP range 10.10.10.40-10.10.10.254; "
        "shrink the router's DHCP pool or move the VPN range so they are disjoint",
    ),
    (
        PROXY,
        "peers.0.address",
        "10.10.10.60",
        f"{P}.peers[0].address: '10.10.10.60' is outside proxyArp.vpnRange 10.10.10.10-10.10.10.49; "
        "pick an address inside the range reserved for the VPN",
    ),
    (
        PROXY,
        "hub.proxyArp.vpnRange",
        "10.10.10.49-10.10.10.10",
        f"{P}.hub.proxyArp.vpnRange: '10.10.10.49-10.10.10.10' is not a range; "
        "write it as FIRST-LAST, e.g. 10.10.10.10-10.10.10.49",
    ),
    (
        PROXY,
        "hub.lans",
        [],
        f"{P}.hub.lans: [] must be exactly [10.10.10.0/24] with proxyArp; the VPN addresses are carved out of that LAN",
    ),
    (AWS, "hub.lans", ["10.10.10.0/24"], f"{P}.hub.lans: ['10.10.10.0/24'] on an aws hub; put LANs on the site that has them"),
    (
        AWS,
        "hub.aws",
        {"instanceType": "huge"},
        f"{P}.hub.aws.instanceType: 'huge' is not an EC2 instance type; write it like t4g.nano or t3.micro",
    ),
    (
        AWS,
        "hub.aws",
        {"adminCidrs": ["everyone"]},
        f"{P}.hub.aws.adminCidrs[0]: 'everyone' is not a network; write it like 198.51.100.7/32",
    ),
    (
        AWS,
        "hub.masquerade",
        "eth0 eth1",
        f"{P}.hub.masquerade: 'eth0 eth1' is not a valid interface name; use at most 15 letters, digits or _=+.- (Linux limit)",
    ),
    (AWS, "hub.uplink", "dialup", f"{P}.hub.uplink.type: 'dialup' is not one of ethernet, pppoe, dslite; use one of them"),
    (AWS, "network", "10.99.0.0/32", f"{P}.network: '10.99.0.0/32' has no room for two nodes; use a /31 or larger network"),
    (
        BASE,
        "network",
        "0.0.0.0/0",
        f"{P}.network: '0.0.0.0/0' covers every address, which is never routed through a tunnel; "
        "use a private network such as 10.10.11.0/24",
    ),
    (
        BASE,
        "network",
        "127.0.0.0/24",
        f"{P}.network: '127.0.0.0/24' covers loopback 127.0.0.0/8, which is never routed through a tunnel; "
        "use a private network such as 10.10.11.0/24",
    ),
    (
        BASE,
        "network",
        "224.0.0.0/24",
        f"{P}.network: '224.0.0.0/24' covers multicast 224.0.0.0/4, which is never routed through a tunnel; "
        "use a private network such as 10.10.11.0/24",
    ),
    (
        BASE,
        "network",
        "169.254.0.0/16",
        f"{P}.network: '169.254.0.0/16' covers link-local 169.254.0.0/16, "
        "which is never routed through a tunnel; use a private network such as 10.10.11.0/24",
    ),
    (
        BASE,
        "network",
        "240.0.0.0/24",
        f"{P}.network: '240.0.0.0/24' covers the reserved block 240.0.0.0/4 (with the broadcast address), "
        "which is never routed through a tunnel; use a private network such as 10.10.11.0/24",
    ),
    (
        BASE,
        "network",
        "0.0.0.0/8",
        f"{P}.network: '0.0.0.0/8' covers the unspecified 'this network' block 0.0.0.0/8, "
        "which is never routed through a tunnel; use a private network such as 10.10.11.0/24",
    ),
    (
        BASE,
        "network",
        "255.255.255.254/31",
        f"{P}.network: '255.255.255.254/31' covers the reserved block 240.0.0.0/4 (with the broadcast address), "
        "which is never routed through a tunnel; use a private network such as 10.10.11.0/24",
    ),
    (
        BASE,
        "hub.lans",
        ["0.0.0.0/0"],
        f"{P}.hub.lans[0]: '0.0.0.0/0' covers every address, which no LAN can be; list the LAN's own network, "
        "such as 192.168.1.0/24",
    ),
    (
        BASE,
        "sites.0.lans",
        ["127.0.0.0/8"],
        f"{P}.sites[0].lans[0]: '127.0.0.0/8' covers loopback 127.0.0.0/8, which no LAN can be; "
        "list the LAN's own network, such as 192.168.1.0/24",
    ),
    (
        BASE,
        "sites.0.lans",
        ["224.0.0.0/4"],
        f"{P}.sites[0].lans[0]: '224.0.0.0/4' covers multicast 224.0.0.0/4, which no LAN can be; "
        "list the LAN's own network, such as 192.168.1.0/24",
    ),
    (
        BASE,
        "hub.lans",
        ["169.254.0.0/16"],
        f"{P}.hub.lans[0]: '169.254.0.0/16' covers link-local 169.254.0.0/16, which no LAN can be; "
        "list the LAN's own network, such as 192.168.1.0/24",
    ),
    (
        BASE,
        "peers.0.lans",
        ["240.0.0.0/4"],
        f"{P}.peers[0].lans[0]: '240.0.0.0/4' covers the reserved block 240.0.0.0/4 (with the broadcast address), "
        "which no LAN can be; list the LAN's own network, such as 192.168.1.0/24",
    ),
    (
        AWS,
        "hub.aws",
        {"adminCidrs": ["0.0.0.0/0"]},
        f"{P}.hub.aws.adminCidrs[0]: '0.0.0.0/0' opens SSH to every address on the internet; "
        "list the networks you administer from, e.g. 198.51.100.7/32",
    ),
    (
        AWS,
        "hub.aws",
        {"adminCidrs": ["::/0"]},
        f"{P}.hub.aws.adminCidrs[0]: '::/0' opens SSH to every address on the internet; "
        "list the networks you administer from, e.g. 198.51.100.7/32",
    ),
    (
        AWS,
        "hub.aws",
        {"adminCidrs": ["127.0.0.1/32"]},
        f"{P}.hub.aws.adminCidrs[0]: '127.0.0.1/32' covers loopback 127.0.0.0/8, "
        "which no SSH client comes from; list the networks you administer from, e.g. 198.51.100.7/32",
    ),
    (
        AWS,
        "hub.aws",
        {"adminCidrs": ["ff02::1/128"]},
        f"{P}.hub.aws.adminCidrs[0]: 'ff02::1/128' covers multicast ff00::/8, which no SSH client comes from; "
        "list the networks you administer from, e.g. 198.51.100.7/32",
    ),
    (
        BASE,
        "sites.0.ssh",
        {"host": "10.10.10.1"},
        f"{P}.sites[0].interface: 'wg0' is also {P}.hub's interface on the same host 10.10.10.1:22; "
        "they would overwrite each other's config, so give one another interface",
    ),
    (
        BASE,
        "sites.0",
        {"name": "office", "address": "10.10.11.3", "interface": "wg1", "listenPort": 51000, "ssh": {"host": "10.10.10.1"}},
        f"{P}.sites[0].listenPort: 51000 is also {P}.hub's port on the same host 10.10.10.1:22; "
        "only one interface can listen on it, so pick another port",
    ),
    (
        edit(BASE, "hub.interface", "wg_0"),
        "sites.0",
        {"name": "office", "address": "10.10.11.3", "interface": "wg+0", "ssh": {"host": "10.10.10.1"}},
        f"{P}.sites[0].interface: 'wg+0' and {P}.hub's 'wg_0' share the nftables table wgsites_wg_0 "
        "on the same host 10.10.10.1:22; rename one",
    ),
    (
        edit(BASE, "hub.ssh", {"host": "Router.LAN"}),
        "sites.0.ssh",
        {"host": "router.lan."},
        f"{P}.sites[0].interface: 'wg0' is also {P}.hub's interface on the same host router.lan.:22; "
        "they would overwrite each other's config, so give one another interface",
    ),
    (
        BASE,
        "sites.0.ssh",
        {"host": "10.10.10.1", "port": 22, "user": "admin"},
        f"{P}.sites[0].interface: 'wg0' is also {P}.hub's interface on the same host 10.10.10.1:22; "
        "they would overwrite each other's config, so give one another interface",
    ),
    (
        BASE,
        "peers.0.publicKey",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        f"{P}.peers[0].publicKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' is a low-order Curve25519 point, "
        "which WireGuard rejects (no handshake can complete); paste the device's own `wg pubkey` output",
    ),
    (
        BASE,
        "peers.0.publicKey",
        "7f///////////////////////////////////////38=",
        f"{P}.peers[0].publicKey: '7f///////////////////////////////////////38=' is a low-order Curve25519 point, "
        "which WireGuard rejects (no handshake can complete); paste the device's own `wg pubkey` output",
    ),
    (
        BASE,
        "peers.0.publicKey",
        "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=",
        f"{P}.peers[0].publicKey: '4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=' is a low-order Curve25519 point, "
        "which WireGuard rejects (no handshake can complete); paste the device's own `wg pubkey` output",
    ),
    (
        BASE,
        "peers",
        [
            {"name": "laptop", "address": "10.10.11.2", "publicKey": "Dr4IBsr+Dn9a2yusl43le05zSLnqflxmkYwkNkvPfDc="},
            {"name": "phone", "address": "10.10.11.4", "publicKey": "Dr4IBsr+Dn9a2yusl43le05zSLnqflxmkYwkNkvPfDc="},
        ],
        f"{P}.peers[1].publicKey: 'Dr4IBsr+Dn9a2yusl43le05zSLnqflxmkYwkNkvPfDc=' is already the key of {P}.peers[0]; "
        "each device needs its own key pair (wg genkey | wg pubkey)",
    ),
    (
        BASE,
        "hub.interface",
        ".",
        f"{P}.hub.interface: '.' is a directory name, "
        "not an interface (Linux refuses it and paths built from it leave their folder); "
        "use a name such as wg0",
    ),
    (
        BASE,
        "peers.0.interface",
        "..",
        f"{P}.peers[0].interface: '..' is a directory name, "
        "not an interface (Linux refuses it and paths built from it leave their folder); "
        "use a name such as wg0",
    ),
    (
        BASE,
        "peers.0.interface",
        "-x",
        f"{P}.peers[0].interface: '-x' starts with '-', which ip, wg and nft read as an option; use a name such as wg0",
    ),
    (BASE, "hub.interface", "lo", f"{P}.hub.interface: 'lo' is the loopback interface every host has; use a name such as wg0"),
    (
        AWS,
        "hub.masquerade",
        ".",
        f"{P}.hub.masquerade: '.' is a directory name, "
        "not an interface (Linux refuses it and paths built from it leave their folder); "
        "name the interface traffic leaves by, e.g. ens5 or eth0, or write true",
    ),
    (
        AWS,
        "hub.masquerade",
        "wg0",
        f"{P}.hub.masquerade: 'wg0' is the tunnel itself; name the interface traffic leaves by, e.g. ens5 or eth0, or write true",
    ),
    (
        AWS,
        "hub.masquerade",
        "lo",
        f"{P}.hub.masquerade: 'lo' is the loopback interface every host has; "
        "name the interface traffic leaves by, e.g. ens5 or eth0, or write true",
    ),
    (
        AWS,
        "hub.forwarding",
        False,
        f"{P}.hub.forwarding: False but the hub must route for masquerade and full-tunnel peers (phone); "
        "remove forwarding: false (it is only for a hub that isolates its spokes)",
    ),
    (
        BASE,
        "hub.forwarding",
        False,
        f"{P}.hub.forwarding: False but the hub must route for LANs (router, office); "
        "remove forwarding: false (it is only for a hub that isolates its spokes)",
    ),
    (
        PROXY,
        "hub.forwarding",
        False,
        f"{P}.hub.forwarding: False but the hub must route for LANs (internal) and proxyArp; "
        "remove forwarding: false (it is only for a hub that isolates its spokes)",
    ),
    (
        BASE,
        "forwardRules",
        [{"protocol": "tcp", "port": 22}, {"protocol": "tcp", "port": 22, "action": "accept"}],
        f"{P}.forwardRules[1]: 'tcp 22' is already ruled by forwardRules[0], which nftables applies first; "
        "keep one rule per port",
    ),
    (
        BASE,
        "hub.endpoint",
        "0.0.0.0",
        f"{P}.hub.endpoint: '0.0.0.0' is an unspecified address, which other machines cannot dial; "
        "give the public host name or address of this node",
    ),
    (
        BASE,
        "hub.endpoint",
        "127.0.0.1:51000",
        f"{P}.hub.endpoint: '127.0.0.1:51000' is a loopback address, which other machines cannot dial; "
        "give the public host name or address of this node",
    ),
    (
        BASE,
        "hub.endpoint",
        "localhost",
        f"{P}.hub.endpoint: 'localhost' is a loopback address, which other machines cannot dial; "
        "give the public host name or address of this node",
    ),
    (
        BASE,
        "hub.endpoint",
        "224.0.0.1",
        f"{P}.hub.endpoint: '224.0.0.1' is a multicast address, which other machines cannot dial; "
        "give the public host name or address of this node",
    ),
    (
        BASE,
        "hub.endpoint",
        "255.255.255.255",
        f"{P}.hub.endpoint: '255.255.255.255' is a broadcast address, which other machines cannot dial; "
        "give the public host name or address of this node",
    ),
    (
        BASE,
        "hub.endpoint",
        "[::]:51820",
        f"{P}.hub.endpoint: '[::]:51820' is an unspecified address, which other machines cannot dial; "
        "give the public host name or address of this node",
    ),
    (
        BASE,
        "hub.endpoint",
        "169.254.1.1",
        f"{P}.hub.endpoint: '169.254.1.1' is a link-local address, which other machines cannot dial; "
        "give the public host name or address of this node",
    ),
    (
        BASE,
        "sites.0.endpoint",
        "0.0.0.0:51000",
        f"{P}.sites[0].endpoint: '0.0.0.0:51000' is an unspecified address, which other machines cannot dial; "
        "give the public host name or address of this node",
    ),
    (
        BASE,
        "hub.ssh",
        {"host": "0.0.0.0"},
        f"{P}.hub.ssh.host: '0.0.0.0' is an unspecified address, which no sshd listens on; "
        "give the address or name Pulumi reaches this host at",
    ),
    (
        BASE,
        "sites.0.ssh",
        {"host": "255.255.255.255"},
        f"{P}.sites[0].ssh.host: '255.255.255.255' is a broadcast address, which no sshd listens on; "
        "give the address or name Pulumi reaches this host at",
    ),
    (
        BASE,
        "peers.0.dns",
        ["0.0.0.0"],
        f"{P}.peers[0].dns[0]: '0.0.0.0' is an unspecified address, which no DNS server answers on; "
        "give a resolver's address, e.g. 10.10.10.1",
    ),
    (
        BASE,
        "peers.0.dns",
        ["224.0.0.251"],
        f"{P}.peers[0].dns[0]: '224.0.0.251' is a multicast address, which no DNS server answers on; "
        "give a resolver's address, e.g. 10.10.10.1",
    ),
    (
        BASE,
        "peers.0.dns",
        ["::"],
        f"{P}.peers[0].dns[0]: '::' is an unspecified address, which no DNS server answers on; "
        "give a resolver's address, e.g. 10.10.10.1",
    ),
    (
        BASE,
        "sites.0.keepalive",
        0,
        f"{P}.sites[0].keepalive: 0 on a site behind NAT (no endpoint) with LANs; "
        "the hub could not reach 10.20.0.0/24 after the NAT forgets it, so keep the default 25",
    ),
    (
        edit(BASE, "hub.lans", []),
        "hub.forwarding",
        False,
        f"{P}.hub.forwarding: False but the hub must route for LANs (office); "
        "remove forwarding: false (it is only for a hub that isolates its spokes)",
    ),
    # a full tunnel without a resolver of its own keeps the local network's, outside the tunnel
    (
        edit(AWS, "peers.0.dns", ...),
        "peers.0.tunnel",
        "full",
        f"{P}.peers[0].dns: missing for a full-tunnel peer, which would keep the resolver of the network it is on "
        "(a café's), reached outside the tunnel; set dns, e.g. dns: [9.9.9.9], or a resolver on a LAN of the VPN",
    ),
    # a value that would add a line to a rendered file: refused before any other check, naming the key
    (BASE, "hub.name", "router\n", f"{P}.hub.name: 'router\\n' {one_line('000A')}"),
    (BASE, "peers.0.interface", "home0\rPostUp = id", f"{P}.peers[0].interface: 'home0\\rPostUp = id' {one_line('000D')}"),
    (BASE, "peers.0.dns", ["fd00::53%\nPostUp = id"], f"{P}.peers[0].dns[0]: 'fd00::53%\\nPostUp = id' {one_line('000A')}"),
    (
        BASE,
        "hub.endpoint",
        "home.example.net\u2028PostUp = id",
        f"{P}.hub.endpoint: 'home.example.net\\u2028PostUp = id' {one_line('2028')}",
    ),
    (BASE, "peers.0.name", "lap\u202etop", f"{P}.peers[0].name: 'lap\\u202etop' {one_line('202E')}"),
    # IPv6 zone ids: ipaddress keeps any text after `%`; no config needs one
    (BASE, "peers.0.dns", ["fe80::1%eth0"], f"{P}.peers[0].dns[0]: 'fe80::1%eth0' {NOT_DNS}"),
    (BASE, "hub.endpoint", "[fe80::1%eth0]:51820", f"{P}.hub.endpoint: '[fe80::1%eth0]:51820' {NOT_ENDPOINT}"),
    (BASE, "hub.endpoint", "fe80::1%eth0", f"{P}.hub.endpoint: 'fe80::1%eth0' {NOT_ENDPOINT}"),
    (AWS, "hub.aws", {"adminCidrs": ["fe80::%1/64"]}, f"{P}.hub.aws.adminCidrs[0]: 'fe80::%1/64' {NOT_NETWORK}"),
    # host names: an all-digit last label is no DNS name; ports are ASCII digits
    (BASE, "hub.ssh.host", "10.10.10.1-10.10.10.1", f"{P}.hub.ssh.host: '10.10.10.1-10.10.10.1' {NOT_HOST}"),
    (BASE, "hub.ssh.host", "300.1.1.1", f"{P}.hub.ssh.host: '300.1.1.1' {NOT_HOST}"),
    (BASE, "hub.endpoint", "home.example.net:٥١٨٢٠", f"{P}.hub.endpoint: 'home.example.net:٥١٨٢٠' {NOT_ENDPOINT}"),
    (AWS, "hub.aws", {"instanceType": "a.b"}, f"{P}.hub.aws.instanceType: 'a.b' {NOT_INSTANCE}"),
]


@pytest.mark.parametrize(("base", "path", "value", "message"), CASES, ids=[f"{c[1]}={c[2]!r}" for c in CASES])
def test_bad_config_names_key_value_and_fix(base, path, value, message):
    with pytest.raises(ConfigError) as caught:
        parse_vpn(edit(base, path, value))
    assert caught.value.messages == [message]


def test_at_least_80_cases():
    assert len(CASES) >= 80


@pytest.mark.parametrize("base", [BASE, PROXY, AWS])
def test_bases_are_valid(base):
    parse_vpn(copy.deepcopy(base))


def test_forwarding_off_is_fine_on_a_hub_that_only_isolates_its_peers():
    parse_vpn(edit(edit(edit(BASE, "hub.lans", []), "sites", []), "hub.forwarding", False))


# X25519 points of small order, as libsodium's blocklist for crypto_scalarmult has them (0, 1, the two
# points of order 8, p-1, p, p+1), each also with bit 255 set, which X25519 ignores.
_P = 2**255 - 19
_SMALL_ORDER = (
    0,
    1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
    _P - 1,
    _P,
    _P + 1,
)
LOW_ORDER_KEYS = [base64.b64encode((u + high).to_bytes(32, "little")).decode() for u in _SMALL_ORDER for high in (0, 2**255)]


def test_low_order_keys_are_the_ones_wgsites_refuses():
    """keys.is_low_order (used for stack keys and for keys hosts report) knows all 14; an ordinary key is not one."""
    from wgsites.keys import generate_private_key, is_low_order, public_key_of

    assert len(set(LOW_ORDER_KEYS)) == 14
    assert all(is_low_order(key) for key in LOW_ORDER_KEYS)
    assert not any(is_low_order(public_key_of(generate_private_key())) for _ in range(20))


def test_several_mistakes_are_all_reported():
    config = edit(edit(BASE, "listenPort", 0), "peers.0.tunnel", "all")
    with pytest.raises(ConfigError) as caught:
        parse_vpn(config)
    assert len(caught.value.messages) == 2


def test_cli_check_exits_2_with_messages(tmp_path, capsys):
    from wgsites.cli import main

    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text("config:\n  wgsites:vpn:\n    network: 10.0.0.0/33\n    hub: {name: a, kind: ssh}\n")
    assert main(["check", str(stack)]) == 2
    err = capsys.readouterr().err
    assert "wgsites:vpn.network: '10.0.0.0/33' is not an IPv4 network" in err
    assert "Traceback" not in err


def rules(count: int) -> list[dict]:
    return [{"protocol": "tcp", "port": 1 + i % 65535, "action": "drop"} for i in range(count)]


def fits(base: dict, count: int) -> bool:
    return rendered_size_errors(parse_vpn(edit(base, "forwardRules", rules(count))), "test", "eu-central-1") == []


def test_forward_rules_never_grow_the_aws_hubs_user_data():
    """They travel in the bundle (SSM chunks), not in the user data: 2000 rules fit, the user data does not change."""
    few, many = (parse_vpn(edit(AWS, "forwardRules", rules(n))) for n in (1, 2000))
    assert rendered_size_errors(many, "test", "eu-central-1") == []
    assert user_data_bytes(many, "test", "eu-central-1") == user_data_bytes(few, "test", "eu-central-1") < 8000


SIZE_CASES = [
    (
        BASE,
        4000,
        "install command of router",
        "Linux's limit of 131072 bytes for one argument (MAX_ARG_STRLEN)",
        lambda vpn: install_argument_bytes(vpn, "test", "router"),
    ),
]


@pytest.mark.parametrize(("base", "count", "what", "limit", "size"), SIZE_CASES, ids=["ssh-install-command"])
def test_rendered_file_too_large_names_key_size_and_fix(base, count, what, limit, size):
    """Sizes follow the templates, so the test measures them; the most rules that fit do fit, one more does not."""
    import re

    vpn = parse_vpn(edit(base, "forwardRules", rules(count)))
    (message,) = rendered_size_errors(vpn, "test", "eu-central-1")
    fit = int(re.fullmatch(r".*; keep at most (\d+) rules", message).group(1))
    assert message == f"{P}.forwardRules: {count} rules make the {what} {size(vpn)} bytes, over {limit}; keep at most {fit} rules"
    assert fits(base, fit) and not fits(base, fit + 1)
    assert fits(base, 10)


def test_check_refuses_a_stack_file_whose_install_command_is_too_long(tmp_path, capsys):
    import yaml

    from wgsites.cli import main

    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump({"config": {P: edit(BASE, "forwardRules", rules(4000))}}))
    assert main(["check", str(path)]) == 2
    assert "wgsites:vpn.forwardRules: 4000 rules make the install command of router" in capsys.readouterr().err
