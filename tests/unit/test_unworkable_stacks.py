"""Stacks every field of which parses, but which would not work (or would quietly do the wrong thing) once
deployed: each is refused with one message naming the key, the value and the fix (wgsites/stack/validate.py, and the
line-break walk of the reader)."""

from __future__ import annotations

import pytest

from tests.unit.bad_stacks import AWS, BASE, NOT_DNS, NOT_ENDPOINT, NOT_HOST, NOT_INSTANCE, NOT_NETWORK, PROXY, P, edit, one_line
from wgsites.stack.errors import ConfigError
from wgsites.stack.parse import parse_vpn

CASES = [
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
        {"name": "office", "address": "10.10.11.3", "interface": "wg-0", "ssh": {"host": "10.10.10.1"}},
        f"{P}.sites[0].interface: 'wg-0' and {P}.hub's 'wg_0' share the nftables table wgsites_wg_0 "
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
    # a full tunnel without a resolver of its own, on a hub that serves none, keeps the local network's
    (
        edit(edit(AWS, "peers.0.dns", ...), "hub.dns", False),
        "peers.0.tunnel",
        "full",
        f"{P}.peers[0].dns: missing for a full-tunnel peer, and the hub serves no DNS (hub.dns: false), so it "
        "would keep the resolver of the network it is on (a café's), reached outside the tunnel; set dns, e.g. "
        "dns: [9.9.9.9], or a resolver on a LAN of the VPN, or let the hub serve DNS (remove hub.dns: false)",
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
def test_unworkable_stack_names_key_value_and_fix(base, path, value, message):
    with pytest.raises(ConfigError) as caught:
        parse_vpn(edit(base, path, value))
    assert caught.value.messages == [message]
