"""`masquerade: true` on a hub with its own LAN NATs only toward the internet.

The router stack's hub (LAN 10.10.10.0/24 with a NAS) gets `masquerade: true` and a full-tunnel
phone beside the split-tunnel laptop: the phone's web traffic leaves from the hub's public
address, while the laptop reaches the NAS with its own VPN address (routed, not NATed).
"""

from __future__ import annotations

import copy

import yaml

from lab.checks import table
from lab.netns import Lab
from lab.run import run_stack
from tests.stacks import stack_file


def test_masquerade_never_nats_into_a_lan_of_the_vpn(tmp_path):
    document = yaml.safe_load(stack_file("router").read_text())
    vpn = copy.deepcopy(document["config"]["wgsites:vpn"])
    vpn["hub"]["masquerade"] = True
    vpn["peers"].append({"name": "phone", "address": "10.10.11.3", "tunnel": "full", "dns": ["9.9.9.9"]})
    document["config"]["wgsites:vpn"] = vpn
    path = tmp_path / "Pulumi.routernat.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with Lab() as lab:
        results = run_stack(lab, path)
    print(f"\n{table(results)}")
    by_name = {(c.name, c.nodes): c for c in results}
    assert ("reach LAN host 10.10.10.20", "laptop") in by_name  # the row that failed with "saw source 10.10.10.1"
    assert ("full tunnel egress from the gateway", "phone") in by_name
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
