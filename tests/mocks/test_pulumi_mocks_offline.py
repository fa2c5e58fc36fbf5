"""The program under plain Pulumi mocks, as a user unit-tests a stack: nothing that could reach the network.

Each example stack with hosts managed over SSH runs with its own settings (the drift check on, its
default) under the smallest mocks a user writes: resources echo their inputs, every call answers
nothing. CPython's audit hook (tests/network_audit.py) sees every process this process starts and
every socket it connects, in every thread; an `ssh` first on PATH records any run of it. The drift
check's reads go through the engine as invokes, so the mocks answer them: no process, no connection,
and each host is a warning (not read), not an error.
"""

from __future__ import annotations

import json
import os
import runpy

import pulumi
import pulumi.runtime.settings
import pytest
import wgmocks as m

from tests.network_audit import watching
from wgsites.stack.parse import parse_vpn

SSH_SHIM = """#!/bin/sh
printf '%s\\n' "$*" >>"$WGSITES_SSH_SHIM_LOG"
exit 255
"""


class PlainMocks(pulumi.runtime.Mocks):
    """What a user's unit test of a stack has: commands print a public key (what a host's key command
    prints), other resources echo their inputs, no function answers anything."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == m.REMOTE:
            outputs.update(stdout=m.ssh_host_public_key(args.name) + "\n", stderr="")
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.mark.parametrize("stack", ["router", "sites", "internal"])
def test_a_program_under_plain_mocks_starts_no_process_and_opens_no_connection(stack, tmp_path, monkeypatch):
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "ssh").write_text(SSH_SHIM)
    (shim / "ssh").chmod(0o755)
    log = tmp_path / "ssh-calls"
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("WGSITES_SSH_SHIM_LOG", str(log))
    config = {**m.stack_config(stack), m.KEY_SEED: m.TEST_SEED}
    assert "wgsites:driftCheck" not in config  # the stack's default: on
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))

    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(PlainMocks(), project="wgsites", stack=stack, preview=False)
    values = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    pulumi.runtime.set_all_config(values, [m.KEY_SEED])

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(m.MAIN), run_name="__main__")

    with watching() as events:
        program()

    assert not log.exists(), log.read_text()
    assert events == [], events
    ssh_nodes = [n for n in parse_vpn(config["wgsites:vpn"]).nodes if n.delivery == "ssh"]
    assert len(warnings) == len(ssh_nodes) and all("could not be read (command:local:run gave no answer" in w for w in warnings)
