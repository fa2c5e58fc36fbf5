"""The gateway's sync agent (cloud-init/wgsites-sync.py) against a recording SSM stand-in.

It decrypts the key's SecureString (a KMS call, billed) only when the parameter's version
moved, refuses a value that is no key, and hands a changed config to the install script.
The lab runs the same agent against moto's SSM for real (tests/lab/test_tampered_ssm.py).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from wgsites.keys import generate_private_key

AGENT = Path(__file__).resolve().parents[2] / "cloud-init" / "wgsites-sync.py"
KEY_NAME = "/wgsites/travel/wg0/private-key"
SCRIPT = "#!/bin/bash\n# the install script, as the bundle carries it\n"


class Ssm:
    """get_parameter of the key's SecureString as SSM answers it; every call is recorded."""

    def __init__(self, key: str):
        self.values = {KEY_NAME: [key, 1]}
        self.calls: list[tuple[str, bool]] = []

    def get_parameter(self, Name: str, WithDecryption: bool = False):  # noqa: N803 - boto3's names
        self.calls.append((Name, WithDecryption))
        value, version = self.values[Name]
        shown = value if WithDecryption else "AQICAH...encrypted..."
        return {"Parameter": {"Name": Name, "Value": shown, "Version": version}}

    def put(self, name: str, value: str) -> None:
        self.values[name] = [value, self.values[name][1] + 1]

    def decrypts(self) -> int:
        return sum(1 for name, decrypt in self.calls if decrypt)


@pytest.fixture
def agent(tmp_path, monkeypatch):
    """The agent loaded as a module, its paths in TMP, `ip` saying the interface is up, installs recorded."""
    # every setting through monkeypatch (the agent's load_settings writes os.environ: nothing may leak)
    settings = {
        "WGSITES_INTERFACE": "wg0",
        "WGSITES_REGION": "eu-central-1",
        "WGSITES_KEY_PARAMETER": KEY_NAME,
        "WGSITES_INSTALL": str(tmp_path / "sbin" / "wgsites-install-wg0"),
        "WGSITES_WG_DIR": str(tmp_path / "wireguard"),
        "WGSITES_STATE_DIR": str(tmp_path / "state"),
        "WGSITES_UNIT_DIR": str(tmp_path / "units"),
        "WGSITES_SYNC_SETTINGS": "/dev/null",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM", raising=False)
    spec = importlib.util.spec_from_file_location("wgsites_sync", AGENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    installs: list[str] = []

    def run(argv, input=None, **kwargs):  # noqa: A002 - subprocess.run's name
        if argv[-1] == "install":
            installs.append(input)
            (tmp_path / "wireguard" / "wg0.conf").write_text(input)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(module.subprocess, "run", run)
    module.installs = installs
    module.tmp = tmp_path
    return module


def sync(agent, ssm: Ssm, config: str, seconds: int = 30) -> int:
    """One period: the bootstrap kept a bundle holding CONFIG, and runs the agent on it."""
    bundle = agent.tmp / "bundle.json"
    bundle.write_text(json.dumps({"agent": "-", "config": config, "format": 1, "install": SCRIPT, "sync_seconds": seconds}))
    sys.modules["boto3"] = types.SimpleNamespace(client=lambda *a, **k: ssm)
    try:
        return agent.main(str(bundle))
    finally:
        del sys.modules["boto3"]


def test_the_key_is_decrypted_only_when_its_version_moved(agent):
    key = generate_private_key()
    ssm = Ssm(key)
    assert sync(agent, ssm, "[Interface]\n# config 1\n") == 0
    assert ssm.decrypts() == 1 and (agent.tmp / "wireguard" / "wg0.key").read_text() == key + "\n"
    assert agent.installs == ["[Interface]\n# config 1\n"]
    for _ in range(3):  # every period after: the version is read, nothing decrypted, nothing installed
        assert sync(agent, ssm, "[Interface]\n# config 1\n") == 0
    assert ssm.decrypts() == 1 and len(agent.installs) == 1
    assert sync(agent, ssm, "[Interface]\n# config 2\n") == 0  # a peer added: installed, key still not decrypted
    assert ssm.decrypts() == 1 and agent.installs[-1] == "[Interface]\n# config 2\n"
    rotated = generate_private_key()
    ssm.put(KEY_NAME, rotated)  # a new key: decrypted once, written
    assert sync(agent, ssm, "[Interface]\n# config 2\n") == 0 and sync(agent, ssm, "[Interface]\n# config 2\n") == 0
    assert ssm.decrypts() == 2 and (agent.tmp / "wireguard" / "wg0.key").read_text() == rotated + "\n"


def test_the_bundle_sets_the_install_script_and_the_period(agent):
    """An upgrade of wgsites (a new script) and a new sync period arrive in the bundle, applied in place."""
    ssm = Ssm(generate_private_key())
    assert sync(agent, ssm, "[Interface]\n", seconds=45) == 0
    script = agent.tmp / "sbin" / "wgsites-install-wg0"
    assert script.read_text() == SCRIPT and script.stat().st_mode & 0o777 == 0o755
    period = (agent.tmp / "units" / "wgsites-sync.timer.d" / "period.conf").read_text()
    assert "OnUnitActiveSec=45s" in period
    assert sync(agent, ssm, "[Interface]\n", seconds=45) == 0 and len(agent.installs) == 1  # nothing new: nothing run


def test_a_value_that_is_no_key_is_refused_and_the_key_kept(agent, capsys):
    key = generate_private_key()
    ssm = Ssm(key)
    assert sync(agent, ssm, "[Interface]\n") == 0
    ssm.put(KEY_NAME, "not-a-key\nPostUp = id")
    assert sync(agent, ssm, "[Interface]\n") == 1
    assert (agent.tmp / "wireguard" / "wg0.key").read_text() == key + "\n"
    err = capsys.readouterr().err
    assert "holds no WireGuard key; wg0 keeps its key" in err and "not-a-key" not in err
    assert sync(agent, ssm, "[Interface]\n") == 1  # and again next period: refused until the parameter is fixed
