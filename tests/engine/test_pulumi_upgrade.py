"""An upgrade of wgsites itself: a stack deployed by the previous release, then `pulumi up` with this tree.

The previous release is the last commit that landed before this work (`PREVIOUS`, from the
repository's own history). Its program deploys the router and sites stacks in the lab; then the
project's files are replaced by this tree's, as a user's `git pull` does. The preview must
replace nothing (resources moved between components keep their URNs through aliases) and
the up must keep every tunnel (no ping lost) and pass the stack's checks.
"""

from __future__ import annotations

import copy
import re
import stat
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
# a step of `pulumi preview`: its sign, type, name and operation
STEP = re.compile(r"^ (\S+)\s+(\S+) (\S+) (create|update|replace|delete|create-replacement|delete-replaced)", re.M)


def previous_release(into: Path) -> Path:
    """The program files of PREVIOUS, from git (CI's clone has the history)."""
    archive = into / "previous.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), PREVIOUS, *PROJECT_FILES], check=True)
    tree = into / "previous"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def device_component_gone(typ: str, op: str) -> bool:
    """A device's own component, which devices no longer have (issue 32): its delete calls no provider and
    touches no host (its `file:` command moves to the VPN component, by alias; see below)."""
    return (typ, op) == ("wgsites:roaming_peer:RoamingPeer", "delete")


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
        steps = STEP.findall(preview.output)
        assert steps, preview.output[-3000:]
        for _, typ, name, op in steps:
            # an update re-runs a command in place; only new components (no provider call) may appear, and
            # the repair command of the drift check (new in this release; it has no delete: it undoes nothing)
            new = op == "create" and (typ.startswith("wgsites:") or name.endswith("-repair"))
            assert op == "update" or new or device_component_gone(typ, op), (typ, name, op)

        vpn = pl.world.vpn
        pinger = vpn.spokes[0]
        log = lab.run_dir / "upgrade-ping.log"
        pid = pl.world.nodes[pinger.name].spawn(
            ["ping", "-n", "-i", "0.05", "-c", "200", "-W", "1", "-w", "40", str(vpn.hub.address)], log=log
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


def test_an_upgrade_keeps_a_device_file_where_it_is(tmp_path):
    """The router stack's laptop with `file:`, deployed by the previous release (where the file's command was
    the child of the laptop's component), then this tree: the command moves under the VPN component by its
    alias, so it is at most updated (a replace would write the file, then the old command's delete remove it),
    the file is the laptop's config after the up, a further up changes nothing, and destroy removes it."""
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"), source=previous_release(tmp_path))
        folder = lab.run_dir / "devices"
        folder.mkdir(mode=0o700)
        target = folder / "laptop.conf"
        raw = copy.deepcopy(pl.raw)
        raw["peers"][0]["file"] = str(target)
        pl.set_vpn(raw)
        pl.up()
        assert target.read_text() == pl.outputs()["laptop_config"]

        pl.copy_program(ROOT)
        preview = pl.pulumi("preview", "--stack", pl.stack).output
        steps = STEP.findall(preview)
        assert ("wgsites:roaming_peer:RoamingPeer", "vpn-laptop", "delete") in [s[1:] for s in steps], preview[-3000:]
        assert all(op == "update" for _, _, name, op in steps if name == "vpn-laptop-file"), preview[-3000:]
        pl.up()
        assert target.read_text() == pl.outputs()["laptop_config"]
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert "unchanged" in pl.up("--expect-no-changes").output
        pl.destroy()
        assert not target.exists()
