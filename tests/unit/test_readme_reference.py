"""The stack configuration reference (docs/reference.md) is what the parser declares: its keys, defaults and choices.

The reference is generated (scripts/readme-reference) from wgsites/stack/schema.py, the declarations the
parser reads its keys and defaults from; the parser reads every default and choice from the model
(wgsites/stack/model.py `default`, `choices`). These tests fail when the page's block is not what the
script writes, when the parser accepts another set of keys than the schema declares, or when a row
names another default or misses a choice.
"""

from __future__ import annotations

import copy
import re
import subprocess

import pytest

from tests.stacks import ROOT
from wgsites.stack import schema
from wgsites.stack.errors import ConfigError
from wgsites.stack.model import (
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
from wgsites.stack.parse import CONFIG_KEY, parse_vpn
from wgsites.stack.reference import BEGIN, END, replace_block
from wgsites.stack.reference import reference as generated


def current_block(readme: str) -> str:
    """The README's block as it stands, markers included."""
    return readme[readme.index(BEGIN) : readme.index(END) + len(END)] + "\n"


PAGE = ROOT / "docs" / "reference.md"


def reference() -> dict[str, list[tuple[str, str, str]]]:
    """Per table of the stack file's reference (top, hub, spokes, objects): (keys, type, default) of each row."""
    text = PAGE.read_text()
    section = text[text.index("## The stack file") : text.index("## The wgsites command")]
    tables = {"top": [], "hub": [], "spokes": [], "objects": []}
    current = "top"
    for line in section.splitlines():
        if line.startswith("`hub`:"):
            current = "hub"
        elif line.startswith("`sites[]` and `peers[]`"):
            current = "spokes"
        elif line.startswith("Inside those objects:"):
            current = "objects"
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
    raise AssertionError(f"no row for `{key}` in docs/reference.md's {table} table")


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
    assert re.search(rf"(^|[^\w.]){re.escape(shown(value))}($|[^\w.])", written), f"reference: {key} defaults to {written!r}"


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
    assert [c for c in choices(kind) if f"`{c}`" not in written] == [], f"reference: {key} lists {written!r}"


def test_forward_rules_name_their_choices_and_default():
    line = next(line for line in PAGE.read_text().splitlines() if line.startswith("| `forwardRules`"))
    assert f"action: {default(ForwardRule, 'action')}" in line.replace("\\|", "|")
    for choice in (*choices(Protocol), *choices(Action)):
        assert choice in line, choice


def test_the_reference_block_is_what_the_script_writes():
    page = PAGE.read_text()
    assert page.count(BEGIN) == 1 and page.count(END) == 1
    assert current_block(page) == generated(), (
        "docs/reference.md's stack configuration reference is stale: run scripts/readme-reference"
    )
    assert BEGIN not in (ROOT / "README.md").read_text()  # one copy, in docs/


def test_the_script_rewrites_a_stale_block_and_refuses_missing_markers():
    stale = f"intro\n{BEGIN}\n| `colour` | old |\n{END}\nrest\n"
    assert replace_block(stale) == f"intro\n{generated()}rest\n"
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here\n")
    done = subprocess.run([str(ROOT / "scripts/readme-reference"), "--check"], capture_output=True, text=True, cwd="/")
    assert done.returncode == 0 and "already up to date" in done.stdout, done.stdout + done.stderr


P = CONFIG_KEY
HUB = {"name": "router", "kind": "ssh", "address": "10.10.11.1", "endpoint": "home.example.net", "ssh": {"host": "10.10.10.1"}}
# where each declared object sits in a stack, and the key path the parser names for it
OBJECTS = [
    ("vpn", schema.VPN, lambda raw, bad: raw.update(bad), CONFIG_KEY),
    ("hub", schema.HUB, lambda raw, bad: raw["hub"].update(bad), f"{CONFIG_KEY}.hub"),
    ("ssh", schema.SSH, lambda raw, bad: raw["hub"]["ssh"].update(bad), f"{CONFIG_KEY}.hub.ssh"),
    ("uplink", schema.UPLINK, lambda raw, bad: raw["hub"].update(uplink={"type": "pppoe", **bad}), f"{CONFIG_KEY}.hub.uplink"),
    ("aws", schema.AWS, lambda raw, bad: raw["hub"].update(aws=bad), f"{CONFIG_KEY}.hub.aws"),
    (
        "proxyArp",
        schema.PROXY_ARP,
        lambda raw, bad: raw["hub"].update(proxyArp={"vpnRange": "10.10.11.10-10.10.11.20", **bad}),
        f"{CONFIG_KEY}.hub.proxyArp",
    ),
    (
        "site",
        schema.SPOKE,
        lambda raw, bad: raw.update(sites=[{"name": "b", "address": "10.10.11.3", **bad}]),
        f"{CONFIG_KEY}.sites[0]",
    ),
    (
        "peer",
        schema.SPOKE,
        lambda raw, bad: raw.update(peers=[{"name": "p", "address": "10.10.11.2", **bad}]),
        f"{CONFIG_KEY}.peers[0]",
    ),
    (
        "forwardRule",
        schema.FORWARD_RULE,
        lambda raw, bad: raw.update(forwardRules=[{"protocol": "tcp", "port": 22, **bad}]),
        f"{CONFIG_KEY}.forwardRules[0]",
    ),
]


@pytest.mark.parametrize(("where", "table", "place", "path"), OBJECTS, ids=[o[0] for o in OBJECTS])
def test_the_parser_accepts_exactly_the_declared_keys(where, table, place, path):
    raw = {"network": "10.10.11.0/24", "hub": copy.deepcopy(HUB)}
    place(raw, {"colour": "blue"})
    with pytest.raises(ConfigError) as caught:
        parse_vpn(raw)
    accepted = next(m for m in caught.value.messages if m.startswith(f"{path}.colour: unknown key"))
    declared = schema.names(table, "peers" if where == "peer" else None)
    assert accepted == f"{path}.colour: unknown key; use one of: {', '.join(sorted(declared))}"


def test_every_declared_key_is_in_the_reference():
    text = generated()
    for table in (schema.VPN, schema.HUB, schema.SPOKE, schema.STACK):
        for declared in table:
            assert f"| `{declared.name}`" in text, declared.name
    inner = {"ssh.": schema.SSH, "uplink.": schema.UPLINK, "proxyArp.": schema.PROXY_ARP, "aws.": schema.AWS}
    for prefix, table in {**inner, "forwardRules[].": schema.FORWARD_RULE}.items():
        for declared in table:
            assert f"| `{prefix}{declared.name}` | {declared.type} | {declared.default_text} |" in text, prefix + declared.name
    # the hub's row names each object's keys with their defaults
    for where in ("ssh", "aws"):
        assert schema.inline(inner[f"{where}."]) in schema.key(schema.HUB, where).type, where


def test_the_keys_beside_the_vpn_are_the_ones_read():
    """The program's own reads (components/settings.py) and check's (wgsites/stack/check.py) are the STACK table's keys."""
    settings = (ROOT / "components" / "settings.py").read_text()
    program = {
        f"wgsites:{k}" for k in re.findall(r'config\.(?:get|get_bool|get_secret|get_object|require\w*)\("(\w+)"\)', settings)
    }
    stack = (ROOT / "wgsites" / "stack" / "check.py").read_text()
    checked = set(re.findall(r'^AUTO_DEPLOY = "([\w:]+)"$', stack, re.M)) | set(re.findall(r'config\.get\("([\w:]+)"\)', stack))
    read = (program - {CONFIG_KEY}) | checked
    assert read == {k.name for k in schema.STACK}, read ^ {k.name for k in schema.STACK}
