"""A policy change in the real engine's `pulumi preview --diff` (what the pull-request comment posts): the matrix
lines it adds and removes, readable by someone who does not read nftables, and the hub's ruleset beside them."""

from __future__ import annotations

import copy
import re
import shlex

from lab.netns import Lab
from lab.pulumi_lab import PulumiLab
from tests.engine.test_pr_preview_comment import pr_comment, shown
from tests.stacks import stack_file


def test_a_policy_change_shows_as_matrix_lines_in_the_preview():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("office"))
        pl.up()
        assert pl.outputs()["access"].splitlines()[0] == "alice -> branch"
        raw = copy.deepcopy(pl.raw)
        rules = raw["access"]["rules"]
        rules[0] = {"from": "alice", "to": ["office-lan", "branch"]}  # bob loses the office LAN and the branch
        rules.append({"from": "guests", "to": "nas", "ports": ["udp/137-138"]})  # carol gains NetBIOS
        pl.set_vpn(raw)
        command = shlex.join(["pulumi", "preview", "--diff", "--stack", pl.stack, "--non-interactive"])
        done = pl.operator.run(f"cd {shlex.quote(str(pl.project))} && exec {command}", env=pl.env(), timeout=300)
    text = shown(pr_comment("preview", "wgsites", pl.stack, done.stdout))
    print("\n" + text)
    changed = [line.strip() for line in text.splitlines() if re.match(r"^\s*[-+] (alice|bob|carol|branch) ", line)]
    assert "- bob -> branch" in changed and "- bob -> office-lan" in changed, changed
    assert "- carol -> nas tcp/445 until 2029-12-31 18:00 UTC" in changed, changed
    assert "+ carol -> nas tcp/445, udp/137-138 until 2029-12-31 18:00 UTC" in changed, changed
    assert not [line for line in changed if line.startswith(("- alice", "+ alice", "- branch", "+ branch"))], changed
