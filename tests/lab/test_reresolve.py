"""A hub endpoint given as a host name follows the hub when its (dynamic) address changes.

WireGuard resolves `Endpoint = hub.example.net:51820` once, at `wg setconf`. The install
script's `reresolve` action (run every minute by a timer where systemd runs) points the
peer at the name's new address. Real (userspace) interfaces in network namespaces, the
script run exactly as SSH runs it (`install_command`). Topology: hub (192.0.2.1, later
192.0.2.11 and .12, VPN 10.50.0.1) and site s1 (192.0.2.2) on one lab bridge; s1 finds
hub.example.net in its /etc/hosts, which lives in the node's overlay over /etc.
The tests run in file order on one lab.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.netns import Lab, Node
from wgsites.rendering.render import INSTALL_PATH, KeyRing, install_command, render_install_script, render_wg_quick
from wgsites.stack.model import Vpn
from wgsites.stack.parse import parse_vpn

pytestmark = pytest.mark.lab  # lab nodes hide this machine's /run/systemd: the no-systemd path

STACK = "lab"
IFACE = "wg0"
NAME = "hub.example.net"
PORT = 51820
HUB_VPN = "10.50.0.1"
S1_VPN = "10.50.0.2"
SELF = INSTALL_PATH.format(interface=IFACE)
UNITS = [f"/etc/systemd/system/wgsites-reresolve-{IFACE}.{kind}" for kind in ("service", "timer")]
STATE = f"/var/lib/wgsites/{IFACE}"
HOST_FILES = ["/etc/hosts", SELF, *UNITS]  # what the tests must never change on this machine
# a PATH that finds the fake systemctl (in a node's private /usr/local/sbin) before the real one
PATH = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def make_vpn(hub_endpoint: str) -> Vpn:
    return parse_vpn(
        {
            "network": "10.50.0.0/24",
            "hub": {
                "name": "hub",
                "kind": "ssh",
                "address": HUB_VPN,
                "endpoint": hub_endpoint,
                "ssh": {"host": "192.0.2.1"},
            },
            "sites": [{"name": "s1", "address": S1_VPN, "ssh": {"host": "192.0.2.2"}}],
        }
    )


VPN = make_vpn(NAME)
VPN_LITERAL = make_vpn("192.0.2.12")  # the same VPN with the hub's endpoint as an address


def host_state() -> dict[str, tuple[bytes, int] | None]:
    """Content and mtime of the files a node's script writes, as this machine has them."""
    return {p: (Path(p).read_bytes(), os.stat(p).st_mtime_ns) if os.path.exists(p) else None for p in HOST_FILES}


@dataclass
class World:
    lab: Lab
    nodes: dict[str, Node]
    host_before: dict[str, tuple[bytes, int] | None]
    public: dict[str, str] = field(default_factory=dict)
    hosts_base: str = ""
    installed: dict[str, object] = field(default_factory=dict)

    def conf(self, name: str, vpn: Vpn = VPN) -> str:
        return render_wg_quick(vpn, name, STACK, KeyRing(public=self.public))

    def point_name(self, node: Node, address: str | None) -> None:
        """Make NAME resolve to `address` (None: not at all) in `node` only."""
        content = self.hosts_base + (f"{address} {NAME}\n" if address else "")
        if node.is_private("/etc/hosts"):
            node.write_file("/etc/hosts", content)
        else:
            # lands in the node's overlay over /etc, never in this machine's /etc/hosts
            assert node.run(["findmnt", "-n", "-o", "FSTYPE", "--mountpoint", "/etc"]).stdout.strip() == "overlay"
            node.run("cat > /etc/hosts", input=content)
        assert node.run(["getent", "hosts", NAME], check=False).stdout.split()[:1] == ([address] if address else [])
        assert host_state() == self.host_before


def script(node: Node, action: str, config: str | None = None, *, vpn: Vpn = VPN, name: str = "s1", check: bool = True):
    done = node.run(install_command(vpn, name, STACK, action), input=config, check=False, timeout=60, env=PATH)
    if check and done.returncode != 0:
        raise AssertionError(f"[{node.name}] {action} exited {done.returncode}:\n{done.stderr}")
    return done


def endpoint(node: Node, peer: str) -> str:
    lines = node.run(["wg", "show", IFACE, "endpoints"]).stdout.splitlines()
    return dict(line.split("\t") for line in lines)[peer]


def move_hub(world: World, address: str) -> None:
    """The hub's public address changes (a new DHCP lease, a reconnecting PPPoE line)."""
    world.nodes["hub"].run(f"ip address flush dev eth0 && ip address add {address}/24 dev eth0")


def pings(node: Node, address: str, tries: int = 10) -> bool:
    for _ in range(tries):
        if node.run(["ping", "-c", "1", "-W", "1", address], check=False).returncode == 0:
            return True
    return False


def exists(node: Node, path: str) -> bool:
    return node.run(["test", "-e", path], check=False).returncode == 0


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    before = host_state()
    with Lab() as lab:
        nodes = {name: lab.node(name) for name in ("hub", "s1")}
        switch = lab.node("sw")
        for name, address in (("hub", "192.0.2.1"), ("s1", "192.0.2.2")):
            lab.link(nodes[name], "eth0", switch, f"p-{name}")
            nodes[name].add_address("eth0", f"{address}/24")
        switch.add_bridge("br0", ["p-hub", "p-s1"])
        w = World(lab, nodes, before)
        w.hosts_base = nodes["s1"].read_file("/etc/hosts")
        assert NAME not in w.hosts_base
        w.point_name(nodes["s1"], "192.0.2.1")
        for name, node in nodes.items():
            w.public[name] = script(node, "public-key", name=name).stdout.strip()
        w.installed = {name: script(nodes[name], "install", w.conf(name), name=name) for name in ("hub", "s1")}
        yield w
    assert host_state() == before


def test_install_keeps_a_copy_of_the_script_where_an_endpoint_is_a_name(world: World) -> None:
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    done = world.installed["s1"]
    assert done.stdout == f"{world.public['s1']}\n"  # stdout: only the public key
    assert f"no systemd here: have '{SELF} reresolve' run every minute" in done.stderr
    assert endpoint(s1, world.public["hub"]) == f"192.0.2.1:{PORT}"
    assert pings(s1, HUB_VPN)  # from s1 only: a packet from the hub would make s1 roam (see below)
    assert s1.read_file(SELF) == render_install_script(VPN, "s1", STACK)  # byte for byte
    assert s1.run(["stat", "-c", "%a", SELF]).stdout.strip() == "755"
    assert not any(exists(s1, unit) for unit in UNITS)  # no systemd, no timer
    # the hub's config has no name in it: nothing to follow, no copy
    assert "no systemd here" not in world.installed["hub"].stderr
    assert not exists(hub, SELF)
    assert host_state() == world.host_before

    quiet = script(s1, "reresolve")  # nothing moved: nothing said, nothing done
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert endpoint(s1, world.public["hub"]) == f"192.0.2.1:{PORT}"


def test_reresolve_follows_the_hub_to_its_new_address(world: World) -> None:
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    move_hub(world, "192.0.2.11")
    # WireGuard keeps the address it resolved at setconf: the tunnel is dead
    assert not pings(s1, HUB_VPN, tries=2)
    assert endpoint(s1, world.public["hub"]) == f"192.0.2.1:{PORT}"

    world.point_name(s1, "192.0.2.11")  # the DDNS record follows the hub
    done = script(s1, "reresolve")
    assert done.stdout == ""
    assert f"{NAME} now resolves to 192.0.2.11" in done.stderr
    assert endpoint(s1, world.public["hub"]) == f"192.0.2.11:{PORT}"
    assert pings(s1, HUB_VPN)
    assert pings(hub, S1_VPN)

    again = script(s1, "reresolve")
    assert (again.stdout, again.stderr) == ("", "")


def test_a_name_that_does_not_resolve_keeps_the_endpoint(world: World) -> None:
    s1 = world.nodes["s1"]
    world.point_name(s1, None)  # and s1's namespace reaches no DNS server
    done = script(s1, "reresolve")  # exit 0: a timer must not report a failure every minute
    assert done.stdout == ""
    assert f"cannot resolve {NAME}" in done.stderr and "its endpoint stays 192.0.2.11" in done.stderr
    assert endpoint(s1, world.public["hub"]) == f"192.0.2.11:{PORT}"
    assert pings(s1, HUB_VPN)
    world.point_name(s1, "192.0.2.11")


def test_an_endpoint_that_roamed_ahead_of_dns_is_kept(world: World) -> None:
    """The hub reached s1 from an address DNS does not give yet (WireGuard roaming): DNS did not
    change since the last run, so `reresolve` does not send s1 back to the stale address."""
    hub, s1 = world.nodes["hub"], world.nodes["s1"]
    hub.run(["ip", "address", "add", "192.0.2.21/24", "dev", "eth0"])
    s1.run(["wg", "set", IFACE, "peer", world.public["hub"], "endpoint", f"192.0.2.21:{PORT}"])
    quiet = script(s1, "reresolve")
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert endpoint(s1, world.public["hub"]) == f"192.0.2.21:{PORT}"
    # a new DNS answer wins
    world.point_name(s1, "192.0.2.1")
    assert "now resolves to 192.0.2.1" in script(s1, "reresolve").stderr
    assert endpoint(s1, world.public["hub"]) == f"192.0.2.1:{PORT}"
    world.point_name(s1, "192.0.2.11")
    assert "now resolves to 192.0.2.11" in script(s1, "reresolve").stderr
    hub.run(["ip", "address", "del", "192.0.2.21/24", "dev", "eth0"])
    assert pings(s1, HUB_VPN)


def test_the_kept_copy_runs_reresolve_on_its_own(world: World) -> None:
    """What the timer runs: the copy, with no config on stdin and no Pulumi around."""
    s1 = world.nodes["s1"]
    move_hub(world, "192.0.2.12")
    world.point_name(s1, "192.0.2.12")
    done = s1.run([SELF, "reresolve"], timeout=60)
    assert done.stdout == ""
    assert f"{NAME} now resolves to 192.0.2.12" in done.stderr
    assert endpoint(s1, world.public["hub"]) == f"192.0.2.12:{PORT}"
    assert pings(s1, HUB_VPN)


def test_reresolve_without_an_interface_is_a_quiet_no_op(world: World) -> None:
    bare = world.lab.node("bare")
    done = script(bare, "reresolve")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not exists(bare, STATE)


def test_a_config_without_names_drops_the_copy_and_remove_removes_it(world: World) -> None:
    s1 = world.nodes["s1"]
    done = script(s1, "install", world.conf("s1", VPN_LITERAL), vpn=VPN_LITERAL)
    assert done.stdout == f"{world.public['s1']}\n"
    assert "no systemd here" not in done.stderr
    assert not exists(s1, SELF)
    assert pings(s1, HUB_VPN)

    script(s1, "install", world.conf("s1"))
    assert exists(s1, SELF)
    done = script(s1, "remove")
    assert done.stdout == ""
    assert not exists(s1, SELF) and not exists(s1, STATE)
    assert s1.run(["ip", "link", "show", IFACE], check=False).returncode != 0
    assert host_state() == world.host_before


FAKE_SYSTEMCTL = """#!/bin/sh
# systemctl for a lab node: records its calls; runs wg-quick for wg-quick@ units
exec 9>&-
echo "$*" >>/run/systemd/calls
case "$1 ${2:-}" in
"start wg-quick@"*) exec wg-quick up "${2#wg-quick@}" ;;
"stop wg-quick@"*) exec wg-quick down "${2#wg-quick@}" ;;
"is-active --quiet") exec ip link show dev "${3#wg-quick@}" >/dev/null 2>&1 ;;
esac
"""


def test_under_systemd_a_timer_runs_the_copy(world: World) -> None:
    """The systemd path, with a stand-in systemctl (the lab runs no systemd): units written,
    valid for `systemd-analyze verify`, enabled; dropped with the last name and by `remove`."""
    sd = world.lab.node("sd")
    sd.write_file("/usr/local/sbin/systemctl", FAKE_SYSTEMCTL, mode=0o755)
    sd.run("mkdir -p /run/systemd/system")
    world.point_name(sd, "192.0.2.12")

    def calls() -> list[str]:
        text = sd.run("cat /run/systemd/calls 2>/dev/null; rm -f /run/systemd/calls").stdout
        return text.splitlines()

    script(sd, "public-key")
    done = script(sd, "install", world.conf("s1"))
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=\n", done.stdout)
    assert "re-resolving the endpoint host names every 60 s (wgsites-reresolve-wg0.timer)" in done.stderr
    service, timer = (sd.read_file(unit) for unit in UNITS)
    assert "Type=oneshot\n" in service and f"ExecStart={SELF} reresolve\n" in service
    assert "OnBootSec=60s\n" in timer and "OnUnitActiveSec=60s\n" in timer and "WantedBy=timers.target\n" in timer
    sd.run(["systemd-analyze", "verify", *UNITS])
    assert calls() == [
        "enable wg-quick@wg0",
        "is-active --quiet wg-quick@wg0",  # an active unit without its interface is stopped first
        "start wg-quick@wg0",
        "daemon-reload",
        "enable --now --quiet wgsites-reresolve-wg0.timer",
    ]
    assert exists(sd, SELF)

    again = script(sd, "install", world.conf("s1"))  # unchanged: no reload, timer kept enabled
    assert "config unchanged" in again.stderr and "re-resolving" not in again.stderr
    assert calls() == ["enable --now --quiet wgsites-reresolve-wg0.timer"]

    done = script(sd, "install", world.conf("s1", VPN_LITERAL), vpn=VPN_LITERAL)
    assert "wgsites-reresolve-wg0.timer removed" in done.stderr
    assert "disable --now --quiet wgsites-reresolve-wg0.timer" in calls()
    assert not any(exists(sd, path) for path in (SELF, *UNITS))

    script(sd, "install", world.conf("s1"))
    assert all(exists(sd, path) for path in (SELF, *UNITS))
    calls()
    script(sd, "remove")
    assert "disable --now --quiet wgsites-reresolve-wg0.timer" in calls()
    assert not any(exists(sd, path) for path in (SELF, *UNITS, STATE))
    assert host_state() == world.host_before
