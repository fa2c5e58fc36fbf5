"""The gateway's bootstrap and sync agent take the SSM formats from their one definition (ssm_format.py),
and what is rendered is a clean program: the templates are not linted as Python, their output is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.gateway_programs import agent_module, bootstrap_module
from wgsites.rendering import gateway_programs, ssm_format

SHARED = {
    bootstrap_module: ("CHUNK_CHARS", "MAX_BUNDLE_CHUNKS", "MANIFEST_FORMAT", "SIGNED_PREFIX"),
    agent_module: ("CHUNK_CHARS", "STATUS_FORMAT", "HEARTBEAT_SECONDS"),
}


@pytest.fixture
def fresh_sources():
    gateway_programs.bootstrap_source.cache_clear()
    gateway_programs.agent_source.cache_clear()
    yield
    gateway_programs.bootstrap_source.cache_clear()
    gateway_programs.agent_source.cache_clear()


@pytest.mark.parametrize("load", list(SHARED), ids=["bootstrap", "agent"])
def test_a_changed_format_reaches_the_gateways_programs(load, monkeypatch, fresh_sources):
    """A value written into a template by hand would not follow ssm_format.py: each one is changed here."""
    changed = {name: getattr(ssm_format, name) * 2 for name in SHARED[load]}  # 8000, "…\n…\n", 2, ...
    for name, value in changed.items():
        monkeypatch.setattr(ssm_format, name, value)
    module = load(f"changed_{load.__name__}")
    assert {name: getattr(module, name) for name in changed} == changed


@pytest.mark.parametrize("source", [gateway_programs.bootstrap_source, gateway_programs.agent_source], ids=["bootstrap", "agent"])
def test_the_rendered_programs_pass_ruff(source):
    text = source()
    name = "wgsites-bootstrap.py" if source is gateway_programs.bootstrap_source else "wgsites-sync.py"
    ruff = [sys.executable, "-m", "ruff"]
    checked = subprocess.run([*ruff, "check", "--stdin-filename", name, "-"], input=text, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = subprocess.run([*ruff, "format", "--stdin-filename", name, "-"], input=text, capture_output=True, text=True)
    assert formatted.returncode == 0 and formatted.stdout == text, formatted.stderr
