"""An upgrade of wgsites itself: a stack deployed by the previous release, then `pulumi up` with this tree.

The previous release is the last commit that landed before this work (`PREVIOUS`, from the
repository's own history). Its program deploys the router and sites stacks in the lab; then the
project's files are replaced by this tree's, as a user's `git pull` does. The preview must
replace nothing (resources moved between components keep their URNs through aliases) and
the up must keep every tunnel (no ping lost) and pass the stack's checks.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from lab.checks import table
from lab.names_checks import NAME_CHECKS
from lab.netns import Lab
from lab.pulumi_lab import PROJECT_FILES, ROOT, PulumiLab
from tests.stacks import stack_file

PREVIOUS = "cc0e331"  # the last commit of the previous landing (stop 12)


def previous_release(into: Path) -> Path:
    """The program files of PREVIOUS, from git (CI's clone has the history)."""
    archive = into / "previous.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), PREVIOUS, *PROJECT_FILES], check=True)
    tree = into / "previous"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def all_passed(results) -> None:
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)


@pytest.mark.parametrize("stack", ["router", "sites"])
def test_an_upgrade_of_wgsites_replaces_nothing_and_drops_nothing(stack, tmp_path):
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file(stack), source=previous_release(tmp_path))
        pl.up()
        all_passed([c for c in pl.check() if c.name not in NAME_CHECKS])  # the previous release serves no names

        pl.copy_program(ROOT)  # the user pulls the new wgsites
        preview = pl.pulumi("preview", "--stack", pl.stack)
        steps = re.findall(
            r"^ (\S+)\s+(\S+) (\S+) (create|update|replace|delete|create-replacement|delete-replaced)", preview.output, re.M
        )
        assert steps, preview.output[-3000:]
        for _, typ, name, op in steps:
            # an update re-runs a command in place; only new components (no provider call) may appear, and
            # the repair command of the drift check (new in this release; it has no delete: it undoes nothing)
            new = op == "create" and (typ.startswith("wgsites:") or name.endswith("-repair"))
            assert op == "update" or new, (typ, name, op)

        vpn = pl.world.vpn
        pinger = vpn.spokes[0]
        log = lab.run_dir / "upgrade-ping.log"
        pid = pl.world.nodes[pinger.name].spawn(
            ["ping", "-n", "-i", "0.05", "-c", "200", "-W", "1", str(vpn.hub.address)], log=log
        )
        pl.up()
        while lab.is_running(pid):
            pass
        sent, got = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", log.read_text()).groups())
        runs = {
            n.name: pl.world.nodes[n.name].run(f"cat /run/wgsites/{n.interface}.log", check=False).stdout
            for n in vpn.nodes
            if n.ssh
        }
        lost = f"{sent - got} of {sent} pings lost through {pinger.name} during the upgrade; the installs said:\n{runs}"
        assert sent > 100 and got == sent, lost
        all_passed(pl.check())
        assert "unchanged" in pl.up("--expect-no-changes").output
        pl.destroy()
