"""`wgsites diagram`: the DOT text says what the stack says, quotes every value, and the README's pictures are current.

The committed pictures (docs/diagrams, drawn by scripts/diagrams) are compared deterministically:
each `.dot` must be what the core makes from its stack file now, each `.svg` must carry that
DOT's graph name (a hash of the rest of its text) as its <title>, and each `.png` must have the
SVG's size (Graphviz draws PNGs at 96 dpi from 72-pt SVG units).
"""

from __future__ import annotations

import dataclasses
import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diagrams import drawn_from
from tests.stacks import ROOT, STACKS, stack_file
from tests.unit.test_hostile_strings import CASES, HOSTILE, PLACES, base, get, place, put
from wgsites.rendering.diagram import dot_source, quote
from wgsites.stack.check import load_stack_file
from wgsites.stack.errors import ConfigError
from wgsites.stack.model import SshTarget
from wgsites.stack.parse import parse_vpn

DIAGRAMS = ROOT / "docs" / "diagrams"
STALE = "is out of date: run scripts/diagrams"
QUOTED = r'"(?:[^"\\]|\\.)*"'
VALUE = rf"(?:{QUOTED}|[A-Za-z0-9_.,]+)"
STATEMENT = re.compile(rf"  (?:graph|node|edge|\w+(?: -> \w+)?) \[\w+={VALUE}(?:, \w+={VALUE})*\];")


def statements(dot: str) -> list[str]:
    """The DOT text's statements with every quoted string replaced by S: what a value could break."""
    lines = dot.splitlines()
    assert re.fullmatch(rf"digraph {QUOTED} \{{", lines[0]) and lines[-1] == "}", (lines[0], lines[-1])
    for line in lines[1:-1]:
        assert STATEMENT.fullmatch(line), f"not one DOT statement: {line!r}"
    return [re.sub(QUOTED, "S", line) for line in lines[1:-1]]


@pytest.mark.parametrize("stack", [*STACKS, "office"])
def test_the_committed_pictures_are_current(stack):
    dot = (DIAGRAMS / f"{stack}.dot").read_text()
    assert dot == dot_source(load_stack_file(stack_file(stack)), stack), f"docs/diagrams/{stack}.dot {STALE}"
    svg = (DIAGRAMS / f"{stack}.svg").read_text()
    title = re.search(r"<title>([^<]*)</title>", svg).group(1)
    assert title == drawn_from(dot), f"docs/diagrams/{stack}.svg was not drawn from {stack}.dot: {STALE}"
    width, height = (float(v) for v in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())
    png = (DIAGRAMS / f"{stack}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    size = struct.unpack(">II", png[16:24])
    assert all(abs(px - pt * 96 / 72) <= 1 for px, pt in zip(size, (width, height), strict=True)), (
        f"docs/diagrams/{stack}.png is not the size of {stack}.svg: {STALE}"
    )


def test_the_readme_shows_every_picture():
    readme = (ROOT / "README.md").read_text()
    for stack in (*STACKS, "office"):
        assert f"](docs/diagrams/{stack}.svg)" in readme, stack


def test_the_graph_name_changes_with_the_drawing():
    vpn = load_stack_file(stack_file("home"))
    moved = dataclasses.replace(vpn, hub=dataclasses.replace(vpn.hub, listen_port=51821))
    assert drawn_from(dot_source(vpn, "home")) != drawn_from(dot_source(moved, "home"))
    assert drawn_from(dot_source(vpn, "home")).startswith("wgsites home ")


def test_the_topology_is_in_the_text():
    home = dot_source(load_stack_file(stack_file("home")), "home")
    for text in (
        "gateway (hub)\\nAWS VM t4g.nano",
        "wg0 10.99.0.1/24",
        "UDP 51820, reached at the Elastic IP",
        "NAT out of ens5",
        "LAN 10.10.10.0/24",
        "dials the Elastic IP:51820\\nbehind NAT/CGNAT: keepalive 25 s",
        "full tunnel: 0.0.0.0/0, ::/0",
        "split tunnel: 10.99.0.0/24, 10.10.10.0/24",
        "pushed over SSH (root@10.10.10.1)",
        'hub -> internet [label="NAT for phone"]',
        "DNS 9.9.9.9",
    ):
        assert text in home, text
    sites = dot_source(load_stack_file(stack_file("sites")), "sites")
    assert "either side dials" in sites and "dir=both" in sites and "forwarded from the tunnel: tcp 22 reject" in sites
    assert "internet" not in sites
    internal = dot_source(load_stack_file(stack_file("internal")), "internal")
    assert "proxy ARP: VPN users 10.10.10.10-10.10.10.49 on its LAN" in internal


@pytest.mark.parametrize(
    ("text", "dot"),
    [('a"b', r'"a\"b"'), ("a\\b", r'"a\\b"'), ("\\N", r'"\\N"'), ('"];x -> y [', r'"\"];x -> y ["'), ("", '""')],
)
def test_quote(text, dot):
    assert quote(text) == dot


def test_a_value_cannot_end_its_label():
    vpn = load_stack_file(stack_file("router"))
    hostile = '10.0.0.1"]; evil [label="x'
    hub = dataclasses.replace(vpn.hub, ssh=SshTarget(hostile, 22, 'r"\\'), masquerade='e"}\\N')
    laptop = dataclasses.replace(vpn.spokes[0], dns=('9.9.9.9"]; x [',))
    vpn = dataclasses.replace(vpn, hub=hub, spokes=(laptop,))
    dot = dot_source(vpn, "router")
    assert statements(dot) == statements(dot_source(load_stack_file(stack_file("router")), "router"))
    assert "evil [" not in re.sub(QUOTED, "S", dot)
    assert quote(f'pushed over SSH (r"\\@{hostile})')[1:-1] in dot  # the text itself, escaped


@pytest.mark.parametrize(("stack", "path"), CASES, ids=[f"{s}:{'.'.join(map(str, p))}" for s, p in CASES])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile=HOSTILE, how=st.sampled_from(PLACES))
def test_a_hostile_string_changes_no_statement(stack, path, hostile, how):
    raw = base(stack)
    try:
        vpn = parse_vpn(put(raw, path, place(get(raw, path), hostile, how)))
    except ConfigError:
        return  # refused with its key (test_hostile_strings checks the messages)
    original = parse_vpn(raw)
    if [len(n.lans) for n in vpn.nodes] != [len(n.lans) for n in original.nodes]:
        return  # a valid change of topology (a LAN written twice collapses), not an injection
    assert len(statements(dot_source(vpn, stack))) == len(statements(dot_source(original, stack)))
