"""Preshared keys on the aws gateway in the lab: its real bootstrap and agent against moto's SSM.

The home stack with `presharedKey: true`: the gateway reads its pairs' keys from their
SecureString chunk, checks them against the signed bundle's hash and runs them; every tunnel
works (the site managed over SSH got its key from the install script, the devices inline). Then
one pair rotated through SSM, as an `up` writes it: the gateway runs the new key within a sync
period, and the site's pings through the tunnel lose nothing.
"""

from __future__ import annotations

import dataclasses
import re

from lab.checks import Checker, table
from lab.deploy import deploy, make_keys, put_parameters, run_over_ssh, wait_for
from lab.netns import Lab
from lab.run import LAB_SYNC_SECONDS
from lab.world import build_world
from tests.stacks import stack_file
from wgsites.rendering.render import install_command, render_preshared_keys, render_wg_quick
from wgsites.stack.check import load_stack_file


def test_the_gateway_runs_its_preshared_keys_and_a_rotation_through_ssm_drops_nothing():
    vpn = load_stack_file(stack_file("home"))
    vpn = dataclasses.replace(
        vpn,
        preshared_key=True,
        hub=dataclasses.replace(vpn.hub, aws=dataclasses.replace(vpn.hub.aws, sync_seconds=LAB_SYNC_SECONDS)),
    )
    with Lab() as lab:
        world = build_world(lab, "home", vpn, lab.run_dir)
        dep = deploy(world)
        vpn, gateway = world.vpn, world.nodes[world.vpn.hub.name]
        iface, hub_address = vpn.hub.interface, str(vpn.hub.address)
        keys = dep.keys

        def running() -> dict[str, str]:
            out = gateway.run(["wg", "show", iface, "preshared-keys"]).stdout
            return dict(line.split("\t") for line in out.splitlines())

        expected = {keys.public[s.name]: keys.preshared[s.name] for s in vpn.spokes}
        assert wait_for(lambda: running() == expected, LAB_SYNC_SECONDS + 15), "the gateway does not run its preshared keys"
        assert gateway.run(["stat", "-c", "%a", f"/etc/wireguard/{iface}.psk"]).stdout.strip() == "600"
        results = Checker(dep).run_all()
        failed = [c for c in results if not c.passed]
        assert not failed, "\n" + table(failed)

        # one pair rotated: SSM first (the gateway's next sync), the site over SSH in the same `up`
        old = dict(keys.preshared)
        rotated = dataclasses.replace(keys, preshared={**old, "home": ""})
        rotated = make_keys(world, previous=rotated)
        assert rotated.preshared["home"] != old["home"] and rotated.preshared["laptop"] == old["laptop"]
        endpoint = f"{world.public[vpn.hub.name]}:{vpn.hub.listen_port}"
        config = render_wg_quick(vpn, vpn.hub.name, world.stack, rotated, hub_endpoint=endpoint)
        assert config == dep.configs[vpn.hub.name]  # the config itself does not change
        log = lab.run_dir / "psk-rotation.ping"
        pid = world.nodes["home"].spawn(
            ["ping", "-n", "-i", "0.05", "-c", str((LAB_SYNC_SECONDS + 12) * 20), "-W", "1", "-w", "60", hub_address], log=log
        )
        put_parameters(world, rotated, config)
        site = vpn.node("home")
        command = install_command(vpn, "home", world.stack, "preshared-keys", site.ssh.user)
        run_over_ssh(world, "home", command, render_preshared_keys(vpn, "home", world.stack, rotated))
        took = wait_for(lambda: running()[keys.public["home"]] == rotated.preshared["home"], LAB_SYNC_SECONDS + 15, interval=0.2)
        while lab.is_running(pid):
            pass
        assert took is not None, "the gateway did not take the rotated key"
        sent, got = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", log.read_text()).groups())
        assert sent > 100 and got == sent, f"{sent - got} of {sent} pings lost through home during the rotation"
        assert running() == {**expected, keys.public["home"]: rotated.preshared["home"]}
        print(
            f"\naws gateway: rotated key applied {took:.1f} s after SSM was written (period {LAB_SYNC_SECONDS} s); "
            f"{sent} pings, {sent - got} lost"
        )
