"""The real install script on real (userspace) WireGuard interfaces in network namespaces.

Every node runs exactly the command SSH would run (`install_command`, config on stdin).
Topology: hub (192.0.2.1, VPN 10.50.0.1) and the sites s1 (10.50.0.2) and s2 (10.50.0.3,
LAN 10.60.0.0/24) on one lab bridge. The tests run in file order on one lab: each leaves
the hub running the two-node config (hub + s1), and the last one removes it.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from lab.netns import Lab, Node
from wgsites.rendering.render import RENDERED_END, KeyRing, install_command, render_wg_quick
from wgsites.stack.model import Vpn
from wgsites.stack.parse import parse_vpn

STACK = "lab"
IFACE = "wg0"
CONF = f"/etc/wireguard/{IFACE}.conf"
KEY = f"/etc/wireguard/{IFACE}.key"
NFT = f"/etc/wireguard/{IFACE}.nft"
SYSCTL = f"/etc/sysctl.d/70-wgsites-{IFACE}.conf"
STATE = f"/var/lib/wgsites/{IFACE}"
HUB_VPN = "10.50.0.1"
NEW_LAN = "10.60.0.0/24"
PWNED = "/etc/wireguard/pwned"  # what a smuggled hook would create (a node-private dir)
ORIGINAL_CONF = "# the operator's own wg0, here before wgsites\n[Interface]\nAddress = 10.99.99.1/24\nListenPort = 51999\n"
LAB_ADDRESS = {"hub": "192.0.2.1", "s1": "192.0.2.2", "s2": "192.0.2.3"}


def make_vpn(
    *sites: str, rules: tuple[dict, ...] = ({"protocol": "tcp", "port": 22, "action": "reject"},), hub: str = "hub"
) -> Vpn:
    known = {
        "s1": {"name": "s1", "address": "10.50.0.2", "ssh": {"host": LAB_ADDRESS["s1"]}},
        "s2": {"name": "s2", "address": "10.50.0.3", "lans": [NEW_LAN], "ssh": {"host": LAB_ADDRESS["s2"]}},
    }
    return parse_vpn(
        {
            "network": "10.50.0.0/24",
            "hub": {
                "name": hub,
                "kind": "ssh",
                "address": HUB_VPN,
                "endpoint": LAB_ADDRESS["hub"],
                "ssh": {"host": LAB_ADDRESS["hub"]},
            },
            "sites": [known[s] for s in sites],
            # gives the hub (and s2, a gateway) an nftables file, so install/remove handle one
            "forwardRules": list(rules),
        }
    )


VPN1 = make_vpn("s1")  # hub + s1
VPN2 = make_vpn("s1", "s2")  # + s2 and its LAN


@dataclass
class World:
    lab: Lab
    nodes: dict[str, Node]
    public: dict[str, str] = field(default_factory=dict)
    first_install: dict[str, object] = field(default_factory=dict)

    def conf(self, vpn: Vpn, name: str) -> str:
        return render_wg_quick(vpn, name, STACK, KeyRing(public=self.public))


def script(node: Node, vpn: Vpn, action: str, config: str | None = None, *, check: bool = True, name: str = ""):
    """Run the install script (of `name`, default the node's) as SSH would; it must never print the private key."""
    command = install_command(vpn, name or node.name, STACK, action)
    done = node.run(command, input=config, check=False, timeout=60)
    key = node.run(f"cat {KEY} 2>/dev/null || true").stdout.strip()
    if key:
        assert key not in done.stdout and key not in done.stderr, f"{node.name}: the private key was printed"
    if check and done.returncode != 0:
        raise AssertionError(f"[{node.name}] {action} exited {done.returncode}:\n{done.stderr}")
    return done


def wg(node: Node, *args: str) -> str:
    return node.run(["wg", "show", IFACE, *args]).stdout.strip()


def handshakes(node: Node) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split("\t") for line in wg(node, "latest-handshakes").splitlines())}


def pings(node: Node, address: str, tries: int = 10) -> bool:
    """True as soon as one ping is answered (the first may wait for a handshake)."""
    for _ in range(tries):
        if node.run(["ping", "-c", "1", "-W", "1", address], check=False).returncode == 0:
            return True
    return False


def snapshot(node: Node) -> str:
    """Names, modes, sizes and mtimes of everything the script may write."""
    return node.run(f"find /etc/wireguard /var/lib/wgsites /etc/sysctl.d -printf '%p %m %s %T@\\n' | sort; cat {CONF}").stdout


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Lab() as lab:
        nodes = {name: lab.node(name) for name in ("hub", "s1", "s2")}
        switch = lab.node("sw")
        for name, node in nodes.items():
            lab.link(node, "eth0", switch, f"p-{name}")
            node.add_address("eth0", f"{LAB_ADDRESS[name]}/24")
        switch.add_bridge("br0", [f"p-{name}" for name in nodes])
        w = World(lab, nodes)
        hub = nodes["hub"]
        # what `remove` must put back
        hub.write_file(CONF, ORIGINAL_CONF, mode=0o600)
        hub.sysctl("net.ipv4.ip_forward", 0)
        hub.sysctl("net.ipv4.conf.all.send_redirects", 1)  # Linux's default
        for name, node in nodes.items():
            out = script(node, VPN2, "public-key").stdout
            assert re.fullmatch(r"[A-Za-z0-9+/]{43}=\n", out), out
            w.public[name] = out.strip()
        w.first_install = {name: script(nodes[name], VPN1, "install", w.conf(VPN1, name)).stdout for name in ("hub", "s1")}
        yield w


def test_first_install_brings_the_tunnel_up(world: World) -> None:
    for name in ("hub", "s1"):
        node = world.nodes[name]
        own = node.run(f"wg pubkey < {KEY}").stdout
        assert world.first_install[name] == own  # exactly one line: the public key
        assert own.strip() == world.public[name]
        assert wg(node, "public-key") == world.public[name]
        assert node.run(f"stat -c %a {KEY} {CONF} /etc/wireguard {STATE}").stdout.split() == ["600"] * 2 + ["700"] * 2
    assert pings(world.nodes["s1"], HUB_VPN)
    assert pings(world.nodes["hub"], "10.50.0.2")
    hub = world.nodes["hub"]
    assert hub.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "1"
    # the hub sends no ICMP redirect out of its tunnel: off for `all` and for the interface made after the file
    redirects = f"sysctl -n net.ipv4.conf.all.send_redirects net.ipv4.conf.{IFACE}.send_redirects"
    assert hub.run(redirects).stdout.split() == ["0", "0"]
    assert "wgsites_wg0" in hub.run("nft list tables").stdout
    assert hub.run(["stat", "-c", "%a", NFT]).stdout.strip() == "600"
    # the pre-existing config is kept aside, 0600, for `remove`
    assert hub.read_file(f"{STATE}/original.conf") == ORIGINAL_CONF
    assert hub.run(["stat", "-c", "%a", f"{STATE}/original.conf"]).stdout.strip() == "600"
    # a second run with the same config changes nothing and still prints the key
    again = script(hub, VPN1, "install", world.conf(VPN1, "hub"))
    assert again.stdout == world.first_install["hub"]
    assert "config unchanged" in again.stderr


def test_adding_a_peer_reloads_in_place_without_dropping_the_running_tunnel(world: World) -> None:
    hub, s1, s2 = (world.nodes[n] for n in ("hub", "s1", "s2"))
    assert pings(s1, HUB_VPN)
    # wg-quick sets a fwmark for full tunnels; syncconf without FwMark would reset it (docs/lab-notes.md 8)
    hub.run(["wg", "set", IFACE, "fwmark", "0xca6c"])
    before = {what: wg(hub, what) for what in ("private-key", "listen-port", "fwmark")}
    assert before["fwmark"] == "0xca6c" and before["listen-port"] == "51820"
    shake = handshakes(hub)[world.public["s1"]]
    assert shake > 0

    result: dict[str, str] = {}
    pinger = threading.Thread(
        target=lambda: result.update(
            out=s1.run(["ping", "-n", "-i", "0.05", "-c", "100", "-W", "1", "-w", "30", HUB_VPN], check=False, timeout=40).stdout
        )
    )
    pinger.start()
    try:
        threading.Event().wait(1.0)  # the reload lands in the middle of the 5 s of pings
        done = script(hub, VPN2, "install", world.conf(VPN2, "hub"))
    finally:
        pinger.join()

    assert done.stdout == f"{world.public['hub']}\n"
    assert "reloaded in place" in done.stderr
    assert "route added: 10.60.0.0/24" in done.stderr
    # every host change is echoed before it is made, as wg-quick does
    assert "[#] wg syncconf wg0 " in done.stderr and "[#] ip -4 route add 10.60.0.0/24 dev wg0" in done.stderr
    sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", result["out"]).groups())
    print(f"during the reload: {received}/{sent} pings answered; s1's latest handshake {shake}")
    assert (sent, received) == (100, 100), result["out"]
    assert {what: wg(hub, what) for what in ("private-key", "listen-port", "fwmark")} == before
    assert handshakes(hub)[world.public["s1"]] == shake  # no new handshake: the session survived
    assert world.public["s2"] in wg(hub, "peers").split()
    assert NEW_LAN in hub.run(["ip", "route", "show", "dev", IFACE]).stdout
    assert hub.read_file(CONF) == world.conf(VPN2, "hub")

    assert script(s2, VPN2, "install", world.conf(VPN2, "s2")).stdout == f"{world.public['s2']}\n"
    assert pings(s2, HUB_VPN)
    assert pings(hub, "10.50.0.3")


def test_removing_the_peer_again_drops_its_route(world: World) -> None:
    hub, s1, s2 = (world.nodes[n] for n in ("hub", "s1", "s2"))
    script(hub, VPN2, "install", world.conf(VPN2, "hub"))  # no-op after the previous test
    assert NEW_LAN in hub.run(["ip", "route", "show", "dev", IFACE]).stdout
    shake = handshakes(hub)[world.public["s1"]]

    done = script(hub, VPN1, "install", world.conf(VPN1, "hub"))
    assert "reloaded in place" in done.stderr and "route removed: 10.60.0.0/24" in done.stderr
    assert NEW_LAN not in hub.run(["ip", "route", "show", "dev", IFACE]).stdout
    assert wg(hub, "peers").split() == [world.public["s1"]]
    assert handshakes(hub)[world.public["s1"]] == shake
    assert pings(s1, HUB_VPN)
    assert not pings(s2, HUB_VPN, tries=2)


def broken_configs(good: str) -> dict[str, str]:
    return {
        "empty": "",
        "blank": "\n   \n",
        "no end": good[: good.rindex("[Peer]")],  # what a dropped connection leaves: whole lines, peers missing
        "typo": good.replace("Address = 10.50.0.1/24", "Adress = 10.50.0.1/24"),
        "bad public key": re.sub(r"(?m)^PublicKey = .*$", "PublicKey = paste-s1-key-here", good, count=1),
        "no interface": good.replace("[Interface]", "[Interfaces]"),
        # hostile: wg-quick would run any of these as root
        "extra hook": good.replace("[Interface]\n", f"[Interface]\nPostUp = touch {PWNED}\n"),
        "hook with a lowercase key": good.replace("[Interface]\n", f"[Interface]\n  postup=touch {PWNED}\n"),
        "allowed hook extended": good.replace("/etc/wireguard/%i.key", f"/etc/wireguard/%i.key; touch {PWNED}"),
        "hook behind a carriage return": good.replace("[Interface]\n", f"[Interface]\nPostUp\r = touch {PWNED}\n"),
        "hook in a peer": good.replace(f"\n{RENDERED_END}\n", f"PostUp = touch {PWNED}\n\n{RENDERED_END}\n"),
        "a key pushed inline": good.replace("[Interface]\n", f"[Interface]\nPrivateKey = {'A' * 43}=\n"),
        "routing table": good.replace("[Interface]\n", "[Interface]\nTable = off\n"),
    }


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "refusing an empty config; nothing was changed"),
        ("blank", "it was cut short (a dropped connection?); nothing was changed"),
        ("no end", "it was cut short (a dropped connection?); nothing was changed"),
        ("typo", "a key wgsites does not write in [Interface]: Adress = 10.50.0.1/24"),
        ("bad public key", "not a WireGuard public key: PublicKey = paste-s1-key-here"),
        ("no interface", "unknown section: [Interfaces]"),
        ("extra hook", f"a hook wgsites does not write: PostUp = touch {PWNED}"),
        ("hook with a lowercase key", f"a hook wgsites does not write:   postup=touch {PWNED}"),
        ("allowed hook extended", "a hook wgsites does not write: PostUp = wg set %i private-key /etc/wireguard/%i.key; touch"),
        ("hook behind a carriage return", "refusing a config with a control character or non-ASCII byte"),
        ("hook in a peer", f"a key wgsites does not write in [Peer]: PostUp = touch {PWNED}"),
        ("a key pushed inline", "a key wgsites does not write in [Interface]: PrivateKey ="),
        ("routing table", "a key wgsites does not write in [Interface]: Table = off"),
    ],
)
def test_an_empty_or_broken_config_is_refused_and_the_old_one_keeps_running(world: World, case: str, message: str) -> None:
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    good = world.conf(VPN1, "hub")
    bad = broken_configs(good)[case]
    assert bad != good
    peers, before = wg(hub, "peers"), snapshot(hub)

    refused = script(hub, VPN1, "install", bad, check=False)
    assert refused.returncode != 0
    assert refused.stdout == ""
    assert message in refused.stderr, refused.stderr
    if case not in ("empty", "blank", "no end", "hook behind a carriage return"):
        assert "refusing an invalid config (see above); nothing was changed" in refused.stderr
    assert hub.run(["test", "-e", PWNED], check=False).returncode == 1, "a smuggled hook ran"
    assert snapshot(hub) == before  # not a file touched, the config on disk unchanged
    assert hub.read_file(CONF) == good
    assert wg(hub, "peers") == peers
    assert pings(s1, HUB_VPN)


def test_a_config_that_fails_to_apply_is_rolled_back(world: World) -> None:
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    good = world.conf(VPN1, "hub")
    key = wg(hub, "private-key")

    # [Interface] changed -> restart; an address `ip` refuses makes wg-quick up fail and tear down
    # (a failing hook would be the simpler lever, but the script accepts no hook it does not write)
    failing_address = good.replace("Address = 10.50.0.1/24", "Address = 10.50.0.1/24, 10.50.0.300/24")
    done = script(hub, VPN1, "install", failing_address, check=False)
    assert done.returncode != 0 and done.stdout == ""
    assert "interface settings changed: restarting wg0" in done.stderr
    assert "[#] ip -4 address add 10.50.0.300/24 dev wg0" in done.stderr  # wg-quick really tried it
    assert "the previous one is back" in done.stderr, done.stderr
    assert hub.read_file(CONF) == good
    assert hub.run(["stat", "-c", "%a", CONF]).stdout.strip() == "600"
    assert wg(hub, "private-key") == key and wg(hub, "listen-port") == "51820"
    assert wg(hub, "peers").split() == [world.public["s1"]]
    # a fresh wireguard-go forgot s1's session and s1 has no endpoint in the hub's config: s1
    # handshakes again once its data goes unanswered (WireGuard's 15 s timers), not at once
    started = time.monotonic()
    assert pings(s1, HUB_VPN, tries=30)
    print(f"s1 reached the restarted hub after {time.monotonic() - started:.1f} s")

    # peers only -> in place; wg syncconf refuses the /33 after the file was already installed
    shake = handshakes(hub)[world.public["s1"]]
    bad_prefix = good.replace("AllowedIPs = 10.50.0.2/32", "AllowedIPs = 10.50.0.2/33")
    assert bad_prefix != good
    done = script(hub, VPN1, "install", bad_prefix, check=False)
    assert done.returncode != 0 and done.stdout == ""
    assert "could not apply the new config; the previous one is back" in done.stderr, done.stderr
    assert "the new config failed: restoring the previous one" in done.stderr  # the exit trap's rollback
    assert hub.read_file(CONF) == good
    assert wg(hub, "private-key") == key
    assert handshakes(hub)[world.public["s1"]] == shake
    assert pings(s1, HUB_VPN)


def test_a_failed_first_install_puts_the_operators_config_back_as_it_was(world: World) -> None:
    """No previous wgsites config: the rollback restores the operator's file and leaves it down."""
    node = world.lab.node("fresh")
    node.write_file(CONF, ORIGINAL_CONF, mode=0o600)
    failing = world.conf(VPN1, "hub").replace("Address = 10.50.0.1/24", "Address = 10.50.0.300/24")
    done = script(node, VPN1, "install", failing, check=False, name="hub")
    assert done.returncode != 0 and done.stdout == ""
    assert "wg-quick up failed; the previous config is back" in done.stderr, done.stderr
    assert node.read_file(CONF) == ORIGINAL_CONF
    assert node.run(["ip", "link", "show", IFACE], check=False).returncode != 0, "it was down before"

    # a kept key file that holds no key is refused by name, its content never echoed
    node.write_file(KEY, "not-a-key-but-a-secret\n", mode=0o600)
    done = script(node, VPN1, "install", world.conf(VPN1, "hub"), check=False, name="hub")
    assert done.returncode != 0 and done.stdout == ""
    assert f"{KEY} does not hold a WireGuard private key" in done.stderr, done.stderr
    assert node.read_file(KEY) == "not-a-key-but-a-secret\n"


def test_naive_syncconf_of_a_stripped_config_wipes_the_key(world: World) -> None:
    """docs/lab-notes.md 8 on a real interface: why the script feeds syncconf the full device state."""
    s1 = world.nodes["s1"]
    assert pings(s1, HUB_VPN)
    s1.run(["wg", "set", IFACE, "fwmark", "0xca6c"])
    stripped = "/etc/wireguard/naive.stripped"
    s1.run(f"wg-quick strip {IFACE} > {stripped}")
    assert "PrivateKey" not in s1.read_file(stripped)  # managed configs load the key in PostUp
    s1.run(["wg", "syncconf", IFACE, stripped])
    assert wg(s1, "private-key") == "(none)"
    assert wg(s1, "fwmark") == "off"
    assert not pings(s1, HUB_VPN, tries=2)

    # the script's reload (here: s1 learns the hub's route to s2's LAN) brings the key back
    done = script(s1, VPN2, "install", world.conf(VPN2, "s1"))
    assert "reloaded in place" in done.stderr
    assert wg(s1, "public-key") == world.public["s1"]
    assert NEW_LAN in s1.run(["ip", "route", "show", "dev", IFACE]).stdout
    assert pings(s1, HUB_VPN)
    s1.run(["rm", "-f", stripped])


def test_a_key_file_without_a_final_newline_still_reloads(world: World) -> None:
    """A key kept from before (an operator's own, written without a newline) must not break a reload,
    nor end up in the script's output (wg quotes a malformed key in its error message)."""
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    s1.run(["truncate", "-s", "-1", KEY])
    assert s1.run(["wc", "-c", KEY]).stdout.split()[0] == "44"
    done = script(s1, VPN1, "install", world.conf(VPN1, "s1"))  # back to the two-node config
    assert "reloaded in place" in done.stderr and "route removed: 10.60.0.0/24" in done.stderr
    assert wg(s1, "public-key") == world.public["s1"]
    assert pings(s1, HUB_VPN)
    assert pings(hub, "10.50.0.2")


def test_new_forward_rules_reach_a_running_host_with_its_config_unchanged(world: World) -> None:
    """The rules live in the install script, not in the config: the config is the same, the rules must still change."""
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    more = make_vpn("s1", rules=({"protocol": "tcp", "port": 22, "action": "reject"}, {"protocol": "udp", "port": 53}))
    config = world.conf(more, "hub")
    assert config == world.conf(VPN1, "hub")  # only the script differs
    shake = handshakes(hub)[world.public["s1"]]
    done = script(hub, more, "install", config)
    assert "config unchanged" in done.stderr and "[#] nft -f /etc/wireguard/wg0.nft" in done.stderr, done.stderr
    assert "udp dport 53 reject" in hub.run(["nft", "list", "table", "inet", "wgsites_wg0"]).stdout
    assert handshakes(hub)[world.public["s1"]] == shake and pings(s1, HUB_VPN)
    script(hub, VPN1, "install", world.conf(VPN1, "hub"))  # back
    assert "udp dport 53" not in hub.run(["nft", "list", "table", "inet", "wgsites_wg0"]).stdout


def test_the_firewall_comes_and_goes_in_place_without_a_restart(world: World) -> None:
    """Forward rules (or masquerade) turned off, then on again: the hooks that load them change, the interface stays up."""
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    bare = make_vpn("s1", rules=())
    ifindex = hub.read_file("/sys/class/net/wg0/ifindex")  # a restart makes a new interface, with a new index
    shake = handshakes(hub)[world.public["s1"]]
    off = script(hub, bare, "install", world.conf(bare, "hub"))
    assert "reloaded in place" in off.stderr and "restarting" not in off.stderr, off.stderr
    assert hub.run(["nft", "list", "table", "inet", "wgsites_wg0"], check=False).returncode != 0  # the table is gone
    on = script(hub, VPN1, "install", world.conf(VPN1, "hub"))
    assert "reloaded in place" in on.stderr and "restarting" not in on.stderr, on.stderr
    assert "tcp dport 22 reject" in hub.run(["nft", "list", "table", "inet", "wgsites_wg0"]).stdout
    assert hub.read_file("/sys/class/net/wg0/ifindex") == ifindex  # the same interface all along
    assert handshakes(hub)[world.public["s1"]] == shake and pings(s1, HUB_VPN)


def test_the_resolver_answers_on_the_vpn_address_and_goes_with_hub_dns_false(world: World) -> None:
    """The hub's resolver names every node for a site; `hub.dns: false` stops it and removes its files, the tunnel
    staying up; turned on again, it is back."""
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    files = [f"/etc/wgsites/dns-{IFACE}.{part}" for part in ("conf", "servers", "hosts")]

    def answer(name: str) -> str:
        out = s1.run(["dig", "+short", "+time=1", "+tries=2", f"@{HUB_VPN}", name], check=False).stdout
        return " ".join(line for line in out.splitlines() if not line.startswith(";;"))  # ;; dig's errors

    assert answer("s1.home.arpa") == "10.50.0.2" and answer("hub.home.arpa") == HUB_VPN
    ifindex = hub.read_file("/sys/class/net/wg0/ifindex")
    off = dataclasses.replace(VPN1, hub=dataclasses.replace(VPN1.hub, dns=None))
    done = script(hub, off, "install", world.conf(off, "hub"))
    assert "the VPN's resolver removed" in done.stderr, done.stderr
    assert all(hub.run(["test", "-e", path], check=False).returncode == 1 for path in files)
    assert answer("s1.home.arpa") == "" and hub.run(["ss", "-Hlnu", "sport = :53"]).stdout == ""  # nothing on 53
    assert hub.read_file("/sys/class/net/wg0/ifindex") == ifindex and pings(s1, HUB_VPN)
    script(hub, VPN1, "install", world.conf(VPN1, "hub"))
    assert answer("s1.home.arpa") == "10.50.0.2"


def test_a_renamed_node_takes_its_interface_over_and_the_old_names_remove_leaves_it(world: World) -> None:
    """A rename without aliases: Pulumi installs the new node, then runs the old resource's remove on the same host."""
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    renamed = make_vpn("s1", hub="home-hub")
    ifindex = hub.read_file("/sys/class/net/wg0/ifindex")
    taken = script(hub, renamed, "install", world.conf(renamed, "home-hub"), name="home-hub")
    assert "wg0 was node 'hub''s: 'home-hub' takes it over (a rename)" in taken.stderr, taken.stderr
    assert hub.read_file(f"{STATE}/owner") == "lab/home-hub\n"
    old = script(hub, VPN1, "remove")
    assert "left alone: wg0 here is node 'home-hub''s now (stack 'lab'), not 'hub''s" in old.stderr, old.stderr
    assert hub.read_file("/sys/class/net/wg0/ifindex") == ifindex and pings(s1, HUB_VPN)
    assert hub.read_file(CONF) == world.conf(renamed, "home-hub")


def test_another_stacks_interface_is_refused_not_taken(world: World) -> None:
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    before = snapshot(hub)
    for action, config in (("public-key", None), ("install", world.conf(VPN1, "hub"))):
        done = hub.run(install_command(VPN1, "hub", "other", action), input=config, check=False, timeout=60)
        assert done.returncode != 0 and done.stdout == ""
        assert (
            "wg0 here belongs to wgsites stack 'lab' (node 'home-hub'), not to 'other'; remove it from that stack first"
            in done.stderr
        ), done.stderr
    assert snapshot(hub) == before and pings(s1, HUB_VPN)
    back = script(hub, VPN1, "install", world.conf(VPN1, "hub"))  # the old name again, for the tests after this one
    assert "'hub' takes it over" in back.stderr


def test_remove_restores_what_was_there_before(world: World) -> None:
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    assert pings(s1, HUB_VPN)
    done = script(hub, VPN1, "remove")
    assert done.stdout == ""
    assert hub.run(["ip", "link", "show", IFACE], check=False).returncode != 0
    assert hub.read_file(CONF) == ORIGINAL_CONF
    assert hub.run(["stat", "-c", "%a", CONF]).stdout.strip() == "600"
    for gone in (KEY, NFT, SYSCTL, STATE):
        assert hub.run(["test", "-e", gone], check=False).returncode == 1, gone
    assert hub.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "0"
    assert hub.run("sysctl -n net.ipv4.conf.all.send_redirects").stdout.strip() == "1"
    assert "wgsites_wg0" not in hub.run("nft list tables").stdout
    assert not pings(s1, HUB_VPN, tries=2)
    # removing twice is harmless: the operator's config stays
    again = script(hub, VPN1, "remove")
    assert "nothing to remove" in again.stderr
    assert hub.read_file(CONF) == ORIGINAL_CONF
