"""`python -m wgsites diagram` with Graphviz's real `dot`: files written, values drawn as text, clear errors."""

from __future__ import annotations

import dataclasses
import html
import os
import re
import subprocess
import sys

from tests.diagrams import drawn_from
from tests.stacks import ROOT, stack_file
from wgsites.rendering.diagram import dot_source
from wgsites.stack.check import load_stack_file
from wgsites.stack.model import SshTarget


def wgsites(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wgsites", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def svg_of(dot: str) -> str:
    return subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True).stdout


def test_diagram_writes_dot_svg_and_png(tmp_path):
    done = wgsites("diagram", str(stack_file("home")), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    files = {p.name: p for p in (tmp_path / "out").iterdir()}
    assert set(files) == {"home.dot", "home.svg", "home.png"}
    dot = files["home.dot"].read_text()
    assert dot == dot_source(load_stack_file(stack_file("home")), "home")
    assert f"<title>{drawn_from(dot)}</title>" in files["home.svg"].read_text()
    assert files["home.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert done.stdout.startswith("drew stack home: ")


def test_a_bad_stack_file_is_refused_with_its_message(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(stack_file("router").read_text().replace("listenPort: 51000\n    hub:", "listenPort: 0\n    hub:"))
    done = wgsites("diagram", str(bad), "--out", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == "error: wgsites:vpn.listenPort: 0 is not a whole number from 1 to 65535; use one in that range\n"
    assert list(tmp_path.iterdir()) == [bad]


def test_without_graphviz_the_error_says_what_to_install(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no dot on it
    done = wgsites("diagram", str(stack_file("router")), "--out", str(tmp_path / "out"), env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == "error: Graphviz's `dot` is not installed; install it (apt-get install graphviz)\n"


def test_hostile_values_are_drawn_as_text():
    vpn = load_stack_file(stack_file("router"))
    hostile = '10.0.0.1"]; evil [label="x\\N\\G'
    vpn = dataclasses.replace(vpn, hub=dataclasses.replace(vpn.hub, ssh=SshTarget(hostile, 22, "root")))
    drawn = svg_of(dot_source(vpn, "router"))
    plain = svg_of(dot_source(load_stack_file(stack_file("router")), "router"))
    nodes = re.compile(r'<g id="node\d+" class="node">')
    assert len(nodes.findall(drawn)) == len(nodes.findall(plain)) == 3  # router, its LAN, laptop: none added
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", drawn)]
    assert f"Linux host, pushed over SSH (root@{hostile})" in texts
