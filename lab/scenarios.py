"""Changes a running VPN must survive: a new WAN address, a peer added on the fly."""

from __future__ import annotations

import dataclasses
import re
import time

from wgsites.rendering.render import KeyRing, render_wg_quick
from wgsites.stack.model import Spoke

from .addresses import ADDED_PEER_PUBLIC, WAN_CHANGE, moved
from .check_run import CheckRun
from .deploy import install_file_peer, make_keys, put_parameters, wait_for
from .world import add_device, cafe_ipv6, move_nat_wan


def wan_address_change(checker: CheckRun) -> None:
    """A site behind NAT gets a new public address (ISP reconnect): keepalive must bring it back."""
    world, vpn = checker.world, checker.vpn
    for spoke in vpn.spokes:
        if spoke.endpoint or spoke.kind != "site" or spoke.name not in world.nat:
            continue
        checker.attempt("WAN address change: tunnel recovers by itself", spoke.name, lambda spoke=spoke: _new_wan(checker, spoke))


def _new_wan(checker: CheckRun, spoke: Spoke) -> tuple[bool, str]:
    world, vpn = checker.world, checker.vpn
    hub_node = checker.node(vpn.hub.name)
    box = world.nat[spoke.name]
    old = world.public[spoke.name]
    new = moved(old, WAN_CHANGE)
    move_nat_wan(box, old, new)
    world.public[spoke.name] = new
    target = str(spoke.address)
    took = wait_for(lambda: checker.ping(hub_node, target, 1)[1] == 1, 75, interval=1)
    seen = checker.hub_endpoint_of(spoke.name)
    return took is not None and took <= 60 and seen.startswith(new + ":"), (
        f"{old} -> {new}: hub reached {target} again after {f'{took:.1f} s' if took is not None else 'never'}; "
        f"hub now sees {seen}"
    )


def add_peer_through_ssm(checker: CheckRun) -> None:
    """Pulumi updates the SSM parameter; the hub's sync unit applies it in place, dropping nothing."""
    world, vpn = checker.world, checker.vpn
    if vpn.hub.kind != "aws" or not vpn.spokes:
        return
    used = {n.address for n in vpn.nodes}
    address = next(a for a in vpn.network.hosts() if a not in used)
    new_peer = Spoke(name="added", kind="peer", address=address, interface="wg0")
    grown = dataclasses.replace(vpn, spokes=(*vpn.spokes, new_peer))
    node = add_device(world, "added", ADDED_PEER_PUBLIC)
    if world.hub_over_ipv6:  # the added peer's café has IPv6 too
        world.public6["added"] = cafe_ipv6(world, "added", len(vpn.spokes) + 1)[1]
    world.vpn = grown
    keys: KeyRing = make_keys(world, previous=checker.dep.keys)
    hub_endpoint = vpn.hub.endpoint
    hub_config = render_wg_quick(grown, vpn.hub.name, world.stack, keys, hub_endpoint=hub_endpoint)

    pinger = vpn.spokes[0]
    target = str(vpn.hub.address)
    period = vpn.hub.aws.sync_seconds
    count = int((period + 10) / 0.05)
    hub_node = checker.node(vpn.hub.name)
    handshake_before = hub_node.run(["wg", "show", vpn.hub.interface, "latest-handshakes"]).stdout
    pid = checker.node(pinger.name).spawn(
        ["ping", "-n", "-i", "0.05", "-c", str(count), "-W", "1", target], log=world.lab.run_dir / "add-peer-ping.log"
    )
    put_parameters(world, keys, hub_config)
    checker.dep.keys = keys  # what runs now: a later change (name_added_under_lookups) keeps the added peer
    took = wait_for(lambda: keys.public["added"] in hub_node.run(["wg", "show", vpn.hub.interface, "peers"]).stdout, period + 15)
    while world.lab.is_running(pid):
        time.sleep(0.5)
    summary = (world.lab.run_dir / "add-peer-ping.log").read_text()
    match = re.search(r"(\d+) packets transmitted, (\d+) received", summary)
    sent, got = (int(match.group(1)), int(match.group(2))) if match else (count, 0)
    handshake_after = hub_node.run(["wg", "show", vpn.hub.interface, "latest-handshakes"]).stdout
    pinger_key = keys.public[pinger.name]
    same_session = _handshake(handshake_before, pinger_key) == _handshake(handshake_after, pinger_key)
    checker.record(
        "peer added via SSM, applied by the sync unit",
        vpn.hub.name,
        took is not None and took <= period + 5,
        f"new peer on the hub {took:.1f} s after the parameter changed (sync period {period} s)"
        if took is not None
        else "never applied",
    )
    checker.record(
        "no packet lost while the peer was added",
        pinger.name,
        got == sent and same_session,
        f"{got}/{sent} pings at 50 ms answered; {pinger.name}'s session kept: {same_session}",
    )

    def added_works() -> tuple[bool, str]:
        install_file_peer(node, "wg0", render_wg_quick(grown, "added", world.stack, keys, hub_endpoint=hub_endpoint))
        sent, got = checker.ping(node, str(vpn.hub.address), 5)
        return got > 0, f"{got}/{sent} answered (first may start the handshake)"

    checker.attempt("the added peer's tunnel works", "added", added_works)


def _handshake(output: str, key: str) -> str:
    for line in output.splitlines():
        if line.startswith(key):
            return line.split("\t")[1]
    return "-"
