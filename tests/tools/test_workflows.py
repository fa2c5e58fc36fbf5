"""The CI workflows (.github/workflows) pass actionlint, with its shellcheck integration on every `run:` block.

actionlint also knows the inputs of pulumi/actions, aws-actions/configure-aws-credentials and
actions/* at the versions used, so a misspelt input (`comment-on-pr`, `role-to-assume`) fails here.
The rest holds the workflows to what README "Pull requests and CI" promises: AWS by OIDC only, the
preview's diff posted on the pull request, no refresh from a pull request, `up` only on main, and
the SSH agent step run for real: a passphrase-protected key loaded, its copy removed, nothing printed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def tool(name: str) -> str:
    found = shutil.which(name) or ROOT / ".venv" / "bin" / name
    assert Path(found).exists(), f"{name} is missing: run scripts/setup test"
    return str(found)


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    argv = [tool("actionlint"), "-no-color", "-oneline", "-shellcheck", tool("shellcheck"), "-pyflakes", ""]
    return subprocess.run([*argv, *map(str, paths)], capture_output=True, text=True, cwd=ROOT)


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_every_workflow_passes_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {"pull-request.yml", "main.yml", "pulumi-stack.yml", "test-suite.yml"} <= {f.name for f in files}
    done = actionlint(*files)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_actionlint_runs_shellcheck_on_run_blocks(tmp_path):
    # the integration is on (shellcheck found) only if a run: block's own mistake is reported
    planted = tmp_path / ".github" / "workflows" / "planted.yml"
    planted.parent.mkdir(parents=True)
    text = (
        (WORKFLOWS / "main.yml")
        .read_text()
        .replace("run: .venv/bin/python scripts/ci-stacks --all --deploy", "run: .venv/bin/python scripts/ci-stacks $FLAGS")
    )
    assert "$FLAGS" in text
    planted.write_text(text)
    done = actionlint(planted)
    assert done.returncode == 1 and "shellcheck reported issue" in done.stdout and "SC2086" in done.stdout, done.stdout


def test_actionlint_checks_the_actions_inputs(tmp_path):
    planted = tmp_path / ".github" / "workflows" / "planted.yml"
    planted.parent.mkdir(parents=True)
    planted.write_text((WORKFLOWS / "pulumi-stack.yml").read_text().replace("comment-on-pr:", "comment-on-pull-request:"))
    done = actionlint(planted)
    assert done.returncode == 1 and 'input "comment-on-pull-request" is not defined' in done.stdout, done.stdout


def steps_using(flow: dict, action: str) -> list[dict]:
    return [s for job in flow["jobs"].values() for s in job.get("steps", []) if s.get("uses", "").startswith(action + "@")]


def test_the_stack_job_previews_with_its_diff_on_the_pull_request_and_aws_by_oidc():
    flow = workflow("pulumi-stack.yml")
    (pulumi,) = steps_using(flow, "pulumi/actions")
    inputs = pulumi["with"]
    assert inputs["diff"] is True and inputs["refresh"] is False and inputs["edit-pr-comment"] is True
    assert inputs["comment-on-pr"] == "${{ inputs.command == 'preview' }}"
    (aws,) = steps_using(flow, "aws-actions/configure-aws-credentials")
    assert set(aws["with"]) == {"role-to-assume", "aws-region", "role-session-name"}  # no access key inputs
    text = (WORKFLOWS / "pulumi-stack.yml").read_text()
    for secret in ("WGSITES_SSH_PRIVATE_KEY", "WGSITES_SSH_PRIVATE_KEY_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE"):
        assert f"secrets.{secret} }}}}" in text
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_pull_requests_preview_and_only_main_deploys():
    pr, main = workflow("pull-request.yml"), workflow("main.yml")
    assert set(pr[True]) == {"pull_request"} and main[True] == {"push": {"branches": ["main"]}}  # `on:` reads as True
    assert pr["jobs"]["preview"]["with"]["command"] == "preview"
    assert pr["jobs"]["preview"]["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert main["jobs"]["deploy"]["with"]["command"] == "up"
    assert main["jobs"]["deploy"]["needs"] == ["test", "stacks"]
    assert main["jobs"]["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert "--deploy" in main["jobs"]["stacks"]["steps"][-1]["run"]
    for flow in (pr, main):
        assert flow["permissions"] == {"contents": "read"}
        assert flow["jobs"]["test"]["uses"] == "./.github/workflows/test-suite.yml"
    (suite,) = workflow("test-suite.yml")["jobs"]["test"]["steps"][-1:]
    assert "sudo" in suite["run"] and "scripts/test" in suite["run"]  # README command two


def agent_step() -> dict:
    (step,) = [
        s for s in workflow("pulumi-stack.yml")["jobs"]["pulumi"]["steps"] if s.get("name") == "SSH agent holding the hosts' key"
    ]
    return step


def run_step(step: dict, tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The step's run: block under bash as Actions runs it (bash -e), with GITHUB_ENV; the variables it exports."""
    github_env = tmp_path / "github_env"
    github_env.touch()
    (tmp_path / "tmp").mkdir()
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_ENV": str(github_env), "TMPDIR": str(tmp_path / "tmp")}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    return done, exported


def test_the_agent_step_loads_a_passphrase_protected_key(tmp_path):
    passphrase = "correct horse battery staple"
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "wgsites-ci", "-f", str(key)], check=True)
    done, exported = run_step(agent_step(), tmp_path, {"SSH_KEY": key.read_text(), "SSH_KEY_PASSPHRASE": passphrase})
    assert done.returncode == 0, done.stderr
    assert set(exported) == {"SSH_AUTH_SOCK", "SSH_AGENT_PID"}
    try:
        listed = subprocess.run(
            ["ssh-add", "-L"], env={"SSH_AUTH_SOCK": exported["SSH_AUTH_SOCK"]}, capture_output=True, text=True
        )
        assert listed.stdout.split()[:2] == (tmp_path / "id_ed25519.pub").read_text().split()[:2]
        assert passphrase not in done.stdout + done.stderr and "PRIVATE KEY" not in done.stdout + done.stderr
    finally:
        subprocess.run(["ssh-agent", "-k"], env={"SSH_AGENT_PID": exported["SSH_AGENT_PID"]}, capture_output=True)


def test_the_agent_step_without_a_key_warns_and_goes_on(tmp_path):
    done, exported = run_step(agent_step(), tmp_path, {"SSH_KEY": "", "SSH_KEY_PASSPHRASE": ""})
    assert done.returncode == 0 and exported == {}
    assert done.stdout.startswith("::warning::no WGSITES_SSH_PRIVATE_KEY secret")
