"""The install script's systemd path under a real systemd (lab/systemd_host.py: systemd-nspawn).

The hub is a systemd host reached over real SSH from an operator node, with the script's exact
command line (`install_command`); it runs wg-quick@wg0 and the re-resolve timer as any Debian
host would. The sites s1 (192.0.2.2) and s2 (192.0.2.3, later .13) are plain lab nodes; s2 has a
public endpoint the hub dials, later by name (s2.example.net, answered by the lab's DNS responder
at 192.0.2.53, the hub's only resolver). Every systemctl call of the hub's script is bounded by
BOUND seconds, a value rendered into the script (render.SYSTEMCTL_SECONDS says why not an
environment variable). The tests run in file order on one lab: up and reload, an interface gone
behind systemd's back, changes under a DNS outage, the timer, a reboot, remove, and a first
install under a DNS outage (the one change that waits on `systemctl start`).
"""

from __future__ import annotations

import difflib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.netns import Lab, Node
from lab.services import DNS_RESPONDER, generate_ssh_keypair, ssh
from lab.systemd_host import SystemdHost
from wgsites.rendering.render import INSTALL_PATH, KeyRing, install_command, render_install_script, render_wg_quick
from wgsites.stack.keys import generate_private_key, public_key_of
from wgsites.stack.model import Vpn
from wgsites.stack.parse import parse_vpn

STACK = "lab"
IFACE = "wg0"
UNIT = f"wg-quick@{IFACE}.service"
TIMER = f"wgsites-reresolve-{IFACE}.timer"
DNS_UNIT = f"wgsites-dns-{IFACE}.service"
SERVICE = f"wgsites-reresolve-{IFACE}.service"
SELF = INSTALL_PATH.format(interface=IFACE)
NAME = "s2.example.net"
HUB, S1, S2 = "192.0.2.1", "192.0.2.2", "192.0.2.3"
S2_MOVED = "192.0.2.13"
DNS = "192.0.2.53"
OPERATOR = "192.0.2.9"
HUB_VPN, S1_VPN, S2_VPN = "10.50.0.1", "10.50.0.2", "10.50.0.3"
BOUND = 5  # seconds per systemctl call in the hub's script (60 by default)
# what `remove` must give back as it was: the files the script writes, and systemd's view of them
SNAPSHOT = (
    "find /etc/wireguard /etc/systemd/system /etc/sysctl.d /usr/local/sbin /var/lib/wgsites -printf '%p %m %s\\n' 2>&1 | sort;"
    " systemctl list-units --all --plain --no-legend 'wg*' 'wgsites*'; systemctl --failed --plain --no-legend;"
    " ip -br link; sysctl net.ipv4.ip_forward net.ipv4.conf.all.proxy_arp"
)


def make_vpn(s2_endpoint: str | None = None, hub_address: str = HUB_VPN, s3_endpoint: str | None = None) -> Vpn:
    sites = [{"name": "s1", "address": S1_VPN, "ssh": {"host": S1}}]
    if s2_endpoint:
        sites.append({"name": "s2", "address": S2_VPN, "endpoint": s2_endpoint, "ssh": {"host": S2}})
    if s3_endpoint:  # a peer only: no node plays it
        sites.append({"name": "s3", "address": "10.50.0.4", "endpoint": s3_endpoint, "ssh": {"host": "192.0.2.4"}})
    hub = {"name": "hub", "kind": "ssh", "address": hub_address, "endpoint": HUB, "ssh": {"host": HUB}}
    return parse_vpn({"network": "10.50.0.0/24", "hub": hub, "sites": sites})


VPN_S1 = make_vpn()  # hub + s1
VPN_LITERAL = make_vpn(f"{S2}:51820")  # + s2 at its address
VPN_NAMED = make_vpn(f"{NAME}:51820")  # s2 by name: the hub's config has a host-name Endpoint
VPN_RENUMBERED = make_vpn(f"{NAME}:51820", hub_address="10.50.0.254")  # a new Address: a restart
VPN_NEW_NAME = make_vpn(f"{S2}:51820", s3_endpoint="s3.example.net:51820")  # + a peer by name: a reload
VPN_NAMED_S3 = make_vpn(f"{NAME}:51820", s3_endpoint="192.0.2.4:51820")  # s2 by name, + s3 at its address


@dataclass
class World:
    lab: Lab
    hub: SystemdHost
    operator: Node
    key: Path
    sites: dict[str, Node]
    before: str = ""  # SNAPSHOT of the hub before wgsites
    public: dict[str, str] = field(default_factory=dict)
    dns_pid: int | None = None
    dns_runs: int = 0

    def conf(self, vpn: Vpn, name: str) -> str:
        return render_wg_quick(vpn, name, STACK, KeyRing(public=self.public))

    def on_hub(self, action: str, vpn: Vpn = VPN_S1, *, check: bool = True):
        """The hub's install script as `pulumi up` runs it: over SSH, config on stdin."""
        command = install_command(vpn, "hub", STACK, action, systemctl_seconds=BOUND)
        stdin = self.conf(vpn, "hub") if action == "install" else None
        done = ssh(self.operator, host=HUB, key=self.key, command=command, input=stdin, check=False, timeout=90)
        if check and done.returncode != 0:
            raise AssertionError(f"hub: {action} exited {done.returncode}:\n{done.stderr}")
        return done

    def answer(self, address: str | None) -> None:
        """The lab's DNS responder answers NAME with ADDRESS from now on (None: no DNS server at all)."""
        switch = self.lab.nodes["sw"]
        if self.dns_pid is not None:
            os.kill(self.dns_pid, signal.SIGTERM)
            while self.lab.is_running(self.dns_pid):
                time.sleep(0.02)
            self.dns_pid = None
        if address:
            self.dns_runs += 1
            out = switch.dir / f"dns-{self.dns_runs}.log"  # a log of its own: "listening" is this one's
            pid = switch.spawn([sys.executable, "-u", str(DNS_RESPONDER), DNS, NAME, address, str(out) + ".queries"], log=out)
            while "listening" not in out.read_text():
                assert self.lab.is_running(pid), self.lab.log_tail(pid)
                time.sleep(0.02)
            self.dns_pid = pid
        assert self.hub.run(["getent", "hosts", NAME], check=False).stdout.split()[:1] == ([address] if address else [])


def site(node: Node, name: str, action: str, config: str | None = None) -> str:
    """A site's own script, run in place (the no-systemd path; the hub is what these tests are about)."""
    return node.run(install_command(VPN_LITERAL, name, STACK, action), input=config).stdout


def pings(node: Node, address: str, tries: int = 10) -> bool:
    return any(node.run(["ping", "-c", "1", "-W", "1", address], check=False).returncode == 0 for _ in range(tries))


def hub_pings(world: World, address: str, tries: int = 10) -> bool:
    return any(world.hub.run(["ping", "-c", "1", "-W", "1", address], check=False).returncode == 0 for _ in range(tries))


def endpoint(world: World, peer: str) -> str:
    lines = world.hub.run(["wg", "show", IFACE, "endpoints"]).stdout.splitlines()
    return dict(line.split("\t") for line in lines)[world.public[peer]]


def ifindex(world: World) -> str:
    return world.hub.run(["cat", f"/sys/class/net/{IFACE}/ifindex"]).stdout.strip()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Lab() as lab:
        key, public_line = generate_ssh_keypair(lab.run_dir / "operator-ssh")
        switch = lab.node("sw")
        with SystemdHost(lab, "hub", public_line, resolver=DNS) as hub:
            nodes = {"hub": hub.node, "op": lab.node("op"), "s1": lab.node("s1"), "s2": lab.node("s2")}
            for name, address in (("hub", HUB), ("op", OPERATOR), ("s1", S1), ("s2", S2)):
                lab.link(nodes[name], "eth0", switch, f"p-{name}")
                nodes[name].add_address("eth0", f"{address}/24")
            switch.add_bridge("br0", [f"p-{name}" for name in nodes])
            switch.add_address("br0", f"{DNS}/24")
            nodes["op"].wait_for_port(HUB, 22, timeout=10)
            w = World(lab, hub, nodes["op"], key, {"s1": nodes["s1"], "s2": nodes["s2"]})
            w.before = hub.run(SNAPSHOT).stdout
            w.public["hub"] = w.on_hub("public-key").stdout.strip()
            for name, node in w.sites.items():
                w.public[name] = site(node, name, "public-key").strip()
            w.public["s3"] = public_key_of(generate_private_key())
            yield w


def test_install_brings_the_interface_up_through_wg_quick_and_reloads_it_in_place(world: World) -> None:
    s1 = world.sites["s1"]
    site(s1, "s1", "install", world.conf(VPN_LITERAL, "s1"))
    done = world.on_hub("install", VPN_S1)
    assert done.stdout == f"{world.public['hub']}\n"
    assert f"[#] timeout {BOUND} systemctl start wg-quick@{IFACE}" in done.stderr
    assert world.hub.unit_state(UNIT) == ("enabled", "active")
    assert world.hub.unit_state(DNS_UNIT) == ("enabled", "active")  # the VPN's resolver, a unit of its own
    assert pings(s1, HUB_VPN)
    index = ifindex(world)

    result: dict[str, str] = {}
    pinger = threading.Thread(
        target=lambda: result.update(
            out=s1.run(["ping", "-n", "-i", "0.05", "-c", "80", "-W", "1", "-w", "30", HUB_VPN], timeout=40).stdout
        )
    )
    pinger.start()
    try:
        time.sleep(1.0)  # the reload lands among the 4 s of pings
        done = world.on_hub("install", VPN_LITERAL)  # a new peer: s2
    finally:
        pinger.join()
    # no systemctl but the VPN resolver's reload (the new peer's name): the tunnel is reloaded by wg alone
    systemctl = [line for line in done.stderr.splitlines() if "systemctl" in line]
    assert "reloaded in place" in done.stderr and systemctl == ["[#] systemctl reload wgsites-dns-wg0"], done.stderr
    sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", result["out"]).groups())
    print(f"during the reload under systemd: {received}/{sent} pings answered")
    assert (sent, received) == (80, 80), result["out"]
    assert world.hub.unit_state(UNIT) == ("enabled", "active")
    assert ifindex(world) == index
    site(world.sites["s2"], "s2", "install", world.conf(VPN_LITERAL, "s2"))
    assert hub_pings(world, S2_VPN)  # the hub dials s2 at its endpoint


def test_an_interface_gone_behind_systemds_back_is_brought_up_again(world: World) -> None:
    """wg-quick@wg0 (a oneshot) stays active without its interface; a plain `systemctl start` did nothing."""
    world.hub.run(["ip", "link", "del", IFACE])
    assert world.hub.unit_state(UNIT) == ("enabled", "active")
    done = world.on_hub("install", VPN_LITERAL)
    assert f"[#] timeout {BOUND} systemctl stop wg-quick@{IFACE}" in done.stderr
    assert world.hub.unit_state(UNIT) == ("enabled", "active")
    assert world.hub.run(["ip", "-4", "-br", "address", "show", IFACE]).stdout.split()[2:] == [f"{HUB_VPN}/24"]
    assert hub_pings(world, S2_VPN)  # the hub dials s2 at once
    # s1 dials the hub: a new interface has lost s1's session, s1 makes a new one once its own times out (15 s)
    assert pings(world.sites["s1"], HUB_VPN, tries=25)


def test_when_dns_fails_a_change_ends_at_once_and_the_running_config_stays(world: World) -> None:
    """A reload resolves the names itself (wg syncconf would retry one for a minute); a restart (a new
    Address) checks them before it stops wg0, whose new start would wait on the name without end."""
    world.answer(None)  # the hub's resolver is gone
    index = ifindex(world)
    for vpn, name, peer in ((VPN_NEW_NAME, "s3.example.net", "s3"), (VPN_RENUMBERED, NAME, "s2")):
        start = time.monotonic()
        done = world.on_hub("install", vpn, check=False)
        took = time.monotonic() - start
        print(f"install with DNS down ({name}): exit {done.returncode} after {took:.1f} s")
        assert done.returncode == 1 and done.stdout == "" and took < BOUND
        assert (
            f"error: cannot resolve {name}, the Endpoint of peer {world.public[peer][:8]}... (is DNS working here?)"
            in done.stderr
        )
        assert "error: could not apply the new config; the previous one is back" in done.stderr
        assert "systemctl" not in done.stderr
        assert world.hub.run(["cat", f"/etc/wireguard/{IFACE}.conf"]).stdout == world.conf(VPN_LITERAL, "hub")
        assert ifindex(world) == index and world.hub.unit_state(UNIT) == ("enabled", "active")
        assert world.hub.run(["ip", "-4", "-br", "address", "show", IFACE]).stdout.split()[2:] == [f"{HUB_VPN}/24"]
        assert sorted(world.hub.run(["wg", "show", IFACE, "peers"]).stdout.split()) == sorted(
            [world.public["s1"], world.public["s2"]]
        )
        assert endpoint(world, "s2") == f"{S2}:51820"
    assert pings(world.sites["s1"], HUB_VPN) and hub_pings(world, S2_VPN)
    assert world.hub.unit_state(TIMER)[0] != "enabled"


def test_the_reresolve_timer_moves_the_peer_when_dns_changes(world: World) -> None:
    world.answer(S2)
    done = world.on_hub("install", VPN_NAMED)
    assert "reloaded in place" in done.stderr
    assert f"re-resolving the endpoint host names every 60 s ({TIMER})" in done.stderr
    assert world.hub.unit_state(TIMER) == ("enabled", "active")
    assert world.hub.run(["systemctl", "show", "-P", "NextElapseUSecMonotonic", TIMER]).stdout.strip() not in ("", "infinity")
    assert world.hub.run(["cat", SELF]).stdout == render_install_script(VPN_NAMED, "hub", STACK, BOUND)
    assert endpoint(world, "s2") == f"{S2}:51820"

    s2 = world.sites["s2"]  # s2's WAN address changes; nothing from s2 reaches the hub (it would roam there)
    s2.run(f"ip address flush dev eth0 && ip address add {S2_MOVED}/24 dev eth0")
    assert not hub_pings(world, S2_VPN, tries=2)
    world.answer(S2_MOVED)  # its DDNS record follows (from here a tick of the timer may move s2 as well)
    # what the timer starts, started by systemd now rather than at its next tick
    world.hub.run(["systemctl", "start", SERVICE], timeout=30)
    assert endpoint(world, "s2") == f"{S2_MOVED}:51820"
    journal = world.hub.run(["journalctl", "-u", SERVICE, "-o", "cat", "--no-pager"]).stdout
    assert f"{NAME} now resolves to {S2_MOVED}" in journal
    assert world.hub.unit_state(SERVICE)[1] == "inactive"  # a oneshot that ended well
    assert hub_pings(world, S2_VPN)
    assert world.hub.unit_state(UNIT) == ("enabled", "active")

    world.answer(None)  # DNS down again: a reload (a new peer) keeps s2 where its name last pointed
    done = world.on_hub("install", VPN_NAMED_S3)
    assert f"cannot resolve {NAME} now (peer {world.public['s2'][:8]}...): its endpoint stays {S2_MOVED}:51820" in done.stderr
    assert "reloaded in place" in done.stderr
    assert endpoint(world, "s2") == f"{S2_MOVED}:51820" and endpoint(world, "s3") == "192.0.2.4:51820"
    assert hub_pings(world, S2_VPN)


def test_after_a_reboot_the_enabled_units_bring_the_tunnel_and_the_timer_back(world: World) -> None:
    world.answer(S2_MOVED)  # DNS is back: wg-quick@ resolves the name at boot (and waits for it without end)
    world.hub.reboot()
    assert world.hub.unit_state(UNIT) == ("enabled", "active")
    assert world.hub.unit_state(TIMER) == ("enabled", "active")
    assert world.hub.unit_state(DNS_UNIT) == ("enabled", "active")
    assert world.hub.run(["ip", "-4", "-br", "address", "show", IFACE]).stdout.split()[2:] == [f"{HUB_VPN}/24"]
    assert endpoint(world, "s2") == f"{S2_MOVED}:51820" and endpoint(world, "s3") == "192.0.2.4:51820"
    assert world.hub.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"  # the drop-in, at boot
    assert hub_pings(world, S2_VPN)


def test_remove_disables_the_units_and_leaves_the_host_as_before(world: World) -> None:
    # a run of the timer's service that failed (here: /run/wgsites not root's alone) must not outlive remove
    world.hub.run(["install", "-d", "-m", "755", "/run/wgsites"])
    assert world.hub.run(["systemctl", "start", SERVICE], check=False).returncode != 0
    assert world.hub.unit_state(SERVICE)[1] == "failed"
    world.hub.run(["chmod", "700", "/run/wgsites"])
    done = world.on_hub("remove", VPN_NAMED_S3)
    assert done.stdout == "" and "removed" in done.stderr
    assert world.hub.unit_state(UNIT) == ("disabled", "inactive")
    assert world.hub.unit_state(TIMER)[1] == "inactive"
    assert world.hub.unit_state(DNS_UNIT)[1] == "inactive"
    assert world.hub.run(["ip", "link", "show", IFACE], check=False).returncode != 0
    after = world.hub.run(SNAPSHOT).stdout
    assert after == world.before, "".join(difflib.unified_diff(world.before.splitlines(True), after.splitlines(True)))


def test_a_first_install_with_dns_down_ends_within_the_systemctl_bound(world: World) -> None:
    """Nothing runs yet to keep: wg-quick@wg0's start waits on the name without end, and the bound ends it."""
    world.answer(None)
    start = time.monotonic()
    done = world.on_hub("install", VPN_NAMED, check=False)
    took = time.monotonic() - start
    print(f"first install with DNS down under systemd: exit {done.returncode} after {took:.1f} s (bound {BOUND} s)")
    assert done.returncode == 1 and done.stdout == ""
    assert f"error: systemctl start wg-quick@{IFACE} did not finish within {BOUND} s" in done.stderr
    assert "error: wg-quick up failed; the previous config is back" in done.stderr
    assert BOUND <= took < 2 * BOUND + 5  # the start (the bound), then the stop that cancels its job
    assert world.hub.unit_state(UNIT)[1] == "inactive"  # not failed: the error is the caller's to see, above
    assert world.hub.run(["ip", "link", "show", IFACE], check=False).returncode != 0
    assert world.hub.run(["test", "-e", f"/etc/wireguard/{IFACE}.conf"], check=False).returncode != 0
    time.sleep(BOUND)  # the cancelled start does not come back later, behind the rollback's back
    assert world.hub.run(["ip", "link", "show", IFACE], check=False).returncode != 0
    world.on_hub("remove", VPN_NAMED)
    after = world.hub.run(SNAPSHOT).stdout
    assert after == world.before, "".join(difflib.unified_diff(world.before.splitlines(True), after.splitlines(True)))
