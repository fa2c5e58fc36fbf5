"""Each user mistake gives exactly one message naming the key, the value and the fix: the fields and the basic rules.

The stacks whose every field parses but which would not work are in test_unworkable_stacks.py.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import pytest

from tests.unit.bad_stacks import AWS, BASE, PROXY, P, edit
from tests.unit.test_unworkable_stacks import CASES as UNWORKABLE
from wgsites.rendering.limits import install_argument_bytes, rendered_size_errors, user_data_bytes
from wgsites.stack.errors import ConfigError
from wgsites.stack.parse import parse_vpn

SYSTEMD_UNIT = "which systemd refuses in a unit name (wg-quick@{}.service cannot start); use letters, digits, _ . -, e.g. wg0"
OUTER_IPV6 = (
    "so the tunnel's outer packets travel over IPv6; write uplink.ipv6: true, or give an IPv4 address or a name as endpoint"
)
# the one file every machine has; systemd-resolved makes it a link
RESOLV_CONF = "is a symbolic link" if Path("/etc/resolv.conf").is_symlink() else "exists and was not written by wgsites"

CASES = [
    (BASE, "network", "10.10.11.1/24", f"{P}.network: '10.10.11.1/24' has host bits set; write the network as 10.10.11.0/24"),
    (BASE, "network", "banana", f"{P}.network: 'banana' is not an IPv4 network; write it like 10.10.10.0/24"),
    (BASE, "network", ..., f"{P}.network: missing; set the VPN network, e.g. network: 10.10.11.0/24"),
    (BASE, "listenPort", 70000, f"{P}.listenPort: 70000 is not a whole number from 1 to 65535; use one in that range"),
    (BASE, "listenPort", "51000", f"{P}.listenPort: '51000' is not a whole number from 1 to 65535; use one in that range"),
    (
        BASE,
        "colour",
        "blue",
        f"{P}.colour: unknown key; use one of: access, domain, forwardRules, hosts, hub, listenPort, metricsDir, network, "
        "network6, peers, presharedKey, sites",
    ),
    (BASE, "presharedKey", "yes", f"{P}.presharedKey: 'yes' is not true or false; write true or false"),
    (BASE, "presharedKey", 1, f"{P}.presharedKey: 1 is not true or false; write true or false"),
    (BASE, "sites.0.presharedKey", "on", f"{P}.sites[0].presharedKey: 'on' is not true or false; write true or false"),
    (BASE, "peers.0.presharedKey", [True], f"{P}.peers[0].presharedKey: [True] is not true or false; write true or false"),
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
    (
        AWS,
        "hub.aws",
        {"subnetId": "subnet-12"},
        f"{P}.hub.aws.subnetId: 'subnet-12' is not a subnet id; copy it from the VPC console, like subnet-0123456789abcdef0",
    ),
    (
        AWS,
        "hub.aws",
        {"ami": "ubuntu-noble"},
        f"{P}.hub.aws.ami: 'ubuntu-noble' is not an AMI id; copy it from the EC2 console (Images, AMIs), like "
        "ami-0123456789abcdef0",
    ),
    (
        AWS,
        "hub.aws",
        {"vpcId": "vpc-0fedcba9876543210"},
        f"{P}.hub.aws.vpcId: 'vpc-0fedcba9876543210' without subnetId; name the public subnet of that VPC the gateway "
        "goes in (its route table sends 0.0.0.0/0 to an internet gateway): aws.subnetId: subnet-...",
    ),
    (
        BASE,
        "peers.0.aliases",
        ["Laptop"],
        f"{P}.peers[0].aliases[0]: 'Laptop' is not a valid name; use 1-32 lowercase letters, digits and inner dashes",
    ),
    (BASE, "peers.0.aliases", "notebook", f"{P}.peers[0].aliases: 'notebook' is not a list of strings; write it as [a, b]"),
    (
        BASE,
        "peers.0.aliases",
        ["office"],
        f"{P}.peers[0].aliases[0]: 'office' is also {P}.sites[0]; an alias is a name this node had before, so it "
        "cannot be another node's: remove it, or rename that node",
    ),
    (
        BASE,
        "hub.aliases",
        ["router"],
        f"{P}.hub.aliases[0]: 'router' is listed already (or is its name); remove it",
    ),
    (AWS, "hub.uplink", "dialup", f"{P}.hub.uplink.type: 'dialup' is not one of ethernet, pppoe, dslite; use one of them"),
    (AWS, "network", "10.99.0.0/32", f"{P}.network: '10.99.0.0/32' has no room for two nodes; use a /31 or larger network"),
    # the seven stacks of 135 mutated ones that were accepted although wrong (issue 25, point 9)
    (BASE, "hub.interface", "wg+0", f"{P}.hub.interface: 'wg+0' has '+', {SYSTEMD_UNIT.format('wg+0')}"),
    (BASE, "sites.0.interface", "wg=0", f"{P}.sites[0].interface: 'wg=0' has '=', {SYSTEMD_UNIT.format('wg=0')}"),
    (
        BASE,
        "hub.endpoint",
        "10.10.10.1",
        f"{P}.hub.endpoint: '10.10.10.1' is inside the hub's own LAN 10.10.10.0/24, which every spoke routes into the "
        "tunnel, so the tunnel's packets to the hub would go into the tunnel; give the hub's public address or name",
    ),
    (
        BASE,
        "hub.endpoint",
        "10.20.0.5:51000",
        f"{P}.sites[0].lans[0]: '10.20.0.0/24' contains the hub's endpoint 10.20.0.5:51000; every other spoke routes it "
        "into the tunnel, so their packets to the hub would go into the tunnel; give the hub an endpoint outside it, or "
        "renumber that LAN",
    ),
    (
        edit(BASE, "hub.endpoint", "[2001:db8::1]:51000"),
        "hub.uplink",
        {"ipv6": False},
        f"{P}.hub.uplink.ipv6: false, but the endpoint '[2001:db8::1]:51000' is an IPv6 address, {OUTER_IPV6}",
    ),
    (
        edit(BASE, "sites.0.endpoint", "[2001:db8::7]:51000"),
        "sites.0.uplink",
        {"type": "ethernet", "ipv6": False},
        f"{P}.sites[0].uplink.ipv6: false, but the endpoint '[2001:db8::7]:51000' is an IPv6 address, {OUTER_IPV6}",
    ),
    (
        BASE,
        "hub.aws",
        {"instanceType": "t4g.nano"},
        f"{P}.hub.aws: set on an ssh hub, which nothing of aws applies to; remove aws, or use kind: aws",
    ),
    (
        BASE,
        "peers.0.file",
        "/etc/resolv.conf",
        f"{P}.peers[0].file: '/etc/resolv.conf' {RESOLV_CONF}; wgsites replaces only its own configs: pick another path "
        "or move that file",
    ),
]


@pytest.mark.parametrize(("base", "path", "value", "message"), CASES, ids=[f"{c[1]}={c[2]!r}" for c in CASES])
def test_bad_config_names_key_value_and_fix(base, path, value, message):
    with pytest.raises(ConfigError) as caught:
        parse_vpn(edit(base, path, value))
    assert caught.value.messages == [message]


def test_at_least_80_cases_in_all():
    assert len(CASES) + len(UNWORKABLE) >= 80


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
    from wgsites.stack.keys import generate_private_key, is_low_order, public_key_of

    assert len(set(LOW_ORDER_KEYS)) == 14
    assert all(is_low_order(key) for key in LOW_ORDER_KEYS)
    assert not any(is_low_order(public_key_of(generate_private_key())) for _ in range(20))


def test_several_mistakes_are_all_reported():
    config = edit(edit(BASE, "listenPort", 0), "peers.0.tunnel", "all")
    with pytest.raises(ConfigError) as caught:
        parse_vpn(config)
    assert len(caught.value.messages) == 2


def test_cli_check_exits_2_with_messages(tmp_path, capsys):
    from wgsites.operations.cli import main

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


def test_an_aws_hub_whose_bundle_passes_what_its_gateway_reads_is_refused():
    """The gateway reads at most MAX_BUNDLE_CHUNKS chunks whatever a manifest says (bundle.py): a stack whose bundle
    takes more is refused at `check`, before IAM would refuse the role's policy at `up`."""
    from bench.scale_stack import scale_vpn
    from wgsites.rendering.delivery import DeliveryPlan
    from wgsites.rendering.ssm_format import MAX_BUNDLE_CHUNKS

    large, fitting = parse_vpn(scale_vpn(5000)), parse_vpn(scale_vpn(4400))
    chunks = DeliveryPlan(large, "test").gateway.bundle_chunks
    assert DeliveryPlan(fitting, "test").gateway.bundle_chunks <= MAX_BUNDLE_CHUNKS < chunks
    assert rendered_size_errors(fitting, "test", "eu-central-1") == []
    (message,) = rendered_size_errors(large, "test", "eu-central-1")
    assert message == (
        f"{P}.peers: the bundle of the aws hub gateway takes {chunks} SSM parameters of "
        "4000 characters, over the 142 its gateway reads (what IAM's 10,240-character limit on the role's policies "
        "lets it read); split the peers over two stacks, each with its own hub, or keep fewer forwardRules"
    )


def test_check_refuses_a_stack_file_whose_install_command_is_too_long(tmp_path, capsys):
    import yaml

    from wgsites.operations.cli import main

    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump({"config": {P: edit(BASE, "forwardRules", rules(4000))}}))
    assert main(["check", str(path)]) == 2
    assert "wgsites:vpn.forwardRules: 4000 rules make the install command of router" in capsys.readouterr().err
