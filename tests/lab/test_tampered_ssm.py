"""Whoever can write the gateway's SSM parameters cannot run a command on it.

The bundle is code that runs as root there: one without the stack's signature is refused by
the bootstrap; a signed one whose config smuggles a hook is refused by the install script.

The travel stack's aws hub in the lab (its real cloud-init and sync unit against moto's SSM):
a config parameter with a smuggled hook, then a key parameter that holds no key. The sync
refuses both, the gateway keeps its config, its key and its tunnel, and the hook never runs.
"""

from __future__ import annotations

import base64
import dataclasses

from nacl.signing import SigningKey

from lab.checks import Checker
from lab.deploy import deploy, put_parameters, wait_for
from lab.netns import Lab
from lab.run import LAB_SYNC_SECONDS
from lab.world import build_world
from tests.stacks import stack_file
from wgsites.rendering.render import KeyRing
from wgsites.stack.check import load_stack_file

PWNED = "/etc/wireguard/pwned"


def test_a_tampered_ssm_parameter_is_refused_and_the_gateway_keeps_running():
    vpn = load_stack_file(stack_file("travel"))
    aws = dataclasses.replace(vpn.hub.aws, sync_seconds=LAB_SYNC_SECONDS)
    vpn = dataclasses.replace(vpn, hub=dataclasses.replace(vpn.hub, aws=aws))
    with Lab() as lab:
        world = build_world(lab, "travel", vpn, lab.run_dir)
        dep = deploy(world)
        hub, laptop = world.nodes[vpn.hub.name], world.nodes[vpn.spokes[0].name]
        iface, hub_address = vpn.hub.interface, str(vpn.hub.address)
        good = dep.configs[vpn.hub.name]
        public = hub.run(["wg", "show", iface, "public-key"]).stdout
        assert wait_for(lambda: Checker.ping(laptop, hub_address, 1)[1] == 1, 20) is not None

        def refused(text: str) -> bool:  # in what the sync timer printed (the lab's timer logs to the node's folder)
            return any(text in log.read_text() for log in (hub.dir / "logs").glob("*.log"))

        # an SSM writer without the stack's seed: any bundle it writes lacks the stack's signature
        tampered = good.replace("[Interface]\n", f"[Interface]\nPostUp = touch {PWNED}\n")
        forged = base64.b64encode(SigningKey.generate().sign(b"x").signature).decode()
        put_parameters(world, dep.keys, tampered, signature=forged)
        assert wait_for(lambda: refused("not signed by this stack's key"), LAB_SYNC_SECONDS + 15) is not None
        # and a signed bundle whose config holds a hook (a pipeline gone wrong): the install script refuses it
        put_parameters(world, dep.keys, tampered)
        assert wait_for(lambda: refused("a hook wgsites does not write"), LAB_SYNC_SECONDS + 15) is not None
        no_key = KeyRing(public=dep.keys.public, private={**dep.keys.private, vpn.hub.name: "not-a-key\nPostUp = x"})
        put_parameters(world, no_key, good)
        assert wait_for(lambda: refused("holds no WireGuard key"), LAB_SYNC_SECONDS + 15) is not None

        assert hub.run(["test", "-e", PWNED], check=False).returncode == 1, "the smuggled hook ran"
        assert hub.read_file(f"/etc/wireguard/{iface}.conf") == good
        assert hub.run(["wg", "show", iface, "public-key"]).stdout == public
        assert Checker.ping(laptop, hub_address, 3)[1] == 3
