"""What the real engine hands a replacement for an ignored input, as the aws gateway's `ami` relies on.

Measured with pulumi-command's local Command standing in for the instance (`create` ignored as `ami` is, `triggers`
replacing as a ForceNew input does): an ignored change alone is no change; `pulumi up --replace URN` and a
replacement another input forces both create with the program's new value, not the ignored old one (the engine
checks a replacement's inputs afresh from the program: step_generator.go, "If we are going to perform a
replacement, we need to recompute the default values"). So for the gateway: every replacement (`--replace`, a new
subnet, a new user data, a type of the other architecture) launches the image the program looks up then, the
newest Ubuntu of the type's architecture, or the pinned hub.aws.ami (docs/day-two.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.engine.test_policy_pack import OfflinePulumi, output

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ignored"


def up(cli: OfflinePulumi, project: Path, *args: str) -> None:
    done = cli(project, "up", "--yes", "--skip-preview", *args)
    assert done.returncode == 0, output(done)


def printed(cli: OfflinePulumi, project: Path) -> str:
    done = cli(project, "stack", "output", "printed", "--show-secrets")
    assert done.returncode == 0, output(done)
    return done.stdout.strip()


def test_every_replacement_takes_the_program_value_of_an_ignored_input(tmp_path):
    cli = OfflinePulumi(tmp_path)
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    (project / ".venv").symlink_to(ROOT / ".venv")
    cli.new_stack(project, "dev")
    for key, value in (("value", "first-image"), ("trigger", "1")):
        assert cli(project, "config", "set", key, value).returncode == 0
    up(cli, project)
    assert printed(cli, project) == "first-image"

    # a newer value: ignored, nothing to do
    assert cli(project, "config", "set", "value", "newer-image").returncode == 0
    preview = cli(project, "preview", "--expect-no-changes")
    assert preview.returncode == 0, output(preview)

    # `pulumi up --replace`: a new resource, made with the program's new value
    urn = cli(project, "stack", "output", "urn").stdout.strip()
    up(cli, project, "--replace", urn)
    assert printed(cli, project) == "newer-image"

    # a replacement forced by another input: made with the program's new value too
    assert cli(project, "config", "set", "value", "third-image").returncode == 0
    assert cli(project, "config", "set", "trigger", "2").returncode == 0
    up(cli, project)
    assert printed(cli, project) == "third-image"
