"""Every job of the CI workflows gets the GITHUB_TOKEN permissions its steps need, computed as GitHub computes them.

actionlint checks each workflow file alone, so a called workflow that lowers its caller's grant to nothing
(`permissions: {}`) passed it while its job could neither check out a private repository nor ask for an OIDC
token nor comment. The rules, from GitHub's documentation:

- "Controlling permissions for GITHUB_TOKEN" / "GITHUB_TOKEN reference" (docs.github.com/en/actions/reference/
  workflows-and-actions/workflow-syntax#permissions, .../github_token-reference): a token starts from the
  repository's default, then the workflow-level `permissions` replaces it, then the job-level one replaces that;
  naming any scope sets every scope not named to none, so `permissions: {}` is none at all; `read-all` and
  `write-all` set every scope. The default is a repository setting, permissive (read/write) or restricted
  (contents: read, packages: read, the rest none); id-token is none in both. RESTRICTED below assumes the
  restricted one, GitHub's default for new repositories since February 2023, and the test asserts that no job
  falls back on it, so the setting does not matter to these workflows.
- "Reusing workflows" / "Reuse workflow configurations", its notes on `jobs.<job_id>.permissions`
  (docs.github.com/en/actions/reference/workflows-and-actions/reusing-workflow-configurations): a called
  workflow starts from the calling job's token, and "the GITHUB_TOKEN permissions passed from the caller
  workflow can be only downgraded (not elevated) by the called workflow". The same page says a calling job
  without `jobs.<job_id>.permissions` passes "the default permissions"; whether the caller's workflow-level
  block counts there is not spelt out, so every calling job here names its grant and a test holds it to that.

What a step needs: actions/checkout reads the repository (contents: read); aws-actions/configure-aws-credentials
with `role-to-assume` asks GitHub for an OIDC token (id-token: write); pulumi/actions with `comment-on-pr` writes a
pull request comment (pull-requests: write). And no job holds a write its steps do not need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.stacks import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
LEVEL = {"none": 0, "read": 1, "write": 2}
SCOPES = (
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "security-events",
    "statuses",
)
RESTRICTED = {scope: {"contents": "read", "packages": "read"}.get(scope, "none") for scope in SCOPES}
TRIGGERS_OF_THEIR_OWN = {"push", "pull_request", "workflow_dispatch", "schedule", "pull_request_target"}


def declared(block: object) -> dict[str, str] | None:
    """A `permissions:` value as the full set of scopes it grants; None when the key is absent."""
    if block is None:
        return None
    if block in ("read-all", "write-all"):
        return dict.fromkeys(SCOPES, block.removesuffix("-all"))
    assert isinstance(block, dict), f"permissions: {block!r} is neither a mapping nor read-all/write-all"
    unknown = set(block) - set(SCOPES)
    assert not unknown, f"unknown permission scopes {sorted(unknown)}"
    return {scope: block.get(scope, "none") for scope in SCOPES}


def lowered(grant: dict[str, str], ceiling: dict[str, str]) -> dict[str, str]:
    return {scope: min(grant[scope], ceiling[scope], key=LEVEL.__getitem__) for scope in SCOPES}


@dataclass
class Job:
    path: str  # the call chain, e.g. pull-request.yml:preview > pulumi-stack.yml:pulumi
    steps: list[dict]
    inputs: dict[str, object]  # the `with:` its caller gave the workflow it is in
    token: dict[str, str]
    from_default: bool  # no `permissions` anywhere on its way: the repository's default applied


def load(name: str, folder: Path = WORKFLOWS) -> dict:
    return yaml.safe_load((folder / name).read_text())


def jobs_of(name: str, folder: Path = WORKFLOWS, ceiling: dict[str, str] | None = None, inputs=None, path="") -> list[Job]:
    """Every job that runs steps when NAME runs (called with CEILING, the calling job's token, and INPUTS)."""
    flow = load(name, folder)
    found = []
    for job_id, job in flow["jobs"].items():
        own = declared(job.get("permissions")) or declared(flow.get("permissions"))
        if ceiling is None:
            token = own or RESTRICTED
        else:  # a called workflow: the caller's token, lowered by what it declares
            token = lowered(own, ceiling) if own else ceiling
        here = f"{path}{name}:{job_id}"
        from_default = own is None and ceiling is None
        if "uses" in job:
            called = re.fullmatch(r"\./\.github/workflows/(.+\.ya?ml)", job["uses"])
            assert called, f"{here}: only this repository's workflows are followed, not {job['uses']}"
            found += jobs_of(called.group(1), folder, token, job.get("with", {}), f"{here} > ")
        else:
            found.append(Job(here, job["steps"], inputs or {}, token, from_default))
    return found


def evaluated(value: object, inputs: dict[str, object]) -> bool:
    """A step input as the runner sees it: true/false, or `${{ inputs.NAME == 'VALUE' }}` with the caller's inputs."""
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in ("true", "false"):
        return text == "true"
    compared = re.fullmatch(r"\$\{\{\s*inputs\.([\w-]+)\s*==\s*'([^']*)'\s*\}\}", text)
    assert compared, f"{value!r}: an expression this test cannot evaluate; teach evaluated() its form"
    return str(inputs.get(compared.group(1), "")) == compared.group(2)


def needs(job: Job) -> dict[str, str]:
    """The permissions JOB's steps need, each with the step that needs it."""
    wanted: dict[str, str] = {}
    for step in job.steps:
        action = step.get("uses", "").split("@")[0]
        given = step.get("with", {})
        if action == "actions/checkout":
            wanted["contents"] = "read"
        if action == "aws-actions/configure-aws-credentials" and "role-to-assume" in given:
            wanted["id-token"] = "write"
        if action == "pulumi/actions" and evaluated(given.get("comment-on-pr", False), job.inputs):
            wanted["pull-requests"] = "write"
    return wanted


def every_job() -> list[Job]:
    top = [f.name for f in sorted(WORKFLOWS.glob("*.yml")) if TRIGGERS_OF_THEIR_OWN & set(load(f.name)[True])]
    assert {"pull-request.yml", "main.yml", "test-suite.yml"} <= set(top)  # `on:` reads as True
    return [job for name in top for job in jobs_of(name)]


JOBS = {job.path: job for job in every_job()}


def test_the_calls_are_followed():
    assert {
        "pull-request.yml:preview > pulumi-stack.yml:pulumi",
        "main.yml:deploy > pulumi-stack.yml:pulumi",
        "pull-request.yml:test > test-suite.yml:test",
        "main.yml:stacks",
    } <= set(JOBS)


@pytest.mark.parametrize("path", sorted(JOBS))
def test_every_job_gets_what_its_steps_need(path):
    job = JOBS[path]
    missing = {s: level for s, level in needs(job).items() if LEVEL[job.token[s]] < LEVEL[level]}
    assert not missing, f"{path} needs {missing} but gets { ({s: job.token[s] for s in missing}) }"


@pytest.mark.parametrize("path", sorted(JOBS))
def test_no_job_holds_a_write_it_does_not_need(path):
    job = JOBS[path]
    wanted = needs(job)
    extra = sorted(s for s, level in job.token.items() if level == "write" and wanted.get(s) != "write")
    assert not extra, f"{path} may write {extra}, which none of its steps needs"


@pytest.mark.parametrize("path", sorted(JOBS))
def test_no_job_depends_on_the_repositorys_default(path):
    assert not JOBS[path].from_default, f"{path}: no `permissions` on its way, so the repository's setting decides"


def test_every_calling_job_names_its_grant():
    for name in ("pull-request.yml", "main.yml"):
        for job_id, job in load(name)["jobs"].items():
            assert "uses" not in job or "permissions" in job, f"{name}:{job_id} calls a workflow without `permissions`"


def test_the_preview_may_comment_and_the_up_may_not():
    preview = JOBS["pull-request.yml:preview > pulumi-stack.yml:pulumi"].token
    up = JOBS["main.yml:deploy > pulumi-stack.yml:pulumi"].token
    assert preview["pull-requests"] == "write" and up["pull-requests"] == "none"
    assert preview["id-token"] == up["id-token"] == "write" and preview["contents"] == up["contents"] == "read"


@pytest.mark.parametrize(
    ("caller", "called", "expected"),
    [
        # the called workflow's own grant never raises what the caller gave
        ({"contents": "read"}, {"contents": "write", "id-token": "write"}, {"contents": "read"}),
        # `permissions: {}` in a called workflow lowers everything to none: the bug this test was written for
        ({"contents": "read", "id-token": "write"}, {}, {}),
        # a called workflow that declares nothing keeps the caller's
        ({"contents": "read", "id-token": "write"}, None, {"contents": "read", "id-token": "write"}),
    ],
)
def test_the_rules_themselves(tmp_path, caller, called, expected):
    (tmp_path / "caller.yml").write_text(
        yaml.safe_dump({"on": "push", "jobs": {"call": {"uses": "./.github/workflows/called.yml", "permissions": caller}}})
    )
    called_flow = {"on": "workflow_call", "jobs": {"job": {"runs-on": "x", "steps": []}}}
    if called is not None:
        called_flow["permissions"] = called
    (tmp_path / "called.yml").write_text(yaml.safe_dump(called_flow))
    (job,) = jobs_of("caller.yml", tmp_path)
    assert {s: v for s, v in job.token.items() if v != "none"} == expected


def test_read_all_and_an_absent_block():
    assert declared("read-all")["id-token"] == "read" and declared(None) is None
    assert declared({"id-token": "write"}) == {**dict.fromkeys(SCOPES, "none"), "id-token": "write"}
    assert RESTRICTED["contents"] == "read" and RESTRICTED["id-token"] == "none"


def test_an_expression_the_test_cannot_read_fails_loudly():
    with pytest.raises(AssertionError, match="cannot evaluate"):
        evaluated("${{ github.event_name == 'pull_request' }}", {})
    assert evaluated("${{ inputs.command == 'preview' }}", {"command": "preview"}) is True
    assert evaluated("${{ inputs.command == 'preview' }}", {"command": "up"}) is False
