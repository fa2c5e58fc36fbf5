"""The README's quick start and its two commands name things that exist, as a newcomer types them.

bench/fresh_machine.py runs the quick start's lines (up to the first `pulumi` one) on a fresh Debian
and times them; these tests keep what it runs, and the lines after it, from rotting between runs:
the two commands are the scripts CI runs, each file the quick start copies is there, each `wgsites`
subcommand is one the command line has, and the example it copies passes `check` with the peer it
makes a QR code of.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex

from tests.stacks import ROOT
from wgsites.operations.cli import build_parser
from wgsites.stack.check import load_stack_file

README = (ROOT / "README.md").read_text()


def fresh_machine():
    spec = importlib.util.spec_from_file_location("fresh_machine", ROOT / "bench" / "fresh_machine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quick_start_block() -> list[str]:
    section = README.split("\n## Quick start\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()


def test_the_two_commands_are_the_scripts_ci_runs():
    section = README.split("\n## The two commands\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert commands == ["sudo scripts/lab", "sudo scripts/test"]
    for script in ("scripts/lab", "scripts/test"):
        assert os.access(ROOT / script, os.X_OK), script
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "exec scripts/test"


def test_the_quick_start_comes_first_and_is_short():
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings[0] == "Quick start"
    assert 8 <= len(quick_start_block()) <= 12
    assert README.index("](docs/diagrams/") < README.index("## Quick start")  # a picture on the first screen


def test_what_the_fresh_machine_runs_is_the_quick_start_up_to_pulumi():
    lines = fresh_machine().quick_start(README)
    block = quick_start_block()
    assert lines == block[1 : next(i for i, line in enumerate(block) if line.startswith("pulumi "))]
    assert block[0].startswith("git clone ")  # the one line it does not run: it clones this tree itself


def test_every_file_and_subcommand_the_quick_start_names_exists():
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    copied = []
    for line in quick_start_block():
        words = shlex.split(line.split("  #", 1)[0])
        for i, word in enumerate(words):
            if word.endswith("/wgsites") and word.startswith(".venv/bin"):
                assert words[i + 1] in subcommands, line
            if word.startswith(("examples/", "scripts/")):
                assert (ROOT / word).exists(), line
        if words[:1] == ["cp"]:
            copied.append(words[1])
    (example,) = copied
    vpn = load_stack_file(ROOT / example)
    (qr_peer,) = [line.split("  #", 1)[0].split()[-1] for line in quick_start_block() if " qr " in line]
    assert any(peer.name == qr_peer and peer.ssh is None for peer in vpn.peers), qr_peer
    cloud = re.search(r"start from `(examples/Pulumi\.\w+\.yaml)` instead", README).group(1)
    assert load_stack_file(ROOT / cloud).hub.kind == "aws"
