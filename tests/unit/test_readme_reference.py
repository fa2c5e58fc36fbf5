"""The README's stack configuration reference says what the model declares: its defaults and its choices.

The parser reads every default and choice from the model (wgsites/model.py `default`, `choices`);
this test reads the README's tables and fails when a row names another default or misses a choice.
"""

from __future__ import annotations

import re

import pytest

from tests.stacks import ROOT
from wgsites.model import (
    DEFAULT_LISTEN_PORT,
    Action,
    AwsOptions,
    ForwardRule,
    Hub,
    HubKind,
    Protocol,
    Spoke,
    SshTarget,
    Tunnel,
    Uplink,
    UplinkType,
    choices,
    default,
)


def reference() -> dict[str, list[tuple[str, str, str]]]:
    """Per table of the "Stack configuration" section (top, hub, spokes): (keys, type, default) of each row."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Stack configuration") : text.index("## Phones and laptops")]
    tables = {"top": [], "hub": [], "spokes": []}
    current = "top"
    for line in section.splitlines():
        if line.startswith("`hub`:"):
            current = "hub"
        elif line.startswith("`sites[]` and `peers[]`"):
            current = "spokes"
        elif line.startswith("| `") and not line.startswith("| `wgsites:") and not line.startswith("| `aws:"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if len(cells) >= 3:
                tables[current].append((cells[0], cells[1], cells[2]))
    return tables


def row(table: str, key: str) -> tuple[str, str]:
    """(type, default) of KEY's row in TABLE."""
    for keys, kind, value in reference()[table]:
        if f"`{key}`" in keys:
            return kind, value
    raise AssertionError(f"no row for `{key}` in the README's {table} table")


def shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


DEFAULTS = [
    ("top", "listenPort", DEFAULT_LISTEN_PORT),
    ("hub", "interface", default(Hub, "interface")),
    ("hub", "forwarding", default(Hub, "forwarding")),
    ("hub", "masquerade", default(Hub, "masquerade")),
    ("hub", "uplink", default(Uplink, "type")),
    ("spokes", "interface", default(Spoke, "interface")),
    ("spokes", "keepalive", default(Spoke, "keepalive")),
    ("spokes", "tunnel", default(Spoke, "tunnel")),
    ("spokes", "uplink", default(Uplink, "type")),
]


@pytest.mark.parametrize(("table", "key", "value"), DEFAULTS, ids=[f"{t}.{k}" for t, k, _ in DEFAULTS])
def test_every_default_is_the_models(table, key, value):
    _, written = row(table, key)
    assert re.search(rf"(^|[^\w.]){re.escape(shown(value))}($|[^\w.])", written), f"README: {key} defaults to {written!r}"


def test_object_defaults_are_the_models():
    ssh, _ = row("hub", "ssh")
    assert f"port: {default(SshTarget, 'port')}" in ssh and f"user: {default(SshTarget, 'user')}" in ssh
    aws, _ = row("hub", "aws")
    assert f"instanceType: {default(AwsOptions, 'instance_type')}" in aws
    assert f"syncSeconds: {default(AwsOptions, 'sync_seconds')}" in aws


@pytest.mark.parametrize(
    ("table", "key", "kind"),
    [("hub", "kind", HubKind), ("hub", "uplink", UplinkType), ("spokes", "tunnel", Tunnel)],
)
def test_every_choice_is_listed(table, key, kind):
    written, _ = row(table, key)
    assert [c for c in choices(kind) if f"`{c}`" not in written] == [], f"README: {key} lists {written!r}"


def test_forward_rules_name_their_choices_and_default():
    line = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `forwardRules`"))
    assert f"action: {default(ForwardRule, 'action')}" in line.replace("\\|", "|")
    for choice in (*choices(Protocol), *choices(Action)):
        assert choice in line, choice
