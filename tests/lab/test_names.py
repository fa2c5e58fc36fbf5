"""Names, not numbers, on real tunnels: the home stack (an aws hub played by its bundle, a site with a LAN, a
split-tunnel laptop) with its full-tunnel phone left without `dns`, so it points at the hub's resolver."""

from __future__ import annotations

import time

import yaml

from lab.checks import table
from lab.netns import Lab
from lab.run import run_stack
from tests.stacks import stack_file

MUST_SHOW = {
    ("names resolve from the spoke", "home"),
    ("names resolve from the spoke", "laptop"),
    ("names resolve from the spoke", "phone"),
    ("names resolve from a LAN host through its gateway", "home:10.10.10.20"),
    ("DNS through the tunnel to the hub, none on the café", "phone"),
    ("the resolver is silent on the hub's public side", "gateway"),
    ("a name added under a lookup loop: reloaded in place, no query lost", "home"),
}


def test_the_aws_hubs_resolver_names_every_node_for_every_spoke(tmp_path):
    document = yaml.safe_load(stack_file("home").read_text())
    phone = next(p for p in document["config"]["wgsites:vpn"]["peers"] if p["name"] == "phone")
    del phone["dns"]  # a full-tunnel peer without dns: DNS = the hub
    path = tmp_path / "Pulumi.home.yaml"
    path.write_text(yaml.safe_dump(document))
    start = time.monotonic()
    with Lab() as lab:
        results = run_stack(lab, path, faults=False)
    print(f"\nhome stack (phone without dns), lab took {time.monotonic() - start:.0f} s\n{table(results)}")
    shown = {(c.name, c.nodes) for c in results}
    assert MUST_SHOW <= shown, f"checks missing: {MUST_SHOW - shown}"
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)
