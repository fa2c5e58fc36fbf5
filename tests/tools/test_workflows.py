"""The CI workflows (.github/workflows) pass actionlint, with its shellcheck integration on every `run:` block.

actionlint also knows the inputs of pulumi/actions, aws-actions/configure-aws-credentials and
actions/* at the versions used, so a misspelt input (`comment-on-pr`, `role-to-assume`) fails here.
The rest holds the workflows to what README "Pull requests and CI" promises: AWS by OIDC only, the
preview's diff posted on the pull request, no refresh from a pull request, `up` only on main, the
stack's secrets only in an environment (a preview's approved by a maintainer, an up's for main only),
a preview's AWS role never the deploy role (that step run for real), the runner a repository variable,
the engine and the QR codes cached, and the SSH agent step run for real: a passphrase-protected key
loaded, its copy removed, nothing printed. tests/unit/test_workflow_permissions.py computes each job's
token.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
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
        assert flow["jobs"]["test"]["permissions"] == {"contents": "read"}
    (suite,) = workflow("test-suite.yml")["jobs"]["test"]["steps"][-1:]
    assert "sudo" in suite["run"] and "scripts/test" in suite["run"]  # README command two


def stack_step(name: str) -> dict:
    (step,) = [s for s in workflow("pulumi-stack.yml")["jobs"]["pulumi"]["steps"] if s.get("name") == name]
    return step


def agent_step() -> dict:
    return stack_step("SSH agent holding the hosts' key")


def run_step(step: dict, tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The step's run: block under bash as Actions runs it (bash -e), with GITHUB_ENV and GITHUB_OUTPUT; the
    variables it exports and the outputs it sets, in one mapping."""
    github_env, github_output = tmp_path / "github_env", tmp_path / "github_output"
    github_env.touch()
    github_output.touch()
    (tmp_path / "tmp").mkdir()
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_ENV": str(github_env),
        "GITHUB_OUTPUT": str(github_output),
        "TMPDIR": str(tmp_path / "tmp"),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = github_env.read_text().splitlines() + github_output.read_text().splitlines()
    return done, dict(line.split("=", 1) for line in lines)


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


PREVIEW_ROLE, DEPLOY_ROLE = "arn:aws:iam::123456789012:role/wgsites-preview", "arn:aws:iam::123456789012:role/wgsites-deploy"


@pytest.mark.parametrize(
    ("command", "preview_role", "deploy_role", "expected"),
    [
        ("preview", PREVIEW_ROLE, DEPLOY_ROLE, PREVIEW_ROLE),
        ("up", PREVIEW_ROLE, DEPLOY_ROLE, DEPLOY_ROLE),
        ("up", "", DEPLOY_ROLE, DEPLOY_ROLE),
        ("preview", "", DEPLOY_ROLE, None),  # never the deploy role
        ("up", PREVIEW_ROLE, "", None),
    ],
)
def test_a_preview_never_assumes_the_deploy_role(tmp_path, command, preview_role, deploy_role, expected):
    step = stack_step("The AWS role of this command")
    env = {"COMMAND": command, "AWS_PREVIEW_ROLE_ARN": preview_role, "AWS_ROLE_ARN": deploy_role}
    done, outputs = run_step(step, tmp_path, env)
    if expected is None:
        variable = "AWS_PREVIEW_ROLE_ARN" if command == "preview" else "AWS_ROLE_ARN"
        assert done.returncode == 1 and outputs == {}, done.stdout + done.stderr
        assert done.stdout.startswith(f"::error::the repository variable {variable} is empty: a {command} of an aws stack")
    else:
        assert done.returncode == 0 and outputs == {"arn": expected}, done.stdout + done.stderr
    (aws,) = steps_using(workflow("pulumi-stack.yml"), "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ steps.role.outputs.arn }}" and aws["if"] == step["if"]
    assert "vars.AWS" not in yaml.safe_dump(aws)  # the role comes from that step alone


def test_the_stacks_secrets_live_in_environments_a_preview_one_needs_approval():
    job = workflow("pulumi-stack.yml")["jobs"]["pulumi"]
    assert job["environment"] == "${{ inputs.command == 'up' && 'wgsites-deploy' || 'wgsites-preview' }}"
    pr, main = workflow("pull-request.yml"), workflow("main.yml")
    assert pr["jobs"]["preview"]["secrets"] == main["jobs"]["deploy"]["secrets"] == "inherit"
    # only the called job reads a secret (its environment's); the callers name none, so no repository secret is needed
    for name in ("pull-request.yml", "main.yml", "test-suite.yml"):
        assert "${{ secrets." not in (WORKFLOWS / name).read_text(), name
    # a fork's pull request never reaches a preview: it would hold no secrets, and must not wait for approval
    assert pr["jobs"]["stacks"]["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def test_the_runner_is_a_repository_variable_for_the_stack_job_only():
    assert workflow("pulumi-stack.yml")["jobs"]["pulumi"]["runs-on"] == "${{ vars.WGSITES_RUNNER || 'ubuntu-latest' }}"
    # everything that runs a fork's code (the test suite) or needs no host stays on GitHub's runners
    for name, job in (("test-suite.yml", "test"), ("pull-request.yml", "stacks"), ("main.yml", "stacks")):
        assert workflow(name)["jobs"][job]["runs-on"] == "ubuntu-latest", name


def test_the_engine_and_the_qr_codes_are_cached():
    (suite,) = workflow("test-suite.yml")["jobs"].values()
    (engine,) = steps_using({"jobs": {"test": suite}}, "actions/cache")
    assert engine["with"]["path"].split() == ["~/.cache/wgsites/pulumi/bin", "~/.cache/wgsites/pulumi/stamp-*"]
    assert "hashFiles('scripts/pulumi-engine', 'engine/**')" in engine["with"]["key"]
    assert 'WGSITES_TOOLS_DIR="$HOME/.cache/wgsites"' in suite["steps"][-1]["run"]  # root builds where the cache is
    # a stack job makes no QR code (they are made on demand, `wgsites qr`): nothing of them to cache
    assert steps_using(workflow("pulumi-stack.yml"), "actions/cache") == []


@pytest.mark.parametrize(
    ("command", "token", "passphrase", "ok"),
    [("preview", "", "", False), ("up", "", "", False), ("preview", "", "passphrase-value", True), ("up", "pul-token", "", True)],
)
def test_a_run_without_the_environments_secrets_stops_naming_the_environment(tmp_path, command, token, passphrase, ok):
    step = stack_step("The stack's secrets, from the environment")
    environment = "wgsites-deploy" if command == "up" else "wgsites-preview"
    assert step["env"]["ENVIRONMENT"] == workflow("pulumi-stack.yml")["jobs"]["pulumi"]["environment"]
    env = {"ENVIRONMENT": environment, "PULUMI_ACCESS_TOKEN": token, "PULUMI_CONFIG_PASSPHRASE": passphrase}
    done, _ = run_step(step, tmp_path, env)
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    if not ok:
        assert done.stdout.startswith(f"::error::the environment {environment} holds neither PULUMI_ACCESS_TOKEN nor")
    assert "passphrase-value" not in done.stdout and "pul-token" not in done.stdout


def test_previews_can_be_turned_off():
    assert workflow("pull-request.yml")["jobs"]["preview"]["if"] == (
        "needs.stacks.outputs.any == 'true' && vars.WGSITES_PREVIEW != 'off'"
    )
