"""The aws gateway's bundle serial with the real engine and our command provider: it grows only when the bundle does.

components/aws_gateway.py signs each bundle's manifest with a serial from a `command:local:Command`
(SERIAL_CREATE, SERIAL_UPDATE) whose environment holds the bundle's hash. The AWS provider cannot
run here, so a one-resource program runs those exact commands: a no-op `up --expect-no-changes`
and a preview of the same bundle show no change (the manifest would otherwise change at every
`up`); a new bundle gets a higher serial, also when the operator's clock is behind the last one
(the engine hands the last stdout over as PULUMI_COMMAND_STDOUT on update).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from components.aws_gateway import SERIAL_CREATE, SERIAL_UPDATE
from tests.engine.test_policy_pack import OfflinePulumi, cli  # noqa: F401 - the fixture

PROGRAM = f"""\
import pulumi
from pulumi_command import local

serial = local.Command(
    "gateway-bundle-serial",
    create={SERIAL_CREATE!r},
    update={SERIAL_UPDATE!r},
    environment={{"WGSITES_BUNDLE_SHA256": pulumi.Config().require("bundle")}},
    logging="none",
)
pulumi.export("serial", serial.stdout)
"""
PROJECT = """\
name: serial
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: .venv
"""
ROOT = Path(__file__).resolve().parents[2]


def test_the_serial_grows_with_the_bundle_and_only_then(cli: OfflinePulumi, tmp_path):  # noqa: F811
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(PROJECT)
    (project / "__main__.py").write_text(PROGRAM)
    (project / ".venv").symlink_to(ROOT / ".venv")
    cli.new_stack(project, "dev")

    def up(bundle: str, *extra: str) -> int:
        assert cli(project, "config", "set", "bundle", bundle, "--stack", "dev").returncode == 0
        done = cli(project, "up", "--yes", "--stack", "dev", *extra)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        return int(cli(project, "stack", "output", "serial", "--stack", "dev").stdout.strip())

    first = up("a" * 64)
    assert abs(first - int(time.time())) < 60  # the time, on create
    assert up("a" * 64, "--expect-no-changes") == first  # the same bundle: no change, no new serial
    preview = cli(project, "preview", "--expect-no-changes", "--stack", "dev")
    assert preview.returncode == 0, preview.stdout[-2000:]
    second = up("b" * 64)
    assert second > first
    # an operator whose clock is a day behind: one more than the last serial, never less
    slow = tmp_path / "slow-clock"
    slow.mkdir()
    (slow / "date").write_text(f"#!/bin/sh\necho {second - 86400}\n")
    os.chmod(slow / "date", 0o755)
    behind = OfflinePulumi(cli.home)
    behind.env = lambda: {**OfflinePulumi.env(cli), "PATH": f"{slow}:{OfflinePulumi.env(cli)['PATH']}"}
    assert behind(project, "config", "set", "bundle", "c" * 64, "--stack", "dev").returncode == 0
    done = behind(project, "up", "--yes", "--stack", "dev")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    third = int(behind(project, "stack", "output", "serial", "--stack", "dev").stdout.strip())
    assert third == second + 1
