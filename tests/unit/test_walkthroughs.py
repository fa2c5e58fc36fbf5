"""The walk-throughs (docs/walkthroughs/) say what this tree does: their stack files are the examples, every
`python -m wgsites` command parses, and the `check` answer they quote is the one `check` gives."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.stacks import ROOT, stack_file
from wgsites.operations.cli import build_parser
from wgsites.stack.addressing import describe
from wgsites.stack.check import load_stack_file
from wgsites.stack.yaml_file import read_stack_document

WALKTHROUGHS = ROOT / "docs" / "walkthroughs"
STACKS = ["router", "internal", "sites", "travel", "home", "office"]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_file_shown_is_the_example(stack):
    text = (WALKTHROUGHS / f"{stack}.md").read_text()
    shown = yaml.safe_load(blocks(text, "yaml")[0])
    assert shown["config"] == read_stack_document(stack_file(stack))["config"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_check_answer_quoted_is_checks_own(stack):
    text = (WALKTHROUGHS / f"{stack}.md").read_text()
    assert f"`check` answers `{describe(load_stack_file(stack_file(stack)))}`" in text


@pytest.mark.parametrize("page", sorted(p.name for p in WALKTHROUGHS.glob("*.md")) + ["../teams.md"])
def test_every_wgsites_command_parses(page):
    text = (WALKTHROUGHS / page).read_text()
    commands = [
        line.split("  #")[0].strip()
        for block in blocks(text, "sh")
        for line in block.splitlines()
        if line.startswith(".venv/bin/python -m wgsites ")
    ]
    for command in commands:
        argv = shlex.split(command)[3:]
        args = build_parser().parse_args(argv)  # SystemExit (2) on a flag this tree does not have
        if hasattr(args, "stack_file"):  # `qr` names a peer of a stack instead
            # an example, the user's copy of one beside Pulumi.yaml (`cp examples/Pulumi.NAME.yaml .`), or a placeholder
            known = Path(ROOT / args.stack_file).is_file() or Path(ROOT / "examples" / args.stack_file).is_file()
            assert args.stack_file == "Pulumi.STACK.yaml" or known, command


def test_every_walkthrough_is_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for page in WALKTHROUGHS.glob("*.md"):
        assert f"(docs/walkthroughs/{page.name})" in readme, page.name
    assert "(docs/teams.md)" in readme


def test_the_examples_folder_lists_every_example_with_a_walkthrough_that_exists():
    text = (ROOT / "examples" / "README.md").read_text()
    examples = sorted(p.name for p in (ROOT / "examples").glob("Pulumi.*.yaml"))
    assert examples == sorted(f"Pulumi.{s}.yaml" for s in STACKS)
    for name in examples:
        (link,) = re.findall(rf"^\| `{re.escape(name)}` \| \[[^]]+\]\(([^)]+)\) \|$", text, re.M)
        assert (ROOT / "examples" / link).resolve().is_file(), link
