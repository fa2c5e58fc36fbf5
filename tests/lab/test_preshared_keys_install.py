"""The install script's preshared-key actions on real (userspace) WireGuard interfaces.

A hub and one site (test_install_script's topology, its VPN with `presharedKey: true`), the real
install script as SSH runs it: the keys on stdin are refused unless whole and made of key pairs,
kept 0600, set live, kept by the in-place reload and loaded by the hook at `wg-quick up`,
forgotten by `forget-preshared-keys`; never printed. Then the measurement behind the rotation's
order: with one end changed and the other not, how long a running tunnel keeps carrying pings.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from lab.netns import Lab
from tests.lab.test_install_script import HUB_VPN, IFACE, LAB_ADDRESS, STACK, World, pings, script, wg
from wgsites.operations.host_drift import findings, marker, parse_state
from wgsites.operations.host_status import collect
from wgsites.rendering.render import KeyRing, install_command, render_preshared_keys, render_wg_quick
from wgsites.stack.keys import generate_private_key
from wgsites.stack.parse import parse_vpn

PSK = f"/etc/wireguard/{IFACE}.psk"


def psk_vpn(**extra):
    raw = {
        "network": "10.50.0.0/24",
        "hub": {
            "name": "hub",
            "kind": "ssh",
            "address": HUB_VPN,
            "endpoint": LAB_ADDRESS["hub"],
            "ssh": {"host": LAB_ADDRESS["hub"]},
        },
        "sites": [{"name": "s1", "address": "10.50.0.2", "ssh": {"host": LAB_ADDRESS["s1"]}}],
        "presharedKey": True,
        **extra,
    }
    return parse_vpn(raw)


VPN = psk_vpn()


def store(world: World, node: str, key: str) -> str:
    return render_preshared_keys(VPN, node, STACK, KeyRing(public=world.public, preshared={"s1": key}))


def running(world: World, node: str) -> list[str]:
    return [line.split("\t")[1] for line in wg(world.nodes[node], "preshared-keys").splitlines()]


def set_keys(world: World, node: str, key: str):
    done = script(world.nodes[node], VPN, "preshared-keys", store(world, node, key))
    assert key not in done.stdout and key not in done.stderr, "a preshared key was printed"
    return done


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Lab() as lab:
        nodes = {name: lab.node(name) for name in ("hub", "s1")}
        switch = lab.node("sw")
        for name, node in nodes.items():
            lab.link(node, "eth0", switch, f"p-{name}")
            node.add_address("eth0", f"{LAB_ADDRESS[name]}/24")
        switch.add_bridge("br0", [f"p-{name}" for name in nodes])
        w = World(lab, nodes)
        for name, node in nodes.items():
            w.public[name] = script(node, VPN, "public-key").stdout.strip()
        yield w


def test_keys_are_refused_before_an_install_and_unless_whole(world: World) -> None:
    hub = world.nodes["hub"]
    key = generate_private_key()
    for name in ("hub", "s1"):
        conf = render_wg_quick(VPN, name, STACK, KeyRing(public=world.public))
        assert "PresharedKey" not in conf
        script(world.nodes[name], VPN, "install", conf)
    assert pings(world.nodes["s1"], HUB_VPN)  # no key on either end yet: the hook found no file
    text = store(world, "hub", key)
    # another node's interface (a rename's old resource) is not this node's to change
    owner = hub.read_file("/var/lib/wgsites/wg0/owner")
    hub.write_file("/var/lib/wgsites/wg0/owner", "lab/other\n", 0o600)
    other = script(hub, VPN, "preshared-keys", text, check=False)
    assert other.returncode != 0 and "not node 'hub''s" in other.stderr
    hub.write_file("/var/lib/wgsites/wg0/owner", owner, 0o600)
    for bad, why in (
        (text.rsplit("\n", 2)[0] + "\n", "cut short"),
        (text.replace(key, key[:-2] + "\n"), "not 'PUBLICKEY PRESHAREDKEY'"),
        (text.replace(key, f"{key}; id"), "not 'PUBLICKEY PRESHAREDKEY'"),
    ):
        done = script(hub, VPN, "preshared-keys", bad, check=False)
        assert done.returncode != 0 and why in done.stderr, done.stderr
        assert key[:20] not in done.stderr
        assert hub.run(["test", "-e", PSK], check=False).returncode != 0
    assert running(world, "hub") == ["(none)"]


def test_keys_set_live_kept_by_the_reload_and_loaded_at_up(world: World) -> None:
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    key = generate_private_key()
    for node in ("hub", "s1"):
        set_keys(world, node, key)
        assert running(world, node) == [key]
        assert world.nodes[node].run(["stat", "-c", "%a", PSK]).stdout.strip() == "600"
    assert pings(s1, HUB_VPN)
    # an in-place reload (another AllowedIPs for s1: syncconf) keeps it
    wider = psk_vpn(sites=[{"name": "s1", "address": "10.50.0.2", "lans": ["10.61.0.0/24"], "ssh": {"host": "192.0.2.2"}}])
    done = script(hub, VPN, "install", render_wg_quick(wider, "hub", STACK, KeyRing(public=world.public)))
    assert "reloaded in place" in done.stderr and key not in done.stderr
    assert running(world, "hub") == [key]
    script(hub, VPN, "install", render_wg_quick(VPN, "hub", STACK, KeyRing(public=world.public)))
    # a restart loads it through the hook, and the tunnel handshakes again with it
    s1.run(f"wg-quick down {IFACE} && wg-quick up {IFACE}")
    assert running(world, "s1") == [key]
    assert pings(s1, HUB_VPN)
    # the same keys again change nothing
    assert "unchanged" in set_keys(world, "hub", key).stderr
    # drift: a key dropped or changed by hand is named by `state` (never shown) and put back by `repair`
    for by_hand, finding in (
        ("/dev/null", "runs no preshared key, the stack gives it one"),
        (None, "runs another preshared key than the stack gives it"),
    ):
        if by_hand is None:
            hub.write_file("/etc/wireguard/by-hand.psk", generate_private_key() + "\n", 0o600)
            by_hand = "/etc/wireguard/by-hand.psk"
        hub.run(["wg", "set", IFACE, "peer", world.public["s1"], "preshared-key", by_hand])
        text = script(hub, VPN, "state").stdout
        assert key not in text
        found = findings(parse_state(text), f"{STACK}/hub", IFACE)
        assert found == [f"peer {world.public['s1'][:8]}... {finding}"], found
        # `wgsites status` names it too, from the same answer
        rows = collect(VPN, STACK, lambda node, command: world.nodes[node].run(command).stdout if node == "hub" else "")
        drift = [r.detail for r in rows if r.node == "hub" and r.state == "drift"]
        assert drift == [f"{found[0]}; the next `pulumi up` puts it back"], rows
        repair = install_command(VPN, "hub", STACK, "repair", argument=marker(parse_state(text), found))
        fixed = hub.run(repair, check=False, timeout=60)
        assert fixed.returncode == 0 and key not in fixed.stdout + fixed.stderr, fixed.stderr
        assert running(world, "hub") == [key], fixed.stderr
        assert findings(parse_state(script(hub, VPN, "state").stdout), f"{STACK}/hub", IFACE) == []
    hub.run(["rm", "-f", "/etc/wireguard/by-hand.psk"])
    assert pings(s1, HUB_VPN)


def test_a_new_key_on_one_end_only_is_refused_at_the_next_handshake(world: World) -> None:
    """The measurement: the running session keeps carrying pings after one end changed (no handshake
    needed), while a fresh handshake with mismatched keys fails; the tunnel works again once both agree."""
    s1 = world.nodes["s1"]
    old, new = running(world, "hub")[0], generate_private_key()
    assert pings(s1, HUB_VPN)
    set_keys(world, "hub", new)
    carried = s1.run(["ping", "-n", "-i", "0.05", "-c", "100", "-W", "1", "-w", "30", HUB_VPN], check=False).stdout
    sent, got = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", carried).groups())
    assert (sent, got) == (100, 100), carried  # the session's keys do not depend on the preshared key now
    # a fresh session (s1 restarted, its store still the old key) gets no handshake with the hub
    s1.run(f"wg-quick down {IFACE} && wg-quick up {IFACE}")
    assert running(world, "s1") == [old]
    refused = s1.run(["ping", "-c", "7", "-i", "1", "-W", "1", HUB_VPN], check=False)
    assert refused.returncode != 0
    assert wg(s1, "latest-handshakes").split()[1] == "0"
    set_keys(world, "s1", new)
    start = time.monotonic()
    assert pings(s1, HUB_VPN, tries=20)
    print(
        f"\none end changed: 100/100 pings at 50 ms on the running session; old key: 7 pings, no handshake; "
        f"both ends new: answered after {time.monotonic() - start:.1f} s"
    )


def test_forget_removes_the_store_and_the_running_keys(world: World) -> None:
    for node in ("hub", "s1"):
        script(world.nodes[node], VPN, "forget-preshared-keys")
        assert running(world, node) == ["(none)"]
        assert world.nodes[node].run(["test", "-e", PSK], check=False).returncode != 0
    assert pings(world.nodes["s1"], HUB_VPN, tries=20)
    for node in ("hub", "s1"):
        script(world.nodes[node], VPN, "remove")
