"""Day two on a running aws gateway: every change arrives through SSM and is applied in place.

The home stack's gateway runs in the lab with its real user data (a static bootstrap) and
its agent polling moto's SSM. One new bundle then changes masquerade (ens5 -> true), adds
a forward rule, changes the sync period and carries a new agent (what an upgrade of wgsites
ships). Within one period the gateway applies all of it, the interface is not restarted,
and the pings through the other tunnels lose nothing. The user data never changed.
"""

from __future__ import annotations

import dataclasses
import re

from lab.deploy import deploy, put_parameters, wait_for
from lab.netns import Lab
from lab.run import LAB_SYNC_SECONDS
from lab.world import build_world
from tests.stacks import stack_file
from wgsites.rendering.bundle import bundle_text
from wgsites.rendering.gateway_programs import agent_source
from wgsites.rendering.render import render_install_script, render_wg_quick
from wgsites.rendering.status_slots import status_slots
from wgsites.stack.check import load_stack_file
from wgsites.stack.model import ForwardRule

AGENT_MARK = "# agent of the next wgsites release (test)"


def with_period(vpn, seconds: int):
    return dataclasses.replace(vpn, hub=dataclasses.replace(vpn.hub, aws=dataclasses.replace(vpn.hub.aws, sync_seconds=seconds)))


def test_every_change_reaches_the_running_gateway_in_place():
    vpn = with_period(load_stack_file(stack_file("home")), LAB_SYNC_SECONDS)
    with Lab() as lab:
        world = build_world(lab, "home", vpn, lab.run_dir)
        dep = deploy(world)
        vpn, hub = world.vpn, world.nodes[world.vpn.hub.name]
        iface, hub_address = vpn.hub.interface, str(vpn.hub.address)
        pingers = [s for s in vpn.spokes if s.name in ("home", "laptop")]
        for spoke in pingers:  # the tunnels are up before the change
            assert wait_for(
                lambda s=spoke: world.nodes[s.name].run(["ping", "-c1", "-W1", hub_address], check=False).returncode == 0, 30
            )
        ifindex = hub.read_file(f"/sys/class/net/{iface}/ifindex")

        # the next release's bundle: other rules, another period, another agent
        changed = dataclasses.replace(
            with_period(vpn, LAB_SYNC_SECONDS + 2),
            hub=dataclasses.replace(with_period(vpn, LAB_SYNC_SECONDS + 2).hub, masquerade=True),
            forward_rules=(ForwardRule("tcp", 25, "drop"),),
        )
        endpoint = f"{world.public[vpn.hub.name]}:{vpn.hub.listen_port}"
        config = render_wg_quick(changed, vpn.hub.name, world.stack, dep.keys, hub_endpoint=endpoint)
        agent = agent_source() + f"\n{AGENT_MARK}\n"
        install = render_install_script(changed, vpn.hub.name, world.stack)
        text = bundle_text(config, install, agent, LAB_SYNC_SECONDS + 2, status_slots(changed))

        logs = {s.name: lab.run_dir / f"day-two-{s.name}.ping" for s in pingers}
        pids = [
            world.nodes[s.name].spawn(
                ["ping", "-n", "-i", "0.05", "-c", str((LAB_SYNC_SECONDS + 12) * 20), "-W", "1", "-w", "60", hub_address],
                log=logs[s.name],
            )
            for s in pingers
        ]
        put_parameters(world, dep.keys, config, text=text)

        def applied() -> bool:
            table = hub.run(["nft", "list", "table", "inet", f"wgsites_{iface}"], check=False).stdout
            agent_now = hub.run(["cat", "/var/lib/wgsites/agent.py"], check=False).stdout
            period = hub.run("cat /etc/systemd/system/wgsites-sync.timer.d/period.conf 2>/dev/null || true").stdout
            return (
                "tcp dport 25 drop" in table
                and 'oifname != "wg0"' in table
                and AGENT_MARK in agent_now
                and f"OnUnitActiveSec={LAB_SYNC_SECONDS + 2}s" in period
            )

        took = wait_for(applied, LAB_SYNC_SECONDS + 10, interval=0.2)
        while any(lab.is_running(pid) for pid in pids):
            pass
        assert took is not None and took <= LAB_SYNC_SECONDS + 3, f"applied after {took} s (period {LAB_SYNC_SECONDS} s)"
        assert hub.read_file(f"/sys/class/net/{iface}/ifindex") == ifindex, "the interface was restarted"
        assert hub.read_file(f"/etc/wireguard/{iface}.conf") == config
        for name, log in logs.items():
            sent, got = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", log.read_text()).groups())
            assert sent > 100 and got == sent, f"{sent - got} of {sent} pings lost through {name}"
        print(f"\nthe new bundle was applied {took:.1f} s after it was written (period {LAB_SYNC_SECONDS} s), 0 pings lost")
