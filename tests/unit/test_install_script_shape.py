"""The install script reads as wg-quick's linux.bash does: values rendered once at the top, plain functions below.

It runs as root, so a reviewer must be able to read it in one sitting: every value the stack decides
sits in the block before the first function (the functions are the same text for every node of every
example), no text is ever `eval`'d, and every function has a caller (dead code is deleted, not kept).
shellcheck runs on the same scripts in tests/tools/test_real_tools.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.stacks import STACKS, render_stack
from wgsites.rendering.render import TEMPLATES

FUNCTION = re.compile(r"^([a-z_][a-z0-9_]*)\(\) \{", re.M)
JINJA = re.compile(r"\{\{|\{%")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, str]:
    """stack/node -> the install script of every node an example stack installs over SSH or from its bundle."""
    found = {}
    for stack in STACKS:
        rendered = render_stack(stack, tmp_path_factory.mktemp(stack))
        for node, files in rendered.files.items():
            if "install.sh" in files:
                found[f"{stack}/{node}"] = files["install.sh"]
    assert len(found) == 7  # every hub and every spoke managed over SSH
    return found


def functions_part(script: str) -> str:
    """The script from its first function on."""
    first = FUNCTION.search(script)
    assert first, "no function in the script"
    return script[first.start() :]


def code(script: str) -> str:
    """SCRIPT without its comment lines and trailing comments (a name in a comment is no call)."""
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in script.splitlines())


def test_every_node_runs_the_same_functions(scripts):
    # what differs between nodes (interface, owner, sysctls, nftables) is rendered above the functions
    parts = {name: functions_part(script) for name, script in scripts.items()}
    first = next(iter(parts.values()))
    differ = [name for name, part in parts.items() if part != first]
    assert not differ, f"the functions of {differ} differ from {next(iter(parts))}'s: a value rendered inside a function"


def test_no_template_tag_inside_a_function():
    for template in sorted(TEMPLATES.glob("install*.j2")) + sorted((TEMPLATES / "install").glob("*.j2")):
        inside = None
        for number, line in enumerate(Path(template).read_text().splitlines(), 1):
            if inside is None and (match := FUNCTION.match(line)) and not line.rstrip().endswith("}"):
                inside = match.group(1)
            elif inside is not None and line == "}":
                inside = None
            elif inside is not None:
                assert not JINJA.search(line), f"{template.name}:{number}: a template tag inside {inside}(): {line}"


def test_nothing_is_evaluated(scripts):
    for name, script in scripts.items():
        assert not re.search(r"\beval\b", code(script)), f"{name}: the install script evaluates text"


def test_every_function_has_a_caller(scripts):
    for name, script in scripts.items():
        text = code(script)
        for function in FUNCTION.findall(script):
            uses = len(re.findall(rf"(?<![\w-]){function}(?![\w-])", text))
            assert uses > 1, f"{name}: {function}() is defined but never called"
