"""`wgsites status` on a running aws gateway: its own view, published to SSM by its agent, no SSH.

The travel stack's gateway runs in the lab with its real user data and agent against moto's
SSM. `status` runs from the operator's namespace through its command line entry, as a user
runs it (the lab's credentials, AWS_ENDPOINT_URL_SSM pointing at the stand-in): with the
laptop's tunnel up it shows a fresh handshake and exits 0; with the tunnel down, once the
handshake is older than the threshold (a parameter, so the test is short; the data are real),
it exits 1 naming the laptop.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time

from lab.deploy import LAB_CREDENTIALS, deploy, ssm_endpoint, wait_for
from lab.netns import Lab
from lab.run import LAB_SYNC_SECONDS
from lab.world import build_world
from tests.stacks import ROOT, stack_file
from wgsites.stack.check import load_stack_file

STALE_AFTER = 20  # seconds; the default is 180 + the sync period (wgsites/operations/gateway_status.py says why)


def test_status_shows_the_gateways_view_and_names_a_stale_tunnel():
    vpn = load_stack_file(stack_file("travel"))
    vpn = dataclasses.replace(
        vpn, hub=dataclasses.replace(vpn.hub, aws=dataclasses.replace(vpn.hub.aws, sync_seconds=LAB_SYNC_SECONDS))
    )
    with Lab() as lab:
        world = build_world(lab, "travel", vpn, lab.run_dir)
        deploy(world)
        laptop, hub_address = world.nodes["laptop"], str(vpn.hub.address)

        def status(*extra: str):
            argv = [sys.executable, "-m", "wgsites", "status", str(stack_file("travel")), "--stale-after", str(STALE_AFTER)]
            env = {**LAB_CREDENTIALS, "AWS_ENDPOINT_URL_SSM": ssm_endpoint(), "PYTHONPATH": str(ROOT)}
            return world.operator.run([*argv, *extra], env=env, check=False, timeout=60)

        assert wait_for(lambda: laptop.run(["ping", "-c1", "-W1", hub_address], check=False).returncode == 0, 30)
        # the handshake reaches SSM on the agent's next sync, a period at most
        assert wait_for(lambda: status().returncode == 0, 2 * LAB_SYNC_SECONDS + 10, interval=2) is not None, status().stdout
        done = status()
        assert "Traceback" not in done.stderr
        header, row = done.stdout.splitlines()
        assert row.split()[:3] == ["gateway", "laptop", "ok"], done.stdout
        assert "(hub's view" in row
        (record,) = json.loads(status("--json").stdout)
        assert record["state"] == "ok" and record["handshake_age"] <= STALE_AFTER and record["rx"] > 0
        print(f"\n{done.stdout}")

        laptop.run(["wg-quick", "down", vpn.node("laptop").interface])
        stopped = time.monotonic()
        took = wait_for(lambda: status().returncode != 0, STALE_AFTER + 2 * LAB_SYNC_SECONDS + 10, interval=2)
        assert took is not None, "status still exits 0 with the laptop's tunnel down"
        done = status()
        assert done.returncode == 1 and "Traceback" not in done.stderr
        row = done.stdout.splitlines()[1]
        assert row.split()[:3] == ["gateway", "laptop", "stale"], done.stdout
        assert f"no handshake within {STALE_AFTER} s: is laptop's tunnel up?" in row
        print(f"{done.stdout}\nstale {time.monotonic() - stopped:.0f} s after the laptop's tunnel went down")
