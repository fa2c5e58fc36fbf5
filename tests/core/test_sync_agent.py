"""The gateway's sync agent (cloud-init/wgsites-sync.py) against a recording SSM stand-in.

It decrypts the key's SecureString (a KMS call, billed) only when the parameter's version
moved, refuses a value that is no key, and hands a changed config to the install script.
The lab runs the same agent against moto's SSM for real (tests/lab/test_tampered_ssm.py).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest

from wgsites.keys import generate_private_key

AGENT = Path(__file__).resolve().parents[2] / "cloud-init" / "wgsites-sync.py"
KEY_NAME, CONFIG_NAME = "/wgsites/travel/wg0/private-key", "/wgsites/travel/wg0/config"


class Ssm:
    """get_parameter as SSM answers it; every call is recorded."""

    def __init__(self, key: str, config: str):
        self.values = {KEY_NAME: [key, 1], CONFIG_NAME: [config, 1]}
        self.calls: list[tuple[str, bool]] = []

    def get_parameter(self, Name: str, WithDecryption: bool = False):  # noqa: N803 - boto3's names
        self.calls.append((Name, WithDecryption))
        value, version = self.values[Name]
        shown = value if WithDecryption or Name == CONFIG_NAME else "AQICAH...encrypted..."
        return {"Parameter": {"Name": Name, "Value": shown, "Version": version}}

    def put(self, name: str, value: str) -> None:
        self.values[name] = [value, self.values[name][1] + 1]

    def decrypts(self) -> int:
        return sum(1 for name, decrypt in self.calls if decrypt)


@pytest.fixture
def agent(tmp_path, monkeypatch):
    """The agent loaded as a module, its paths in TMP, `ip` saying the interface is up, installs recorded."""
    settings = tmp_path / "sync.env"
    settings.write_text(
        f"WGSITES_INTERFACE=wg0\nWGSITES_REGION=eu-central-1\nWGSITES_CONFIG_PARAMETER={CONFIG_NAME}\n"
        f"WGSITES_KEY_PARAMETER={KEY_NAME}\nWGSITES_INSTALL=/usr/local/sbin/wgsites-install-wg0\n"
        f"WGSITES_WG_DIR={tmp_path / 'wireguard'}\nWGSITES_STATE_DIR={tmp_path / 'state'}\n"
    )
    for name in ("WGSITES_INTERFACE", "WGSITES_WG_DIR", "WGSITES_STATE_DIR", "AWS_ENDPOINT_URL_SSM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WGSITES_SYNC_SETTINGS", str(settings))
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


def sync(agent, ssm: Ssm) -> int:
    fake_boto3 = types.SimpleNamespace(client=lambda *a, **k: ssm)
    sys.modules["boto3"] = fake_boto3
    try:
        return agent.main()
    finally:
        del sys.modules["boto3"]


def test_the_key_is_decrypted_only_when_its_version_moved(agent):
    key = generate_private_key()
    ssm = Ssm(key, "[Interface]\n# config 1\n")
    assert sync(agent, ssm) == 0
    assert ssm.decrypts() == 1 and (agent.tmp / "wireguard" / "wg0.key").read_text() == key + "\n"
    assert agent.installs == ["[Interface]\n# config 1\n"]
    for _ in range(3):  # every period after: the version is read, nothing decrypted, nothing installed
        assert sync(agent, ssm) == 0
    assert ssm.decrypts() == 1 and len(agent.installs) == 1
    ssm.put(CONFIG_NAME, "[Interface]\n# config 2\n")  # a peer added: installed, key still not decrypted
    assert sync(agent, ssm) == 0
    assert ssm.decrypts() == 1 and agent.installs[-1] == "[Interface]\n# config 2\n"
    rotated = generate_private_key()
    ssm.put(KEY_NAME, rotated)  # a new key: decrypted once, written
    assert sync(agent, ssm) == 0 and sync(agent, ssm) == 0
    assert ssm.decrypts() == 2 and (agent.tmp / "wireguard" / "wg0.key").read_text() == rotated + "\n"


def test_a_value_that_is_no_key_is_refused_and_the_key_kept(agent, capsys):
    key = generate_private_key()
    ssm = Ssm(key, "[Interface]\n")
    assert sync(agent, ssm) == 0
    ssm.put(KEY_NAME, "not-a-key\nPostUp = id")
    assert sync(agent, ssm) == 1
    assert (agent.tmp / "wireguard" / "wg0.key").read_text() == key + "\n"
    err = capsys.readouterr().err
    assert "holds no WireGuard key; wg0 keeps its key" in err and "not-a-key" not in err
    assert sync(agent, ssm) == 1  # and again next period: refused until the parameter is fixed
