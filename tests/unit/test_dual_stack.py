"""Dual stack (network6): each mistake one message naming key, value and fix; what a dual-stack node renders.

Why: an IPv6 network beside the IPv4 one touches every file a node gets (Address, AllowedIPs,
sysctl, nftables); a full-tunnel peer's IPv6 must leave through the hub or be blocked there,
never leak beside the tunnel. The real consumers (wg, wg-quick, the apps' parsers) read these
configs in tests/tools/test_dual_stack_tools.py; the lab runs them in tests/lab/test_dual_stack.py.
"""

from __future__ import annotations

import copy
import ipaddress

import pytest

from tests.stacks import STACKS, dual_stack_raw, dual_stack_vpn
from tests.unit.bad_stacks import AWS, BASE, P, edit
from wgsites.rendering.diagram import dot_source
from wgsites.rendering.render import KeyRing, render_nftables, render_sysctl, render_wg_quick
from wgsites.stack.addressing import AddressPlan, describe
from wgsites.stack.errors import ConfigError
from wgsites.stack.parse import parse_vpn

DUAL = {**copy.deepcopy(BASE), "network6": "fd10:11::/64"}
# a /16 beside a /120: an IPv4 offset past 255 derives no address in network6
WIDE = {
    "network": "10.50.0.0/16",
    "network6": "fd10:11::/120",
    "hub": {**BASE["hub"], "address": "10.50.0.1"},
    "peers": [{"name": "laptop", "address": "10.50.0.2"}],
}
AWS6 = {**copy.deepcopy(AWS), "network6": "fd10:99::/64"}

NOT6 = "is not an IPv6 network; write it like fd10:99::/64 (a ULA) or a prefix you own"
NOT_ADDRESS6 = "is not an IPv6 address; write it like fd10:99::2 (no prefix)"

CASES = [
    (
        DUAL,
        "network6",
        "banana",
        f"{P}.network6: 'banana' {NOT6}",
    ),
    (DUAL, "network6", "fd10:11::1/64", f"{P}.network6: 'fd10:11::1/64' has host bits set; write the network as fd10:11::/64"),
    (
        DUAL,
        "network6",
        "10.10.11.0/24",
        f"{P}.network6: '10.10.11.0/24' {NOT6}",
    ),
    (
        DUAL,
        "network6",
        "ff05::/64",
        f"{P}.network6: 'ff05::/64' covers multicast ff00::/8, which is never routed through a tunnel; "
        "use a ULA such as fd10:99::/64 or a prefix you own",
    ),
    (
        DUAL,
        "network6",
        "fe80::/64",
        f"{P}.network6: 'fe80::/64' covers link-local fe80::/10, which is never routed through a tunnel; "
        "use a ULA such as fd10:99::/64 or a prefix you own",
    ),
    (
        DUAL,
        "network6",
        "::ffff:0:0/112",
        f"{P}.network6: '::ffff:0:0/112' covers IPv4-mapped addresses ::ffff:0:0/96, which is never routed through a "
        "tunnel; use a ULA such as fd10:99::/64 or a prefix you own",
    ),
    (
        DUAL,
        "network6",
        "fd00::/32",
        f"{P}.network6: 'fd00::/32' is a /32; use a /48 to /120, e.g. a /64 such as fd10:99::/64 "
        "(a VPN network covers only its own nodes)",
    ),
    (
        DUAL,
        "network6",
        "fd10:11::/124",
        f"{P}.network6: 'fd10:11::/124' is a /124; use a /48 to /120, e.g. a /64 such as fd10:99::/64 "
        "(a VPN network covers only its own nodes)",
    ),
    (
        DUAL,
        "peers.0.address6",
        "10.10.11.2",
        f"{P}.peers[0].address6: '10.10.11.2' {NOT_ADDRESS6}",
    ),
    (
        DUAL,
        "peers.0.address6",
        "fd10:11::2/64",
        f"{P}.peers[0].address6: 'fd10:11::2/64' {NOT_ADDRESS6}",
    ),
    (
        BASE,
        "peers.0.address6",
        "fd10:11::2",
        f"{P}.peers[0].address6: 'fd10:11::2' without network6; set {P}.network6 (e.g. fd10:99::/64) or remove address6",
    ),
    (
        DUAL,
        "peers.0.address6",
        "fd10:12::2",
        f"{P}.peers[0].address6: 'fd10:12::2' is outside network6 fd10:11::/64; pick a free address in fd10:11::/64",
    ),
    (
        DUAL,
        "peers.0.address6",
        "fd10:11::",
        f"{P}.peers[0].address6: 'fd10:11::' is the network address of fd10:11::/64; pick a free address in fd10:11::/64",
    ),
    (
        DUAL,
        "peers.0.address6",
        "fd10:11::3",  # the site office's derived address (10.10.11.3)
        f"{P}.peers[0].address6: 'fd10:11::3' is already used by {P}.sites[0]; pick a free address in fd10:11::/64",
    ),
    (
        WIDE,
        "peers.0.address",
        "10.50.1.2",
        f"{P}.peers[0].address6: 'fd10:11::102' (derived from address 10.50.1.2: network6 + its offset) is outside "
        "network6 fd10:11::/120; set address6 to a free address in it",
    ),
    (DUAL, "hub.ipv6Egress", "yes", f"{P}.hub.ipv6Egress: 'yes' is not true or false; write true or false"),
    (
        BASE,
        "hub.ipv6Egress",
        True,
        f"{P}.hub.ipv6Egress: true without network6; the tunnel carries no IPv6 to send out, so set {P}.network6 "
        "(e.g. fd10:99::/64) or remove ipv6Egress",
    ),
    (
        DUAL,
        "hub.ipv6Egress",
        True,
        f"{P}.hub.ipv6Egress: true with the ULA network6 fd10:11::/64, which the internet does not route back; "
        "set hub.masquerade (NAT out of the hub's address), or use a prefix you own routed to the hub",
    ),
    (
        AWS6,
        "hub.ipv6Egress",
        True,
        f"{P}.hub.ipv6Egress: true on an aws hub without aws.subnetId; a default VPC has no IPv6, so name a dual-stack "
        "public subnet (an IPv6 CIDR block, ::/0 routed to the internet gateway): aws.subnetId: subnet-...",
    ),
]


@pytest.mark.parametrize(("base", "path", "value", "message"), CASES, ids=[f"{c[1]}={c[2]!r}" for c in CASES])
def test_bad_dual_stack_config_names_key_value_and_fix(base, path, value, message):
    with pytest.raises(ConfigError) as caught:
        parse_vpn(edit(base, path, value))
    assert caught.value.messages == [message]


def test_the_bool_message_is_the_readers_own():
    """The ipv6Egress case above quotes the reader's wording for any bool: the same as for forwarding."""
    with pytest.raises(ConfigError) as caught:
        parse_vpn(edit(BASE, "hub.forwarding", "yes"))
    assert caught.value.messages == [f"{P}.hub.forwarding: 'yes' is not true or false; write true or false"]


def test_fixed_as_the_messages_say_each_stack_parses():
    parse_vpn(edit(edit(DUAL, "hub.ipv6Egress", True), "hub.masquerade", "eth0"))
    parse_vpn(edit(DUAL, "peers.0.address6", "fd10:11::99"))
    parse_vpn(edit(DUAL, "network6", "2001:db8:5::/64"))


KEYS = "ccoBvlR+TqgVW9QgONvVmH5ErbYYrvDfk4OeTFdNgUU="


def keyring(vpn) -> KeyRing:
    return KeyRing(public={n.name: KEYS for n in vpn.nodes}, private={n.name: KEYS for n in vpn.nodes if n.is_device})


def lines(text: str, key: str) -> list[str]:
    return [line.split(" = ", 1)[1] for line in text.splitlines() if line.startswith(f"{key} = ")]


def ipv4_only(raw: dict) -> dict:
    """RAW without its IPv6 keys: the stack before network6 was added."""
    raw = {k: v for k, v in raw.items() if k != "network6"}
    hub = {k: v for k, v in raw["hub"].items() if k not in ("address6", "ipv6Egress")}
    if "aws" in hub:  # only an aws hub has aws options
        hub["aws"] = {k: v for k, v in hub["aws"].items() if k != "subnetId"}
    spokes = {key: [{k: v for k, v in s.items() if k != "address6"} for s in raw.get(key, [])] for key in ("sites", "peers")}
    return {**raw, "hub": hub, **spokes}


@pytest.mark.parametrize("stack", STACKS)
def test_adding_network6_keeps_every_ipv4_line_and_adds_the_ipv6_beside_it(stack):
    """Stable addresses: the IPv4 half of every Address and AllowedIPs is what the stack had, the IPv6 half follows."""
    v4 = parse_vpn(ipv4_only(dual_stack_raw(stack)))
    dual = dual_stack_vpn(stack)
    endpoint = "203.0.113.10" if dual.hub.kind == "aws" else None
    for node in dual.nodes:
        before = render_wg_quick(v4, node.name, stack, keyring(v4), endpoint)
        after = render_wg_quick(dual, node.name, stack, keyring(dual), endpoint)
        (address,) = lines(after, "Address")
        assert address == f"{lines(before, 'Address')[0]}, {dual.address6_of(node)}/64"
        for old, new in zip(lines(before, "AllowedIPs"), lines(after, "AllowedIPs"), strict=True):
            gained = [n for n in new.split(", ") if n not in old.split(", ")]
            assert [n for n in new.split(", ") if ":" not in n] == old.split(", ") or old == "0.0.0.0/0, ::/0"
            assert all(ipaddress.ip_network(n).version == 6 for n in gained)


def test_the_hub_routes_each_spoke_its_128_and_split_spokes_the_whole_network6():
    vpn = dual_stack_vpn("home")
    plans = AddressPlan(vpn, "203.0.113.10").plans()
    hub = {e.name: [str(n) for n in e.allowed_ips] for e in plans["gateway"].peers}
    assert hub == {
        "home": ["10.99.0.2/32", "fd10:5::2/128", "10.10.10.0/24"],
        "laptop": ["10.99.0.10/32", "fd10:5::a/128"],
        "phone": ["10.99.0.11/32", "fd10:5::b/128"],
    }
    assert [str(n) for n in plans["laptop"].peers[0].allowed_ips] == ["10.99.0.0/24", "fd10:5::/64", "10.10.10.0/24"]
    assert [str(n) for n in plans["phone"].peers[0].allowed_ips] == ["0.0.0.0/0", "::/0"]  # as before: nothing leaks
    assert str(plans["phone"].address6) == "fd10:5::b/64"


def test_an_explicit_address6_wins_over_the_derived_one():
    vpn = parse_vpn(edit(DUAL, "peers.0.address6", "fd10:11::beef"))
    assert str(AddressPlan(vpn).plan("laptop").address6) == "fd10:11::beef/64"
    assert "fd10:11::beef/128" in [str(n) for e in AddressPlan(vpn).hub_plan().peers for n in e.allowed_ips]


def test_with_ipv6_egress_the_hub_forwards_and_masquerades_ipv6_and_lets_only_replies_in():
    vpn = dual_stack_vpn("home")
    nft = render_nftables(vpn, "gateway", "home")
    assert 'ip6 saddr fd10:5::/64 ip6 daddr != fd10:5::/64 oifname "ens5" masquerade' in nft
    assert 'iifname != "wg0" ip6 daddr fd10:5::/64 ct state != { established, related } drop' in nft
    assert "reject with icmpv6" not in nft
    sysctl = render_sysctl(vpn, "gateway", "home")
    assert "net.ipv6.conf.all.forwarding = 1" in sysctl
    assert "net.ipv6.conf.ens5.accept_ra = 2" in sysctl  # forwarding must not cost the uplink its default route


def test_without_ipv6_egress_the_hub_rejects_tunnel_ipv6_bound_outside_network6():
    vpn = dual_stack_vpn("home", egress=False)
    nft = render_nftables(vpn, "gateway", "home")
    assert 'iifname "wg0" ip6 daddr != fd10:5::/64 reject with icmpv6 type admin-prohibited' in nft
    assert "ip6 saddr" not in nft  # no IPv6 NAT
    sysctl = render_sysctl(vpn, "gateway", "home")
    assert "net.ipv6.conf.all.forwarding = 1" in sysctl and "accept_ra" not in sysctl


def test_a_hub_without_masquerade_gets_the_block_and_its_hooks():
    """The router example masquerades nothing: with network6 it still gets an nftables file (the block), loaded by PostUp."""
    vpn = dual_stack_vpn("router")
    assert "reject with icmpv6" in render_nftables(vpn, "router", "router")
    config = render_wg_quick(vpn, "router", "router", keyring(vpn))
    assert "PostUp = nft -f /etc/wireguard/%i.nft" in config
    assert render_nftables(vpn, "laptop", "router") is None


def test_without_network6_nothing_changes():
    vpn = parse_vpn(BASE)
    assert "ip6" not in (render_nftables(vpn, "router", "router") or "")
    assert "ipv6" not in render_sysctl(vpn, "router", "router")
    assert AddressPlan(vpn).plan("laptop").address6 is None


def test_an_ipv6_outer_transport_gets_the_smaller_mtu_on_both_ends():
    """IPv6's header is 20 bytes longer: 1500 - 80 (docs/lab-notes.md 11), whether the uplink says ipv6 or the
    endpoint is an IPv6 address (then the outer packets are IPv6 whatever the uplink says)."""
    v4 = parse_vpn(DUAL)
    by_uplink = parse_vpn(edit(DUAL, "hub.uplink", {"ipv6": True}))
    by_endpoint = parse_vpn(edit(DUAL, "hub.endpoint", "[2001:db8::1]:51000"))
    site6 = parse_vpn(edit(DUAL, "sites.0.endpoint", "[2001:db8::7]:51000"))
    assert [AddressPlan(v).plan("laptop").mtu for v in (v4, by_uplink, by_endpoint)] == [1440, 1420, 1420]
    assert [AddressPlan(v).hub_plan().mtu for v in (v4, by_uplink, by_endpoint, site6)] == [1440, 1420, 1420, 1420]
    assert AddressPlan(site6).plan("laptop").mtu == 1440  # the laptop dials the hub over IPv4
    assert lines(render_wg_quick(by_endpoint, "laptop", "s", keyring(by_endpoint)), "Endpoint") == ["[2001:db8::1]:51000"]


def test_ds_lite_takes_each_outer_family_from_its_own_path():
    """DS-Lite carries IPv4 in a softwire over the IPv6 line: IPv4 outer packets get 1460 (1400 inside the tunnel),
    IPv6 outer packets go native at 1500 (1420), never 1460 - 80; a measured `mtu` is the IPv6 line's."""
    dslite = parse_vpn(edit(DUAL, "hub.uplink", "dslite"))
    dslite6 = parse_vpn(edit(DUAL, "hub.uplink", {"type": "dslite", "ipv6": True}))
    by_endpoint = parse_vpn(edit(edit(DUAL, "hub.uplink", "dslite"), "hub.endpoint", "[2001:db8::1]:51000"))
    measured = parse_vpn(edit(DUAL, "hub.uplink", {"type": "dslite", "mtu": 1480}))
    measured6 = parse_vpn(edit(DUAL, "hub.uplink", {"type": "dslite", "mtu": 1480, "ipv6": True}))
    plans = [AddressPlan(v) for v in (dslite, dslite6, by_endpoint, measured, measured6)]
    assert [p.plan("laptop").mtu for p in plans] == [1400, 1420, 1420, 1380, 1400]
    assert [p.hub_plan().mtu for p in plans] == [1400, 1420, 1420, 1380, 1400]


def test_check_and_the_diagram_name_both_networks_and_addresses():
    vpn = dual_stack_vpn("home")
    assert describe(vpn).startswith("ok: aws hub gateway (10.99.0.1) on 10.99.0.0/24 and fd10:5::/64, ")
    assert "wg0 10.99.0.1/24, fd10:5::1/64, MTU" in dot_source(vpn, "home")
