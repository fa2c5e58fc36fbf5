"""The gateway's sync agent (wgsites/rendering/templates/gateway/wgsites-sync.py.j2) against a recording SSM stand-in.

It decrypts the key's SecureString (a KMS call, billed) only when the parameter's version
moved, refuses a value that is no key, and hands a changed config to the install script.
It publishes the interface's view (`wg show IFACE dump`) without a key of the interface,
in the format `wgsites status` reads (wgsites/operations/gateway_status.py), only when it changed or a
heartbeat passed; a failure to publish never fails the sync.
The lab runs the same agent against moto's SSM for real (tests/lab/test_tampered_ssm.py).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import subprocess
import sys
import types

import pytest

from tests.gateway_programs import agent_module
from tests.stacks import stack_file
from wgsites.operations import gateway_status
from wgsites.rendering import status_slots
from wgsites.rendering.bundle import gateway_parameters
from wgsites.stack.check import load_stack_file
from wgsites.stack.keys import generate_private_key, public_key_of
from wgsites.stack.model import Spoke

PREFIX = "/wgsites/travel/wg0"
KEY_NAME = f"{PREFIX}/private-key"
SCRIPT = "#!/bin/bash\n# the install script, as the bundle carries it\n"
HUB_PRIVATE, PRESHARED = generate_private_key(), generate_private_key()
HUB, LAPTOP, PHONE = (public_key_of(generate_private_key()) for _ in range(3))
HANDSHAKE = 1_800_000_000
DUMP = (  # `wg show wg0 dump`: the interface's line first (its private key in front), then one line per peer
    f"{HUB_PRIVATE}\t{HUB}\t51000\toff\n"
    f"{LAPTOP}\t{PRESHARED}\t198.51.100.7:40001\t10.90.90.1/32\t{HANDSHAKE}\t1234\t5678\t25\n"
    f"{PHONE}\t(none)\t(none)\t10.90.90.3/32,10.90.91.0/24\t0\t0\t0\toff\n"
)
NAMED = f"[Interface]\n[Peer]\n# laptop\nPublicKey = {LAPTOP}\n\n[Peer]\n# phone\nPublicKey = {PHONE}\n"


class Ssm:
    """get_parameter of the key's SecureString as SSM answers it; every call is recorded."""

    def __init__(self, key: str):
        self.values = {KEY_NAME: [key, 1]}
        self.calls: list[tuple[str, bool]] = []
        self.puts: list[str] = []  # names, in the order written
        self.refuse: str | None = None  # an error code every put_parameter answers with

    def put_parameter(self, Name: str, Value: str, Type: str, Overwrite: bool):  # noqa: N803 - boto3's names
        if self.refuse:
            error = Exception(f"An error occurred ({self.refuse}) calling PutParameter on {Name}")
            error.response = {"Error": {"Code": self.refuse}}
            raise error
        assert Type == "String" and Overwrite
        self.puts.append(Name)
        self.values[Name] = [Value, self.values.get(Name, ["", 0])[1] + 1]

    def get_parameters(self, Names: list[str]):  # noqa: N803 - what `status` calls, through gateway_status.decode
        return {"Parameters": [{"Name": n, "Value": self.values[n][0]} for n in Names if n in self.values]}

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
        "WGSITES_PARAMETERS": PREFIX,
        "WGSITES_INSTALL": str(tmp_path / "sbin" / "wgsites-install-wg0"),
        "WGSITES_WG_DIR": str(tmp_path / "wireguard"),
        "WGSITES_STATE_DIR": str(tmp_path / "state"),
        "WGSITES_UNIT_DIR": str(tmp_path / "units"),
        "WGSITES_SYNC_SETTINGS": "/dev/null",
        "WGSITES_IMDS": "http://127.0.0.1:9",  # no instance metadata here (tests/unit/test_sync_agent_imds.py has it)
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM", raising=False)
    module = agent_module("wgsites_sync")
    installs: list[str] = []
    module.dump = DUMP

    def run(argv, input=None, **kwargs):  # noqa: A002 - subprocess.run's name
        if argv[-1] == "install":
            installs.append(input)
            (tmp_path / "wireguard" / "wg0.conf").write_text(input)
        if argv[:2] == ["wg", "show"]:
            return subprocess.CompletedProcess(argv, 0, module.dump, "")
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(module.subprocess, "run", run)
    module.installs = installs
    module.tmp = tmp_path
    return module


def sync(
    agent, ssm: Ssm, config: str, seconds: int = 30, slots: int = 2, public_key: str | None = None, metrics: bool = False
) -> int:
    """One period: the bootstrap kept a bundle holding CONFIG (and the hub's PUBLIC_KEY; METRICS: the stack names a
    textfile folder), and runs the agent on it."""
    bundle = agent.tmp / "bundle.json"
    fields = {"agent": "-", "config": config, "format": 1, "install": SCRIPT, "sync_seconds": seconds, "status_chunks": slots}
    fields.update({"public_key": public_key} if public_key else {})
    fields.update({"metrics": True} if metrics else {})
    bundle.write_text(json.dumps(fields))
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


def test_an_older_key_put_back_is_refused_by_the_public_key_the_bundle_names(agent, capsys):
    """SSM keeps the key's old versions too: the signed bundle names the hub's public key, and the agent takes from
    the SecureString only the private key that matches it (a rotated-away key put back is refused, the key kept)."""
    old, new = generate_private_key(), generate_private_key()
    ssm = Ssm(old)
    assert sync(agent, ssm, "[Interface]\n", public_key=public_key_of(old)) == 0
    ssm.put(KEY_NAME, new)  # rotated: the bundle names the new public key
    assert sync(agent, ssm, "[Interface]\n", public_key=public_key_of(new)) == 0
    assert (agent.tmp / "wireguard" / "wg0.key").read_text() == new + "\n"
    ssm.put(KEY_NAME, old)  # the old key put back
    assert sync(agent, ssm, "[Interface]\n", public_key=public_key_of(new)) == 1
    assert (agent.tmp / "wireguard" / "wg0.key").read_text() == new + "\n"
    err = capsys.readouterr().err
    assert "holds another key than the signed bundle names; wg0 keeps its key" in err and old not in err


def test_the_status_document_holds_no_key_of_the_interface(agent):
    document = agent.status_document(DUMP, NAMED, HANDSHAKE + 5)
    text = json.dumps(document)
    assert HUB_PRIVATE not in text and PRESHARED not in text  # the dump's first field, and a preshared key
    assert document["public_key"] == HUB and document["listen_port"] == 51000
    laptop, phone = document["peers"]
    assert laptop == {
        "allowed_ips": ["10.90.90.1/32"],
        "endpoint": "198.51.100.7:40001",
        "latest_handshake": HANDSHAKE,
        "name": "laptop",
        "public_key": LAPTOP,
        "rx": 1234,
        "tx": 5678,
    }
    assert phone["name"] == "phone" and phone["endpoint"] is None and phone["latest_handshake"] == 0
    assert phone["allowed_ips"] == ["10.90.90.3/32", "10.90.91.0/24"]


def test_status_is_published_when_the_view_changes_or_a_heartbeat_passed(agent, monkeypatch):
    ssm, now = Ssm(generate_private_key()), [HANDSHAKE + 5]
    monkeypatch.setattr(agent.time, "time", lambda: now[0])
    assert sync(agent, ssm, NAMED) == 0
    assert ssm.puts == [f"{PREFIX}/status/0000", f"{PREFIX}/status"]  # the chunk first, the manifest that names it last
    secrets = (HUB_PRIVATE, PRESHARED)
    assert not any(secret in ssm.values[name][0] for name in ssm.puts for secret in secrets)
    agent.dump = DUMP.replace("\t1234\t5678", "\t99999\t88888")  # only bytes moved: nothing written
    now[0] += 30
    assert sync(agent, ssm, NAMED) == 0 and len(ssm.puts) == 2
    agent.dump = DUMP.replace(str(HANDSHAKE), str(HANDSHAKE + 121))  # a new handshake: written
    now[0] += 100
    assert sync(agent, ssm, NAMED) == 0 and len(ssm.puts) == 4
    now[0] += agent.HEARTBEAT_SECONDS  # nothing changed for a heartbeat: written, so a reader sees the agent alive
    assert sync(agent, ssm, NAMED) == 0 and len(ssm.puts) == 6

    # what `wgsites status` reads back: the same view
    def chunk_value(names):
        return {p["Name"]: p["Value"] for p in ssm.get_parameters(Names=names)["Parameters"]}

    document = gateway_status.decode(ssm.values[f"{PREFIX}/status"][0], chunk_value, parameters())
    assert document["time"] == now[0] and document["heartbeat"] == agent.HEARTBEAT_SECONDS
    assert [(p["name"], p["latest_handshake"]) for p in document["peers"]] == [("laptop", HANDSHAKE + 121), ("phone", 0)]


def test_a_status_that_cannot_be_published_never_fails_the_sync(agent, capsys):
    ssm = Ssm(generate_private_key())
    ssm.refuse = "AccessDeniedException"  # e.g. a role policy not yet there
    assert sync(agent, ssm, NAMED) == 0 and len(agent.installs) == 1
    assert "wgsites-sync: status of wg0 not published (AccessDeniedException)" in capsys.readouterr().err
    ssm.refuse = None
    assert sync(agent, ssm, NAMED) == 0 and ssm.puts[-1] == f"{PREFIX}/status"  # next period: published
    assert sync(agent, ssm, NAMED, slots=0) == 0  # (the view is unchanged: not even tried)


def test_a_status_larger_than_its_parameters_is_not_published(agent, capsys):
    ssm = Ssm(generate_private_key())
    assert sync(agent, ssm, NAMED, slots=0) == 0 and ssm.puts == []
    assert "the status takes 1 chunks, 0 exist; not published" in capsys.readouterr().err


@pytest.mark.parametrize("stack", ["home", "travel"])
def test_the_largest_status_fits_the_parameters_pulumi_makes(agent, stack):
    """status_slots bounds the agent's encoding of the stack's worst case (every field at its longest), also at
    1,000 peers; the agent's chunks decode to the same document."""
    vpn = load_stack_file(stack_file(stack))
    worst = status_slots.worst_case_document(vpn)
    chunks = agent.status_chunks(worst)
    assert len(chunks) <= status_slots.status_slots(vpn) and all(len(c) <= 4000 for c in chunks)
    many = dataclasses.replace(vpn, spokes=tuple(many_peers(vpn, 1000)))
    assert len(agent.status_chunks(status_slots.worst_case_document(many))) <= status_slots.status_slots(many)


def parameters():
    return gateway_parameters("travel", "wg0", "eu-central-1")


def many_peers(vpn, count: int):
    """COUNT phones (addresses past the /24 are not checked here: only the size counts)."""
    base = int(vpn.network.network_address)
    return [Spoke(name=f"phone{i}", kind="peer", address=ipaddress.IPv4Address(base + 4 + i)) for i in range(count)]


def test_a_crash_syncing_the_uplinks_ipv6_never_fails_the_sync_nor_the_status(agent, monkeypatch, capsys):
    """The uplink's IPv6 (tests/unit/test_sync_agent_imds.py) comes after the tunnel's work: its failure is a line."""

    def crash(iface):
        raise KeyError("local")

    monkeypatch.setattr(agent, "sync_uplink_ipv6", crash)
    ssm = Ssm(HUB_PRIVATE)
    assert sync(agent, ssm, NAMED) == 0 and len(ssm.puts) == 2
    assert "the uplink's IPv6 addresses not synced (KeyError: 'local')" in capsys.readouterr().err
