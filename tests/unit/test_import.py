"""`wgsites import`: the guide's own files become stacks that render the same peers; nothing secret is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wgsites.operations.cli import main
from wgsites.operations.importer import ImportOptions, import_vpn, same_peers, stack_text
from wgsites.rendering.wg_quick_parser import parse_wg_config
from wgsites.stack.errors import ConfigError
from wgsites.stack.keys import generate_private_key, public_key_of
from wgsites.stack.parse import parse_vpn
from wgsites.stack.resolver import peer_dns

KEYS = {name: generate_private_key() for name in ("router", "laptop", "alpha", "beta", "gateway", "client")}
PUB = {name: public_key_of(key) for name, key in KEYS.items()}

# The guide's files, keys filled in as `wg genkey` would.
ROUTER = f"""[Interface]
PrivateKey = {KEYS["router"]}
ListenPort = 51000
Address = 10.10.11.1/24

[Peer]
PublicKey = {PUB["laptop"]}
AllowedIPs = 10.10.11.2
"""
LAPTOP = f"""[Interface]
PrivateKey = {KEYS["laptop"]}
ListenPort = 51000
Address = 10.10.11.2/24

[Peer]
PublicKey = {PUB["router"]}
Endpoint = home.example.net:51000
AllowedIPs = 10.10.11.0/24,10.10.10.0/24
"""
ALPHA = f"""[Interface]
PostUp = wg set %i private-key /etc/wireguard/%i.key
Address = 10.10.9.0/31
ListenPort = 51000

[Peer]
# beta site
PublicKey = {PUB["beta"]}
AllowedIPs = 10.10.11.0/24,10.10.9.0/31
Endpoint = 198.51.100.20:51000
"""
BETA = f"""[Interface]
Address = 10.10.9.1/31
PostUp = wg set %i private-key /etc/wireguard/%i.key
ListenPort = 51000

[Peer]
# alpha site
PublicKey = {PUB["alpha"]}
AllowedIPs = 10.10.10.0/24,10.10.9.0/31
Endpoint = 198.51.100.10:51000
"""
GATEWAY = f"""[Interface]
PostUp = wg set %i private-key /etc/wireguard/%i.key
Address = 10.90.90.2/24
ListenPort = 51000

[Peer]
PublicKey = {PUB["client"]}
AllowedIPs = 10.90.90.1/32
"""
CLIENT = f"""[Interface]
PostUp = wg set %i private-key /etc/wireguard/wg0.key
ListenPort = 51000
Address = 10.90.90.1/24

[Peer]
PublicKey = {PUB["gateway"]}
Endpoint = 203.0.113.50:51000
AllowedIPs = 0.0.0.0/0
"""


def configs(*files: tuple[str, str]):
    return [parse_wg_config(text, Path(f"/copied/{i}/{name}")) for i, (name, text) in enumerate(files)]


SSH = ImportOptions(ssh_host="10.10.10.1", hub_name="router")


def test_the_guides_router_setup():
    files = configs(("wg0.conf", ROUTER), ("home0.conf", LAPTOP))
    raw, notes = import_vpn(files, SSH)
    assert raw == {
        "network": "10.10.11.0/24",
        "listenPort": 51000,
        "hub": {
            "name": "router",
            "kind": "ssh",
            "address": "10.10.11.1",
            "endpoint": "home.example.net:51000",
            "lans": ["10.10.10.0/24"],
            "ssh": {"host": "10.10.10.1", "port": 22, "user": "root"},
        },
        "peers": [
            {"name": "peer1", "address": "10.10.11.2", "interface": "home0", "listenPort": 51000, "publicKey": PUB["laptop"]}
        ],
    }
    assert notes == []
    assert same_peers(raw, files[0], "home") == []  # the hub's rendered config has the peers it runs


def test_the_guides_site_to_site_setup():
    files = configs(("wgA.conf", ALPHA), ("wgB.conf", BETA))
    raw, notes = import_vpn(files, ImportOptions(ssh_host="10.10.10.1", hub_name="alpha"))
    assert raw["network"] == "10.10.9.0/31" and raw["hub"]["interface"] == "wgA"
    assert raw["hub"]["endpoint"] == "198.51.100.10:51000" and raw["hub"]["lans"] == ["10.10.10.0/24"]
    assert raw["sites"] == [
        {
            "name": "beta-site",
            "address": "10.10.9.1",
            "interface": "wgB",
            "listenPort": 51000,
            "lans": ["10.10.11.0/24"],
            "endpoint": "198.51.100.20:51000",
            "publicKey": PUB["beta"],
        }
    ]
    assert notes == []  # the key hook is wgsites' own


def test_the_guides_default_gateway_gets_the_hubs_resolver_or_needs_the_dns_the_check_asks_for():
    files = configs(("wg0.conf", GATEWAY), ("wg0.conf", CLIENT))
    raw, notes = import_vpn(files, ImportOptions(ssh_host="203.0.113.50", hub_name="gateway"))
    assert raw["peers"][0]["tunnel"] == "full" and raw["hub"]["masquerade"] is True
    assert notes == ["a peer sends everything through the tunnel: masquerade is on (out of anything but the tunnel)"]
    vpn = parse_vpn(raw)  # the hub serves DNS: the peer's lookups go to it, through the tunnel
    assert peer_dns(vpn, vpn.peers[0]) == (str(vpn.hub.address),)
    with pytest.raises(ConfigError) as caught:
        parse_vpn({**raw, "hub": {**raw["hub"], "dns": False}})
    assert caught.value.messages[0].startswith("wgsites:vpn.peers[0].dns: missing for a full-tunnel peer")
    with_dns = configs(("wg0.conf", GATEWAY), ("wg0.conf", CLIENT.replace("Address =", "DNS = 9.9.9.9\nAddress =")))
    assert parse_vpn(import_vpn(with_dns, ImportOptions(ssh_host="203.0.113.50"))[0]).peers[0].dns == ("9.9.9.9",)


@pytest.mark.parametrize(
    ("files", "options", "message"),
    [
        (
            (("wg0.conf", ROUTER),),
            SSH,
            "--endpoint: missing; no spoke's file names where /copied/0/wg0.conf is reached: give the host (or host:port) "
            "spokes dial",
        ),
        (
            (("wg0.conf", ROUTER.replace("10.10.11.1/24", "10.10.10.10/32")),),
            SSH,
            "/copied/0/wg0.conf: Address 10.10.10.10/32 names no VPN network (the guide's internal-host setup, with proxy "
            "ARP); import adopts the router, site-to-site and default-gateway setups: write this stack from "
            "examples/Pulumi.internal.yaml",
        ),
        (
            (("wg0.conf", ROUTER.replace(PUB["laptop"], "not-a-key")),),
            SSH,
            "/copied/0/wg0.conf: [Peer] 1 has no valid PublicKey",
        ),
        (
            (("wg0.conf", ROUTER.replace("AllowedIPs = 10.10.11.2", "AllowedIPs = 10.10.12.2")),),
            ImportOptions(ssh_host="10.10.10.1", endpoint="home.example.net"),
            f"/copied/0/wg0.conf: [Peer] 1 ({PUB['laptop'][:8]}...) has no address of 10.10.11.0/24 in its AllowedIPs",
        ),
        (
            (("wg0.conf", ROUTER), ("wg0.conf", LAPTOP.replace(KEYS["laptop"], KEYS["beta"]))),
            SSH,
            "/copied/1/wg0.conf: its PrivateKey is not the key /copied/0/wg0.conf knows for peer1; which is right?",
        ),
    ],
    # named, not numbered from the messages: one holds a key made at import, and every xdist worker must
    # collect the same test ids
    ids=["no endpoint", "internal host", "bad public key", "peer outside the network", "private key of another"],
)
def test_what_import_cannot_use_is_named(files, options, message):
    with pytest.raises(ConfigError) as caught:
        import_vpn(configs(*files), options)
    assert caught.value.messages == [message]


def test_a_foreign_hook_is_reported_not_carried(tmp_path):
    hooked = ROUTER.replace("ListenPort", "PostUp = iptables -A FORWARD -i %i -j ACCEPT\nListenPort")
    hooked = hooked.replace("ListenPort", "PostUp = iptables -t nat -A POSTROUTING -o ppp0 -j MASQUERADE\nListenPort", 1)
    raw, notes = import_vpn(configs(("wg0.conf", hooked), ("home0.conf", LAPTOP)), SSH)
    assert raw["hub"]["masquerade"] == "ppp0"
    assert notes == [
        "/copied/0/wg0.conf: `postup = iptables -A FORWARD -i %i -j ACCEPT` is not carried over; wgsites writes its own "
        "hooks (masquerade, forwardRules)"
    ]


def import_argv(folder: Path, out: Path, router: str = ROUTER, ssh: str = "10.10.10.1") -> list[str]:
    """`import` of the guide's router and laptop files, written into FOLDER, to the stack file OUT."""
    (folder / "wg0.conf").write_text(router)
    (folder / "home0.conf").write_text(LAPTOP)
    return ["import", str(folder / "wg0.conf"), str(folder / "home0.conf"), "--ssh", ssh, "--out", str(out)]


def test_the_command_writes_a_stack_that_checks_and_holds_no_private_key(tmp_path, capsys):
    out = tmp_path / "Pulumi.home.yaml"
    argv = import_argv(tmp_path, out, ssh="10.10.10.1:2222")
    assert main(argv) == 0
    text = out.read_text()
    assert not any(key in text for key in KEYS.values()) and "PrivateKey" not in text
    assert yaml.safe_load(text)["config"]["wgsites:vpn"]["hub"]["ssh"] == {"host": "10.10.10.1", "port": 2222, "user": "root"}
    assert main(["check", str(out)]) == 0
    # a second import never overwrites the stack file (it may hold the stack's secrets by then)
    assert main(argv) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(f"error: --out: {out} exists; import never overwrites a stack file (its secrets), name another")
    )


def test_a_preshared_key_is_named_and_the_pair_gets_a_derived_one():
    """A hand-made preshared key cannot be kept (wgsites derives its own): import says so, not a silent drop."""
    psk = generate_private_key()
    router = ROUTER.replace(f"PublicKey = {PUB['laptop']}\n", f"PublicKey = {PUB['laptop']}\nPresharedKey = {psk}\n")
    laptop = LAPTOP.replace(f"PublicKey = {PUB['router']}\n", f"PublicKey = {PUB['router']}\nPresharedKey = {psk}\n")
    files = configs(("wg0.conf", router), ("home0.conf", laptop))
    raw, notes = import_vpn(files, SSH)
    assert raw["peers"][0]["presharedKey"] is True
    assert notes == [
        "/copied/0/wg0.conf: peer1 has a PresharedKey; the stack gives that pair a new one derived from wgsites:keySeed "
        "(set it first), so the first up changes it on the hub: import the new config on peer1 (pulumi stack output "
        "--show-secrets) right after it: its running session lasts 3 minutes at most"
    ]
    assert psk not in repr(raw) and psk not in stack_text(raw, [Path("/copied/0/wg0.conf")])
    assert "its preshared keys are derived from it" in stack_text(raw, [Path("/copied/0/wg0.conf")])
    assert parse_vpn(raw).preshared_spokes[0].name == "peer1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ROUTER.replace("ListenPort = 51000", "ListenPort = ²"),  # int() takes it; wg does not
            "/c/wg0.conf: [Interface] ListenPort '²' is not a whole number from 1 to 65535; write it like 51820",
        ),
        (
            ROUTER.replace("ListenPort = 51000", "ListenPort = 5" + "0" * 5000),
            "/c/wg0.conf: [Interface] ListenPort '5" + "0" * 5000 + "' is not a whole number from 1 to 65535; "
            "write it like 51820",
        ),
        (
            ROUTER.replace("ListenPort = 51000", "ListenPort = 51000\nMTU = ١٤٢٠"),
            "/c/wg0.conf: [Interface] MTU '١٤٢٠' is not a whole number from 68 to 65535; write it like 1420",
        ),
        (  # a line import would otherwise drop in silence (an AmneziaWG option, a typo)
            ROUTER.replace("ListenPort = 51000", "ListenPort = 51000\nJc = 4"),
            "/c/wg0.conf line 4: 'Jc = 4': 'jc' is no key of [Interface] that wg-quick reads; use one of Address, DNS, "
            "MTU, Table, PreUp, PostUp, PreDown, PostDown, SaveConfig, PrivateKey, ListenPort, FwMark, or remove the line",
        ),
        (
            ROUTER.replace("AllowedIPs = 10.10.11.2", "AllowedIPs = 10.10.11.2\nAllowedIP = 10.10.12.0/24"),
            "/c/wg0.conf line 9: 'AllowedIP = 10.10.12.0/24': 'allowedip' is no key of [Peer] that wg-quick reads; use "
            "one of PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive, or remove the line",
        ),
    ],
)
def test_a_number_or_a_line_wg_quick_would_not_read_is_named(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_wg_config(text, Path("/c/wg0.conf"))
    assert caught.value.messages == [message]


def test_a_hostile_folder_name_adds_no_key_to_the_stack_file(tmp_path, capsys):
    """The header names the imported files; a folder name with line breaks stays inside that comment line."""
    hostile = tmp_path / "x\nsecretsprovider: hashivault:evil\nencryptionsalt: v1:AAAA\r\u2028\x85y"
    hostile.mkdir()
    out = tmp_path / "Pulumi.home.yaml"
    assert main(import_argv(hostile, out)) == 0
    text = out.read_text()
    assert set(yaml.safe_load(text)) == {"config"}
    header = text.split("config:\n", 1)[0]
    assert header.count("\n") == 2 and all(line.startswith("# ") for line in header.splitlines())
    assert "x\\nsecretsprovider: hashivault:evil\\nencryptionsalt: v1:AAAA\\r\\u2028\\x85y" in header
    assert main(["check", str(out)]) == 0


def test_import_prints_the_imported_files_escape_sequences_escaped(tmp_path, capsys):
    hook = "PostUp = echo \x1b]0;owned\x07\x1b[2J\u202e done"
    argv = import_argv(tmp_path, tmp_path / "Pulumi.home.yaml", ROUTER.replace("ListenPort", f"{hook}\nListenPort"))
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "echo \\x1b]0;owned\\x07\\x1b[2J\\u202e done" in err
    assert not any(char in err for char in "\x1b\x07\u202e")
    # an error quoting the file is escaped too
    (tmp_path / "wg0.conf").write_text(ROUTER.replace("ListenPort", "\x1b[31mBogus = 1\nListenPort"))
    assert main([*argv[:-1], str(tmp_path / "Pulumi.other.yaml")]) == 2
    err = capsys.readouterr().err
    assert "\\x1b[31mBogus = 1" in err and "\x1b" not in err
