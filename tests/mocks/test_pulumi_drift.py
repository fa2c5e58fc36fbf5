"""The repair command of each SSH-managed host: the drift check's marker as its argument, after the install."""

from __future__ import annotations

import shlex

import pytest
import wgmocks as m

import components.drift

MARKER = "peer AbCdEfGh... is not in the stack (added by hand?) (repair 1)"


def test_a_host_that_drifted_gets_its_marker_in_the_repair_command(monkeypatch):
    monkeypatch.setattr(components.drift, "read_markers", lambda vpn, stack, access: {"home": MARKER})
    run = m.run_stack("home")
    repair = run.mocks.named("vpn-home-repair").inputs
    assert repair["create"] == repair["update"]
    assert repair["create"].endswith(f" wgsites-install repair {shlex.quote(MARKER)}")
    request = run.mocks.requests["vpn-home-repair"]
    assert list(request.ignoreChanges) == []
    assert any(dep.endswith("::vpn-home-install") for dep in request.dependencies)  # after the push
    assert "delete" not in repair  # a replacement or a rename never undoes anything


def test_a_host_not_read_keeps_its_repair_command_as_the_state_has_it():
    run = m.run_stack("home")  # the mocks' runs read no host (wgsites:driftCheck false)
    assert run.mocks.named("vpn-home-repair").inputs["create"].endswith(" wgsites-install repair ''")
    assert sorted(run.mocks.requests["vpn-home-repair"].ignoreChanges) == ["create", "update"]


@pytest.mark.parametrize("value", ["false", "true"])
def test_the_drift_check_reads_only_when_on(monkeypatch, value):
    seen = []
    monkeypatch.setattr(components.drift, "run_ssh", lambda target, command, access: seen.append(target.host) or "")
    m.run_stack("sites", config={"wgsites:driftCheck": value})
    # on: both hosts asked (their answer here is no state: a warning, no marker); off: none
    assert sorted(seen) == ([] if value == "false" else ["10.10.10.1", "10.10.11.1"])


HOSTILE_STDERR = "\x1b]0;owned\x07\x1b[2J\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\\b\r\u202eok"


def test_a_hosts_stderr_reaches_the_preview_warning_escaped(monkeypatch):
    """ssh's message carries the host's text (its banner, its shell's errors): the warning reaches the
    terminal, the engine's log and the pull-request comment, so no escape sequence in it may act."""
    warned = []

    def refused(target, command, access):
        raise RuntimeError(HOSTILE_STDERR)

    monkeypatch.setattr(components.drift, "run_ssh", refused)
    monkeypatch.setattr(components.drift.pulumi.log, "warn", lambda message, *a, **k: warned.append(message))
    m.run_stack("sites", config={"wgsites:driftCheck": "true"})
    assert len(warned) == 2, warned
    for message in warned:
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c == "\u202e" for c in message), repr(message)
        assert "\\x1b]0;owned\\x07\\x1b[2J\\x1b]8;;https://evil.example/" in message and "\\u202eok" in message
