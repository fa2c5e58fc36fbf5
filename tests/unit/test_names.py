"""Names, not numbers: the stack's domain and named hosts, the hub's resolver, and the DNS each peer is given."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import subprocess

import pytest

from tests.stacks import render_stack, stack_file
from tests.unit.bad_stacks import AWS, BASE, P, edit
from tests.wgconf import parse
from wgsites.rendering.render import KeyRing, render_install_script, render_resolver, render_wg_quick
from wgsites.stack.check import read_stack
from wgsites.stack.parse import ConfigError, parse_vpn
from wgsites.stack.resolver import peer_dns, records, reverse_zones

KEY = "ccoBvlR+TqgVW9QgONvVmH5ErbYYrvDfk4OeTFdNgUU="


def test_the_defaults_serve_home_arpa_from_the_hub():
    vpn = parse_vpn(BASE)
    assert vpn.domain == "home.arpa" and vpn.hub.dns is not None and vpn.hub.dns.forwarders == ()
    assert vpn.hosts == ()


def test_each_peer_gets_the_hub_unless_it_names_its_own_or_none():
    raw = edit(
        BASE,
        "peers",
        [
            {"name": "laptop", "address": "10.10.11.2"},
            {"name": "own", "address": "10.10.11.4", "dns": ["9.9.9.9"]},
            {"name": "quiet", "address": "10.10.11.5", "dns": "none"},
        ],
    )
    raw["hub"]["masquerade"] = True
    raw["peers"].append({"name": "phone", "address": "10.10.11.6", "tunnel": "full"})  # no dns: no refusal now
    vpn = parse_vpn(edit(raw, "domain", "vpn.example.com"))
    given = {s.name: peer_dns(vpn, s) for s in vpn.spokes}
    assert given == {
        "office": (),  # a site is a router: its own resolver serves its LAN
        "laptop": ("10.10.11.1", "vpn.example.com"),  # split: the hub for the VPN's domain
        "own": ("9.9.9.9",),
        "quiet": (),
        "phone": ("10.10.11.1",),  # full: every lookup through the tunnel to the hub
    }
    keys = KeyRing(public={n.name: KEY for n in vpn.nodes}, private={n.name: KEY for n in vpn.nodes})
    laptop = parse(render_wg_quick(vpn, "laptop", "test", keys))
    assert laptop.interface.get("DNS") == "10.10.11.1, vpn.example.com"
    assert parse(render_wg_quick(vpn, "quiet", "test", keys)).interface.get("DNS") is None
    off = parse_vpn(edit(edit(raw, "hub.dns", False), "peers.3.dns", ["9.9.9.9"]))
    assert peer_dns(off, off.node("laptop")) == ()  # no resolver on the hub: no DNS line, as before


def test_records_name_every_node_and_host_forward_and_reverse():
    named = {"nas": "10.10.10.20", "printer": "10.20.0.9/32", "home-lan": "10.10.10.0/24", "v6-host": "fd10:99::99/128"}
    raw = edit(edit(BASE, "hosts", named), "network6", "fd10:99::/64")
    vpn = parse_vpn(raw)
    assert records(vpn) == (
        ("10.10.11.1", "router.home.arpa"),
        ("fd10:99::1", "router.home.arpa"),
        ("10.10.11.3", "office.home.arpa"),
        ("fd10:99::3", "office.home.arpa"),
        ("10.10.11.2", "laptop.home.arpa"),
        ("fd10:99::2", "laptop.home.arpa"),
        ("10.10.10.20", "nas.home.arpa"),
        ("10.20.0.9", "printer.home.arpa"),
        ("fd10:99::99", "v6-host.home.arpa"),
    )  # a named network (home-lan) is a name for the access rules alone: no address answers for a whole LAN
    assert vpn.hosts[0] == ("nas", ipaddress.ip_network("10.10.10.20/32"))
    assert reverse_zones(vpn) == ("11.10.10.in-addr.arpa", "0.0.0.0.0.0.0.0.9.9.0.0.0.1.d.f.ip6.arpa")


def test_a_network_off_the_label_boundary_claims_no_address_outside_it():
    vpn = parse_vpn(edit(edit(BASE, "network", "10.10.8.0/22"), "hub.lans", ["10.10.20.0/24"]))
    assert reverse_zones(vpn) == tuple(f"{i}.10.10.in-addr.arpa" for i in range(8, 12))
    sites = parse_vpn(
        AWS
        | {
            "network": "10.10.9.0/31",
            "hub": AWS["hub"] | {"address": "10.10.9.0"},
            "peers": [AWS["peers"][0] | {"address": "10.10.9.1"}],
        }
    )
    assert reverse_zones(sites) == ("0.9.10.10.in-addr.arpa", "1.9.10.10.in-addr.arpa")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("domain", "home..arpa", f"{P}.domain: 'home..arpa' is not a DNS domain; write it like home.arpa or vpn.example.com"),
        (
            "domain",
            "home.local",
            f"{P}.domain: 'home.local' is multicast DNS's (RFC 6762), which devices never ask a server; use home.arpa",
        ),
        (
            "hosts",
            {"nas": "192.168.1.20"},
            f"{P}.hosts.nas: '192.168.1.20' is on no LAN of the VPN (10.10.11.0/24, 10.10.10.0/24, 10.20.0.0/24), so no "
            "spoke reaches it through the tunnel; fix the address, or add its LAN to the `lans` of the hub or site it is "
            "behind",
        ),
        (
            "hosts",
            {"office": "10.10.10.20"},
            f"{P}.hosts.office: '10.10.10.20' gives a host the name of a node, which is office.home.arpa already; "
            "give the host another name",
        ),
        (
            "hosts",
            {"nas": "10.10.11.3"},
            f"{P}.hosts.nas: '10.10.11.3' is the VPN address of office, named office.home.arpa already; name a host on "
            "a LAN, or remove this entry",
        ),
        (
            "hosts",
            {"nas": "the nas"},
            f"{P}.hosts.nas: 'the nas' is not an address or a network; write it like 192.168.1.20 or 192.168.1.0/24",
        ),
        (
            "hosts",
            {"NAS": "10.10.10.20"},
            f"{P}.hosts.NAS: 'NAS' is not a valid name; use 1-32 lowercase letters, digits and inner dashes",
        ),
        ("hosts", ["nas"], f"{P}.hosts: ['nas'] is not a mapping; write it as `key: value` lines"),
        (
            "hub.dns",
            "yes please",
            f"{P}.hub.dns: 'yes please' is not true, false or {{forwarders: [...]}}; write dns: false for no resolver on the hub",
        ),
        (
            "hub.dns",
            {"forwarders": ["dns.quad9.net"]},
            f"{P}.hub.dns.forwarders[0]: 'dns.quad9.net' is not an IP address; name resolvers by address, e.g. 9.9.9.9",
        ),
        (
            "hub.dns",
            {"forwarders": ["10.10.11.1"]},
            f"{P}.hub.dns.forwarders[0]: '10.10.11.1' is the hub's own VPN address, where this resolver listens: it would "
            "ask itself; name an upstream resolver, e.g. 9.9.9.9, or remove forwarders to use the hub's own",
        ),
        ("hub.dns", {"servers": ["9.9.9.9"]}, f"{P}.hub.dns.servers: unknown key; use one of: forwarders"),
        (
            "peers.0.dns",
            "hub",
            f"{P}.peers[0].dns: 'hub' is not a list of DNS servers; write dns: [10.10.10.1], or dns: none for no DNS line",
        ),
    ],
)
def test_a_bad_name_setting_names_key_value_and_fix(path, value, message):
    with pytest.raises(ConfigError) as caught:
        parse_vpn(edit(BASE, path, value))
    assert caught.value.messages == [message]


def test_the_resolver_files_listen_on_the_vpn_addresses_only_and_name_everything():
    raw = edit(edit(BASE, "hosts", {"nas": "10.10.10.20"}), "network6", "fd10:99::/64")
    files = render_resolver(parse_vpn(raw), "router", "home")
    assert files is not None
    conf = files.conf.splitlines()
    assert [line for line in conf if line.startswith("listen-address=")] == [
        "listen-address=10.10.11.1",
        "listen-address=fd10:99::1",
    ]
    assert "bind-dynamic" in conf and "no-hosts" in conf and not any(line.startswith("interface=") for line in conf)
    assert "resolv-file=/etc/resolv.conf" in conf and "no-resolv" not in conf  # the hub's own resolvers
    keys = KeyRing(public={n.name: KEY for n in parse_vpn(raw).nodes})
    hub_config = render_wg_quick(parse_vpn(raw), "router", "home", keys).splitlines()
    assert "# name 10.10.10.20 nas.home.arpa" in hub_config and "# name fd10:99::1 router.home.arpa" in hub_config
    assert not any(line.startswith("# name") for line in render_wg_quick(parse_vpn(raw), "laptop", "home", keys).splitlines())
    assert files.servers.splitlines()[1:] == [
        "server=/home.arpa/",
        "server=/11.10.10.in-addr.arpa/",
        "server=/0.0.0.0.0.0.0.0.9.9.0.0.0.1.d.f.ip6.arpa/",
    ]
    forwarded = render_resolver(parse_vpn(edit(BASE, "hub.dns", {"forwarders": ["9.9.9.9"]})), "router", "home")
    assert forwarded is not None and "no-resolv" in forwarded.conf.splitlines()
    assert forwarded.servers.splitlines()[-1] == "server=9.9.9.9"
    assert render_resolver(parse_vpn(raw), "laptop", "home") is None
    assert render_resolver(parse_vpn(edit(BASE, "hub.dns", False)), "router", "home") is None


def test_the_aws_hub_gets_its_resolver_in_its_bundle_and_its_user_data_stays_byte_identical(tmp_path):
    with_dns = render_stack("travel", tmp_path / "on")
    off = read_stack(stack_file("travel")).vpn
    without = render_stack("travel", tmp_path / "off", dataclasses.replace(off, hub=dataclasses.replace(off.hub, dns=None)))
    hub = off.hub.name
    assert with_dns.files[hub]["user-data.yaml"] == without.files[hub]["user-data.yaml"]  # no instance stopped for it
    bundle = json.loads(with_dns.files[hub]["bundle.json"])
    script = bundle["install"]
    assert "listen-address=10.90.90.2\n" in script and "# name 10.90.90.2 gateway.home.arpa\n" in bundle["config"]
    assert "listen-address=" not in without.files[hub]["install.sh"]  # dns: false: the script removes the resolver
    assert "remove_resolver\n" in without.files[hub]["install.sh"]


@pytest.mark.parametrize(
    "raw",
    [
        edit(edit(BASE, "hosts", {"nas": "10.10.10.20"}), "network6", "fd10:99::/64"),  # each peer named by its [Peer]
        {  # a point-to-point /31: the site's AllowedIPs is the whole network, so its name is spelled out
            "network": "10.10.9.0/31",
            "network6": "fd10:9::/120",
            "hub": {
                "name": "alpha",
                "kind": "ssh",
                "address": "10.10.9.0",
                "address6": "fd10:9::10",
                "endpoint": "a.example.net",
                "ssh": {"host": "a"},
            },
            "sites": [{"name": "beta", "address": "10.10.9.1", "lans": ["10.10.11.0/24"], "ssh": {"host": "b"}}],
        },
    ],
    ids=["peers", "point-to-point"],
)
def test_the_install_script_names_exactly_the_records_from_the_hubs_config(raw, tmp_path):
    """The hub's hosts file, as its install script makes it (dns_hosts, run here with bash and awk), holds exactly
    every node's and host's records; a peer's name costs its config no line of its own."""
    vpn = parse_vpn(raw)
    keys = KeyRing(public={n.name: KEY for n in vpn.nodes})
    config = tmp_path / "wg0.conf"
    config.write_text(render_wg_quick(vpn, vpn.hub.name, "home", keys))
    script = render_install_script(vpn, vpn.hub.name, "home")
    function = re.search(r"^dns_hosts\(\) \{.*?^\}$", script, re.M | re.S)
    assert function is not None
    run = f"IFACE=wg0 CONF={config} DNS_DOMAIN={vpn.domain}\n{function.group(0)}\ndns_hosts"
    done = subprocess.run(["bash", "-c", run], capture_output=True, text=True, check=True)
    made = [tuple(line.split()) for line in done.stdout.splitlines() if not line.startswith("#")]
    assert sorted(made) == sorted(records(vpn))
    spelled = [line for line in config.read_text().splitlines() if line.startswith("# name ")]
    assert len(spelled) == len(records(vpn)) - (4 if "peers" in str(raw) else 0)
