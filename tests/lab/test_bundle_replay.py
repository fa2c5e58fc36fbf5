"""An older bundle put back in SSM is refused: a removed (stolen) phone never comes back.

Whoever can write the gateway's SSM parameters but holds no seed cannot sign a bundle; SSM
keeps each parameter's last 100 versions, though, each once signed by the stack. The travel
stack's gateway runs in the lab with its real user data, bootstrap and agent against moto's
SSM: v1 with the laptop and a phone is applied, then v2 without the phone (the phone was
stolen), then every parameter is put back to its v1 value, as GetParameterHistory hands them
out. The bootstrap refuses v1 (its serial is below the one applied), the phone's key never
returns to the interface, the laptop's tunnel carries on, and `wgsites status` (run from the
operator, reading the agent's published view) names the attempt. Before that, while v1 runs,
`status` shows the phone the stack no longer has as drift.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time

import yaml

from lab.checks import Checker
from lab.deploy import LAB_CREDENTIALS, deploy, gateway_parameter_names, put_parameters, ssm_endpoint, wait_for
from lab.netns import Lab
from lab.run import LAB_SYNC_SECONDS
from lab.world import build_world
from tests.stacks import ROOT, stack_file
from wgsites.rendering.render import render_wg_quick
from wgsites.stack.parse import CONFIG_KEY, parse_vpn

SNAPSHOT = """\
import boto3, json, sys
p = json.load(sys.stdin)
c = boto3.client('ssm', endpoint_url=p['endpoint'], region_name=p['region'])
found = []
for page in c.get_paginator('get_parameters_by_path').paginate(Path=p['prefix'], Recursive=True, WithDecryption=True):
    found += [(x['Name'], x['Type'], x['Value']) for x in page['Parameters']]
print(json.dumps(found))
"""
PUT_BACK = """\
import boto3, json, sys
p = json.load(sys.stdin)
c = boto3.client('ssm', endpoint_url=p['endpoint'], region_name=p['region'])
for name, kind, value in p['parameters']:
    c.put_parameter(Name=name, Type=kind, Value=value, Overwrite=True)
"""


def travel_with_a_phone():
    """The travel stack (hub `gateway`, the laptop) and a phone: v1, before the phone was stolen."""
    raw = yaml.safe_load(stack_file("travel").read_text())["config"][CONFIG_KEY]
    raw["peers"].append({"name": "phone", "address": "10.90.90.3", "interface": "wg0", "tunnel": "split"})
    raw["hub"]["aws"] = {"syncSeconds": LAB_SYNC_SECONDS}
    return parse_vpn(raw)


def test_an_older_bundle_put_back_is_refused_and_status_names_it():
    with Lab() as lab:
        world = build_world(lab, "travel", travel_with_a_phone(), lab.run_dir)
        dep = deploy(world)
        vpn, hub, laptop = world.vpn, world.nodes["gateway"], world.nodes["laptop"]
        iface, hub_address = vpn.hub.interface, str(vpn.hub.address)
        phone_key = dep.keys.public["phone"]
        names = gateway_parameter_names(world)
        ssm = {"endpoint": ssm_endpoint(), "region": names.region, "prefix": names.prefix}

        def peers() -> str:
            return hub.run(["wg", "show", iface, "peers"], check=False).stdout

        def status():
            argv = [sys.executable, "-m", "wgsites", "status", str(stack_file("travel")), "--stale-after", "3600"]
            env = {**LAB_CREDENTIALS, "AWS_ENDPOINT_URL_SSM": ssm_endpoint(), "PYTHONPATH": str(ROOT)}
            return world.operator.run(argv, env=env, check=False, timeout=60)

        def rows() -> list[list[str]]:
            return [line.split()[:3] for line in status().stdout.splitlines()[1:]]

        # v1: the laptop and the phone; the stack file (Pulumi.travel.yaml) has no phone: status shows it as drift
        assert wait_for(lambda: phone_key in peers(), 3 * LAB_SYNC_SECONDS) is not None
        assert wait_for(lambda: ["gateway", "phone", "drift"] in rows(), 3 * LAB_SYNC_SECONDS, interval=2) is not None
        assert f"gateway runs a peer the stack does not have (public key {phone_key})" in status().stdout
        v1 = json.loads(world.operator.run([sys.executable, "-c", SNAPSHOT], input=json.dumps(ssm), env=LAB_CREDENTIALS).stdout)

        # v2: the phone removed from the stack
        v2 = dataclasses.replace(vpn, spokes=tuple(s for s in vpn.spokes if s.name != "phone"))
        endpoint = f"{world.public['gateway']}:{vpn.hub.listen_port}"
        put_parameters(world, dep.keys, render_wg_quick(v2, "gateway", world.stack, dep.keys, hub_endpoint=endpoint), vpn=v2)
        assert wait_for(lambda: phone_key not in peers(), 3 * LAB_SYNC_SECONDS) is not None, "v2 was not applied"
        assert wait_for(lambda: ["gateway", "phone", "drift"] not in rows(), 3 * LAB_SYNC_SECONDS, interval=2) is not None

        # every parameter back at its v1 value (the chunks, the manifest, the key, the status)
        world.operator.run([sys.executable, "-c", PUT_BACK], input=json.dumps({**ssm, "parameters": v1}), env=LAB_CREDENTIALS)
        put_back = time.monotonic()

        def refused() -> bool:
            return any("refused (serial" in log.read_text() for log in (hub.dir / "logs").glob("*.log"))

        assert wait_for(refused, 3 * LAB_SYNC_SECONDS) is not None, "the bootstrap did not refuse the older bundle"
        while time.monotonic() - put_back < 3 * LAB_SYNC_SECONDS:  # three periods: the phone never returns
            assert phone_key not in peers(), "the removed phone is a peer again"
            time.sleep(0.5)
        done = None

        def named() -> bool:
            nonlocal done
            done = status()
            return "an older bundle put back (its serial is not above the one applied)" in done.stdout

        assert wait_for(named, 3 * LAB_SYNC_SECONDS, interval=2) is not None, status().stdout
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert ["gateway", "-", "unknown"] in [line.split()[:3] for line in done.stdout.splitlines()[1:]]
        assert ["gateway", "phone", "drift"] not in [line.split()[:3] for line in done.stdout.splitlines()[1:]]
        assert Checker.ping(laptop, hub_address, 3)[1] == 3  # the laptop's tunnel carries on
        print(f"\n{done.stdout}")
