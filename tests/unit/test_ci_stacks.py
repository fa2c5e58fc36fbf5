"""scripts/ci-stacks: which stacks a CI run previews or deploys, and `wgsites:autoDeploy` as check reads it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.stacks import ROOT, STACKS, stack_file
from wgsites.stack.check import read_stack
from wgsites.stack.errors import ConfigError

ALL = sorted(STACKS)
REGIONS = {"home": "eu-central-1", "travel": "eu-central-1"}


def ci_stacks(*args: str, root=ROOT) -> tuple[int, dict[str, str], str]:
    done = subprocess.run([sys.executable, str(root / "scripts/ci-stacks"), *args], capture_output=True, text=True)
    outputs = dict(line.split("=", 1) for line in done.stdout.splitlines())
    return done.returncode, outputs, done.stderr


def chosen(outputs: dict[str, str]) -> list[str]:
    return [i["stack"] for i in json.loads(outputs["matrix"])["include"]]


@pytest.fixture(scope="module")
def user_tree(tmp_path_factory):
    """A user's repository: the examples as the user's own stacks at its root, and the examples folder as shipped."""
    return copy_of_the_tree(tmp_path_factory.mktemp("user"), {})


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["Pulumi.router.yaml"], ["router"]),
        (["Pulumi.home.yaml", "Pulumi.sites.yaml", "README.md"], ["home", "sites"]),
        (["wgsites/rendering/templates/wg-quick.conf.j2"], ALL),
        (["components/ssh_host.py", "Pulumi.router.yaml"], ALL),
        (["__main__.py"], ALL),
        (["requirements.txt"], ALL),
        (["wgsites/rendering/templates/gateway/wgsites-sync.py.j2"], ALL),
        ([".github/workflows/pulumi-stack.yml"], ALL),
        (["README.md", "tests/unit/test_golden.py", "lab/world.py", "docs/diagrams/home.svg"], []),
        (["requirements-dev.txt", "Pulumi.home.yaml.orig"], []),
        (["examples/Pulumi.home.yaml", "examples/Pulumi.router.yaml"], []),
    ],
)
def test_changed_files_choose_the_stacks(user_tree, changed, expected):
    code, outputs, _ = ci_stacks("--changed", *changed, root=user_tree)
    assert code == 0
    assert chosen(outputs) == expected
    assert outputs["any"] == ("true" if expected else "false")


def test_the_matrix_carries_each_stacks_region(user_tree):
    _, outputs, _ = ci_stacks("--all", root=user_tree)
    include = json.loads(outputs["matrix"])["include"]
    assert include == [{"stack": s, "region": REGIONS.get(s, "")} for s in ALL]


def test_the_examples_are_never_previewed():
    # the repository holds the examples (examples/): CI previews and deploys none of them, only the stack files
    # beside Pulumi.yaml (none as committed; a clone's own, such as the README's quick start's Pulumi.mine.yaml)
    own = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml"))
    examples = {p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "examples").glob("Pulumi.*.yaml")}
    assert (ROOT / "Pulumi.yaml").is_file() and set(STACKS) <= examples
    for args in (["--all"], ["--all", "--deploy"], ["--changed", "__main__.py", "examples/Pulumi.home.yaml"]):
        code, outputs, err = ci_stacks(*args)
        assert code == 0 and set(chosen(outputs)) <= set(own), err
        assert "--deploy" in args or (chosen(outputs) == own and outputs["any"] == ("true" if own else "false")), err


def test_a_removed_stack_file_is_named_not_previewed():
    code, outputs, err = ci_stacks("--changed", "Pulumi.gone.yaml")
    assert code == 0 and chosen(outputs) == [] and "gone: stack file removed" in err


def copy_of_the_tree(tmp_path, marks: dict[str, str]):
    """The examples as a user's own stack files and the core in TMP_PATH, with `wgsites:autoDeploy: VALUE` added to the
    stacks in MARKS; the examples folder beside them, unmarked."""
    # the core renders with its templates, the gateway's among them (check measures user data)
    shutil.copytree(ROOT / "wgsites", tmp_path / "wgsites", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts/ci-stacks", tmp_path / "scripts/ci-stacks")
    for stack in STACKS:
        text = stack_file(stack).read_text()
        if stack in marks:
            text = text.replace("config:\n", f"config:\n  wgsites:autoDeploy: {marks[stack]}\n", 1)
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def test_deploy_keeps_only_the_stacks_marked_for_auto_deploy(tmp_path):
    root = copy_of_the_tree(tmp_path, {"router": "true", "home": '"true"', "sites": "false"})
    code, outputs, err = ci_stacks("--all", "--deploy", root=root)
    assert code == 0 and chosen(outputs) == ["home", "router"], err
    code, outputs, _ = ci_stacks("--changed", "Pulumi.router.yaml", "Pulumi.sites.yaml", "--deploy", root=root)
    assert chosen(outputs) == ["router"]


def test_a_broken_stack_file_fails_with_its_messages(tmp_path):
    root = copy_of_the_tree(tmp_path, {"router": "'yes'"})
    code, outputs, err = ci_stacks("--changed", "Pulumi.router.yaml", root=root)
    assert code == 2 and outputs == {}
    assert err.strip() == (
        "error: Pulumi.router.yaml: wgsites:autoDeploy: 'yes' is not true or false; "
        "write true (CI deploys this stack on a push to main) or false"
    )


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), ('"true"', True), (None, False)])
def test_auto_deploy_as_check_reads_it(tmp_path, value, expected):
    text = stack_file("router").read_text()
    if value is not None:
        text = text.replace("config:\n", f"config:\n  wgsites:autoDeploy: {value}\n", 1)
    path = tmp_path / "Pulumi.router.yaml"
    path.write_text(text)
    assert read_stack(path).auto_deploy is expected


def test_auto_deploy_refuses_anything_else(tmp_path):
    path = tmp_path / "Pulumi.router.yaml"
    path.write_text(stack_file("router").read_text().replace("config:\n", "config:\n  wgsites:autoDeploy: 1\n", 1))
    with pytest.raises(ConfigError) as caught:
        read_stack(path)
    assert caught.value.messages == [
        "wgsites:autoDeploy: 1 is not true or false; write true (CI deploys this stack on a push to main) or false"
    ]
