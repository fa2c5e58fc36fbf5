"""`pulumi preview --policy-pack policy` with the real engine: the pack runs, passes the program, stops a leak.

No lab and no root: a preview runs no command, so the SSH hosts need not exist.
Each test gets its own PULUMI_HOME and file backend under tmp_path, a copy of the
project (stack files are written by `pulumi stack init` and `config set`), the
project's virtualenv linked in, and a fresh key seed on stdin.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lab.pulumi_lab import PROJECT_FILES, engine_bin

ROOT = Path(__file__).resolve().parents[2]
LEAKY = Path(__file__).resolve().parent / "fixtures" / "leaky"
PASSPHRASE = "wgsites-policy-test"  # encrypts a throwaway stack's secrets; never a real secret
PACK_LINE = "wgsites-policy@v0.1.0"
VIOLATION = [
    "[mandatory]  wgsites-no-private-key-in-command  (command:remote:Command: leaky-install)",
    "`stdin` carries a `PrivateKey =` line: pushed configs must not hold a key",
]


@dataclass
class OfflinePulumi:
    """The CLI as PulumiLab runs it, offline, on a project folder of its own."""

    home: Path

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{engine_bin()}:{ROOT / '.venv/bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.environ.get("HOME", str(self.home)),
            "PULUMI_HOME": str(self.home / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{self.home / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }

    def __call__(self, project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        argv = ["pulumi", *args, "--non-interactive"]
        return subprocess.run(
            argv, cwd=project, env=self.env(), input=stdin, capture_output=True, text=True, timeout=300, check=False
        )

    def new_stack(self, project: Path, stack: str, seed: str | None = None) -> None:
        (self.home / "state").mkdir(exist_ok=True)
        done = self(project, "stack", "init", stack)
        assert done.returncode == 0, done.stderr
        if seed is not None:  # what a user does once per stack; on stdin, never on a command line
            done = self(project, "config", "set", "--secret", "wgsites:keySeed", "--stack", stack, stdin=seed)
            assert done.returncode == 0, done.stderr


@pytest.fixture
def cli(tmp_path) -> OfflinePulumi:
    return OfflinePulumi(tmp_path)


def project_copy(dest: Path, stack: str) -> Path:
    """The project's files, the pack and one stack file, with the project's .venv linked in."""
    dest.mkdir()
    for name in (*PROJECT_FILES, "policy", f"examples/Pulumi.{stack}.yaml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / Path(name).name)  # an example goes beside Pulumi.yaml, as a user copies it
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def output(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


def new_router_project(cli: OfflinePulumi, tmp_path: Path, file_peer: str | None = None) -> tuple[Path, str]:
    project = project_copy(tmp_path / "project", "router")
    if file_peer:
        stack_file = project / "Pulumi.router.yaml"
        document = yaml.safe_load(stack_file.read_text())
        document["config"]["wgsites:vpn"]["peers"][0]["file"] = file_peer
        stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    seed = base64.b64encode(secrets.token_bytes(32)).decode()
    cli.new_stack(project, "router", seed)
    return project, seed


def test_router_preview_passes_the_pack(cli, tmp_path):
    project, seed = new_router_project(cli, tmp_path)
    done = cli(project, "preview", "--policy-pack", "policy", "--stack", "router")
    text = output(done)
    assert done.returncode == 0, text[-3000:]
    assert f"✅ {PACK_LINE} (local: policy)" in text  # the pack ran on every resource and found nothing
    assert "[mandatory]" not in text and "[advisory]" not in text
    assert "command:remote:Command vpn-router-install create" in text
    assert seed not in text


def test_file_peer_stdin_is_unknown_in_a_first_preview(cli, tmp_path):
    """The laptop's config holds the router's public key, unknown before the router makes it.

    pulumi-policy then reports "can't run policy ... during preview" as advisory (the
    preview still passes); at `up` the value is known and the rule runs on it. That the
    file command's key is allowed is shown on real inputs in tests/policy.
    """
    project, _ = new_router_project(cli, tmp_path, file_peer=str(tmp_path / "never-written" / "home0.conf"))
    done = cli(project, "preview", "--policy-pack", "policy", "--stack", "router")
    text = output(done)
    assert done.returncode == 0, text[-3000:]
    assert "command:local:Command vpn-laptop-file create" in text
    assert "[advisory]  wgsites-no-private-key-in-command  (command:local:Command: vpn-laptop-file)" in text
    assert "string value at .stdin can't be known during preview" in text
    assert "[mandatory]" not in text
    assert not (tmp_path / "never-written").exists()


def test_leaky_program_fails_with_the_mandatory_violation(cli, tmp_path):
    project = tmp_path / "leaky"
    shutil.copytree(LEAKY, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".venv").symlink_to(ROOT / ".venv")
    cli.new_stack(project, "leaky")

    # control: the same program previews fine without the pack, so the failure below is the pack's
    plain = cli(project, "preview", "--stack", "leaky")
    assert plain.returncode == 0, output(plain)[-3000:]

    done = cli(project, "preview", "--policy-pack", str(ROOT / "policy"), "--stack", "leaky")
    text = output(done)
    assert done.returncode != 0, text[-3000:]
    assert f"❌ {PACK_LINE}" in text
    for line in VIOLATION:
        assert line in text, text[-3000:]
    assert "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" not in text  # the message names the field, not the key
