"""`wgsites status` on real hosts: a working tunnel, a peer that never dialled, a peer not installed."""

from __future__ import annotations

import dataclasses

from lab.deploy import deploy, run_over_ssh
from lab.netns import Lab
from lab.world import build_world
from tests.stacks import stack_file
from wgsites.operations.host_status import collect, format_rows
from wgsites.rendering.render import install_command, render_wg_quick
from wgsites.stack.check import load_stack_file
from wgsites.stack.model import Spoke


def test_status_tells_which_side_never_answered():
    with Lab() as lab:
        world = build_world(lab, "router", load_stack_file(stack_file("router")), lab.run_dir)
        dep = deploy(world)
        vpn = world.vpn

        def run(node: str, command: str) -> str:
            return run_over_ssh(world, node, command)

        world.nodes["laptop"].run(["ping", "-c", "2", "-W", "2", str(vpn.hub.address)], check=False)
        rows = collect(vpn, "router", run)
        assert [(r.node, r.peer, r.state) for r in rows] == [("router", "laptop", "ok")], format_rows(rows)

        # a peer in the stack but not yet on the router: "missing"
        ghost = Spoke(name="ghost", kind="peer", address=vpn.network.network_address + 9)
        grown = dataclasses.replace(vpn, spokes=(*vpn.spokes, ghost))
        rows = collect(grown, "router", run)
        assert {r.peer: r.state for r in rows} == {"laptop": "ok", "ghost": "missing"}, format_rows(rows)

        # installed on the router, but the device never dials: "never", and who should have
        keys = dataclasses.replace(dep.keys, public={**dep.keys.public, "ghost": dep.keys.public["laptop"][:-4] + "AAA="})
        config = render_wg_quick(grown, "router", "router", keys)
        run_over_ssh(world, "router", install_command(grown, "router", "router", "install"), config)
        rows = collect(grown, "router", run)
        never = next(r for r in rows if r.peer == "ghost")
        assert never.state == "never", format_rows(rows)
        assert never.detail.startswith("ghost never completed a handshake with router: ghost dials router")
        assert "UDP 51000" in never.detail
        assert next(r for r in rows if r.peer == "laptop").state == "ok"  # the reload kept the laptop's tunnel
