"""The gateway's agent has the install script write its metrics each sync (the gateway agent's write_metrics):
told when a sync last ended well and the bundle serial the bootstrap applied; a failing sync keeps the last good
time (what the WgsitesGatewaySyncStale alert watches). The script's own writing is tests/lab/test_metrics_textfile.py."""

from __future__ import annotations

import json

from tests.unit.test_sync_agent import KEY_NAME, Ssm, agent, sync  # noqa: F401 - agent: the fixture
from wgsites.stack.keys import generate_private_key


def metrics_runs(agent, monkeypatch) -> list[dict[str, str]]:  # noqa: F811 - the fixture
    """The environment of each `install metrics` the agent runs."""
    runs: list[dict[str, str]] = []
    run = agent.subprocess.run

    def recording(argv, *args, **kwargs):
        if argv[-1] == "metrics":
            runs.append(kwargs["env"])
        return run(argv, *args, **kwargs)

    monkeypatch.setattr(agent.subprocess, "run", recording)
    return runs


def test_each_sync_writes_the_metrics_with_its_last_good_sync_and_serial(agent, monkeypatch):  # noqa: F811
    runs = metrics_runs(agent, monkeypatch)
    (agent.tmp / "state").mkdir(exist_ok=True)
    (agent.tmp / "state" / "bundle-state.json").write_text(json.dumps({"serial": 42}))
    ssm = Ssm(generate_private_key())
    monkeypatch.setattr(agent.time, "time", lambda: 1_800_000_000)
    assert sync(agent, ssm, "[Interface]\n# config 1\n", metrics=True) == 0
    assert runs[-1]["WGSITES_GATEWAY_LAST_SYNC"] == "1800000000"
    assert runs[-1]["WGSITES_GATEWAY_BUNDLE_SERIAL"] == "42"

    ssm.put(KEY_NAME, "not a key")  # the next sync fails: the last good one stays
    monkeypatch.setattr(agent.time, "time", lambda: 1_800_000_060)
    assert sync(agent, ssm, "[Interface]\n# config 1\n", metrics=True) == 1
    assert len(runs) == 2 and runs[-1]["WGSITES_GATEWAY_LAST_SYNC"] == "1800000000"


def test_a_failing_metrics_write_never_fails_the_sync(agent, monkeypatch, capsys):  # noqa: F811
    run = agent.subprocess.run

    def failing(argv, *args, **kwargs):
        if argv[-1] == "metrics":
            raise agent.subprocess.CalledProcessError(1, argv)
        return run(argv, *args, **kwargs)

    monkeypatch.setattr(agent.subprocess, "run", failing)
    assert sync(agent, Ssm(generate_private_key()), "[Interface]\n# config 1\n", metrics=True) == 0
    assert "wgsites-sync: metrics of wg0 not written (CalledProcessError)" in capsys.readouterr().err


def test_a_stack_without_metrics_runs_no_metrics_action(agent, monkeypatch):  # noqa: F811
    """No textfile folder in the stack: a sync, good or failing, starts no `install metrics` (a shell reading the whole
    script, every period, to do nothing)."""
    runs = metrics_runs(agent, monkeypatch)
    ssm = Ssm(generate_private_key())
    assert sync(agent, ssm, "[Interface]\n# config 1\n") == 0
    ssm.put(KEY_NAME, "not a key")
    assert sync(agent, ssm, "[Interface]\n# config 1\n") == 1
    assert runs == []
    assert not (agent.tmp / "state" / "wg0" / "last-sync").exists()
