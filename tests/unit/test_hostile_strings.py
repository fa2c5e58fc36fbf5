"""Hostile strings in any string field of an example stack are refused, or change no structure of any rendered file.

"Structure" is what an injected line would change: the `[Section]` headers, the hook lines
(PreUp/PostUp/PreDown/PostDown, which run as root) and the number of lines (str.splitlines,
which also breaks at \\r, U+0085, U+2028 and the other separators YAML and editors honour).
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.stacks import ROOT, STACKS, render_stack, stack_file
from wgsites.stack.errors import ConfigError
from wgsites.stack.names import nft_table
from wgsites.stack.parse import CONFIG_KEY, parse_vpn
from wgsites.stack.yaml_file import read_stack_document

HEADER = re.compile(r"\s*\[[^\]]*\]\s*")
HOOK = re.compile(r"\s*(PreUp|PostUp|PreDown|PostDown)\s*=")

FRAGMENTS = [
    "\n",
    "\r",
    "\r\n",
    "\u2028",
    "\u2029",
    "\x85",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1b[2J",
    "\t",
    "'",
    '"',
    "$(id)",
    "`id`",
    "%",
    "%i",
    ";",
    "\\",
    "#",
    " ",
    "\n[Peer]",
    "\nPostUp = id",
    "%\nPostUp = id",
    "\rPostUp = id",
    "\u2028PostUp = id",
    "'; id; '",
]
HOSTILE = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(st.characters(categories=("Cc", "Zl", "Zp", "Cf")), min_size=1, max_size=4),
    st.lists(st.sampled_from(FRAGMENTS), min_size=2, max_size=4).map("".join),
    st.text(min_size=1, max_size=8),
    st.sampled_from(FRAGMENTS).map(lambda f: "%" + f),  # an IPv6 zone id carries anything after its %
    st.integers(1000, 5000).map(lambda n: "A" * n),  # very long
)
PLACES = ("append", "prepend", "replace", "middle")


def with_dns(raw: dict[str, Any]) -> dict[str, Any]:
    """No example sets `dns`; give each peer the two kinds of resolver so that string field is attacked too."""
    raw = copy.deepcopy(raw)
    for peer in raw.get("peers") or []:
        peer.setdefault("dns", ["10.10.10.1", "fd00::53"])
    return raw


def base(stack: str) -> dict[str, Any]:
    raw = with_dns(read_stack_document(stack_file(stack))["config"][CONFIG_KEY])
    raw["presharedKey"] = True  # with preshared keys: their store, hook and bundle hash are rendered (and attacked) too
    return raw


def string_paths(obj: Any, path: tuple = ()) -> list[tuple]:
    """Every string in the object, as a key path (dict keys and list indexes)."""
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in string_paths(v, (*path, k))]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in string_paths(v, (*path, i))]
    return [path] if isinstance(obj, str) else []


def put(raw: dict[str, Any], path: tuple, value: str) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    target = raw
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return raw


def get(raw: Any, path: tuple) -> str:
    for part in path:
        raw = raw[part]
    return raw


def place(original: str, hostile: str, how: str) -> str:
    middle = len(original) // 2
    return {
        "append": original + hostile,
        "prepend": hostile + original,
        "replace": hostile,
        "middle": original[:middle] + hostile + original[middle:],
    }[how]


def structure(stack: str, vpn, tmp: Path) -> list[list[tuple]]:
    """Per node (in order) and file (in order): its headers, its hook lines and its line count."""
    rendered = render_stack(stack, tmp, vpn)
    shape = []
    for node in vpn.nodes:
        files = []
        for content in rendered.files[node.name].values():
            lines = content.splitlines()
            headers = [line for line in lines if HEADER.fullmatch(line)]
            # the PreDown hook names the interface's nftables table: a valid new interface name changes it
            table = nft_table(node.interface)
            hooks = [line.replace(table, "wgsites_IFACE") for line in lines if HOOK.match(line)]
            files.append((headers, hooks, len(lines)))
        shape.append(files)
    return shape


CASES = [(stack, path) for stack in STACKS for path in string_paths(base(stack))]
BASELINES: dict[str, list] = {}


def baseline(stack: str, tmp: Path) -> list:
    if stack not in BASELINES:
        BASELINES[stack] = structure(stack, parse_vpn(base(stack)), tmp)
    return BASELINES[stack]


def test_every_example_has_string_fields():
    assert {stack for stack, _ in CASES} == set(STACKS)
    assert len(CASES) > 50


@pytest.mark.parametrize(("stack", "path"), CASES, ids=[f"{s}:{'.'.join(map(str, p))}" for s, p in CASES])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile=HOSTILE, how=st.sampled_from(PLACES))
@example(hostile="\n", how="append")  # the trailing newline a `$` in a regex lets through
@example(hostile="%\nPostUp = id", how="append")  # an IPv6 zone id carrying a hook line
@example(hostile="\u2028PostUp = id", how="middle")
def test_hostile_string_is_refused_or_changes_no_structure(tmp_path, stack, path, hostile, how):
    raw = base(stack)
    mutated = put(raw, path, place(get(raw, path), hostile, how))
    try:
        vpn = parse_vpn(mutated)
    except ConfigError as exc:
        assert exc.messages and all("\n" not in m for m in exc.messages)
        return
    assert structure(stack, vpn, tmp_path) == baseline(stack, tmp_path)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(CASES), hostile=st.sampled_from(FRAGMENTS), how=st.sampled_from(PLACES))
def test_cli_check_refuses_what_parse_vpn_refuses(tmp_path, case, hostile, how):
    """The same mutations through a stack file and `python -m wgsites check` (slower, so a few)."""
    stack, path = case
    raw = base(stack)
    mutated = put(raw, path, place(get(raw, path), hostile, how))
    try:
        parse_vpn(mutated)
        refused = False
    except ConfigError:
        refused = True
    file = tmp_path / f"Pulumi.{stack}.yaml"
    file.write_text(yaml.safe_dump({"config": {CONFIG_KEY: mutated}}, allow_unicode=False))
    done = subprocess.run(
        [sys.executable, "-m", "wgsites", "check", str(file)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in done.stderr
    if refused:
        assert done.returncode == 2
        assert done.stderr.splitlines() and all(line.startswith("error: ") for line in done.stderr.splitlines())
