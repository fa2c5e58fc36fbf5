"""`wgsites status` on a stack with an aws hub: the gateway's view read from SSM (moto in process).

The parameters are made as the Pulumi layer makes them (a placeholder manifest, chunk slots),
the view is written by the gateway's own agent code (wgsites/rendering/templates/gateway/wgsites-sync.py.j2) from a
`wg show` dump, and `status` runs through its command line entry, as a user runs it. Each
way it can fail says what to do, never with a traceback. The lab runs the same against a
real gateway (tests/lab/test_status_aws_hub.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
import zlib

import boto3
import pytest
from moto import mock_aws

from tests.gateway_programs import agent_module
from tests.stacks import stack_file
from wgsites.operations import cli
from wgsites.operations.gateway_status import HubStatusError, decode
from wgsites.rendering.bundle import gateway_parameters
from wgsites.rendering.status_slots import PLACEHOLDER_CHUNK, PLACEHOLDER_MANIFEST, status_slots
from wgsites.stack.check import load_stack_file
from wgsites.stack.keys import generate_private_key, public_key_of

STACK = str(stack_file("travel"))  # hub `gateway` (gateway0), one peer: `laptop`
PARAMETERS = gateway_parameters("travel", "gateway0", "eu-central-1")
LAPTOP = public_key_of(generate_private_key())


@pytest.fixture
def aws(monkeypatch):
    credentials = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "eu-central-1"}
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM", raising=False)
    with mock_aws():
        yield boto3.client("ssm", region_name="eu-central-1")


def made_by_pulumi(ssm) -> None:
    """What components/aws_gateway.py creates: the manifest and every chunk slot, with placeholders."""
    ssm.put_parameter(Name=PARAMETERS.status, Value=PLACEHOLDER_MANIFEST, Type="String")
    for i in range(status_slots(load_stack_file(STACK))):
        ssm.put_parameter(Name=PARAMETERS.status_chunk(i), Value=PLACEHOLDER_CHUNK, Type="String")


def published(ssm, monkeypatch, tmp_path, handshake: int, now: int | None = None) -> None:
    """The gateway's agent publishes a dump in which the laptop's latest handshake is HANDSHAKE."""
    for name, value in {
        "WGSITES_INTERFACE": "gateway0",
        "WGSITES_PARAMETERS": PARAMETERS.prefix,
        "WGSITES_STATE_DIR": str(tmp_path / "state"),
    }.items():
        monkeypatch.setenv(name, value)
    agent = agent_module("wgsites_sync_status")
    hub = generate_private_key()
    laptop = f"{LAPTOP}\t(none)\t198.51.100.7:40001\t10.90.90.1/32\t{handshake}\t2048\t4096\t25"
    dump = f"{hub}\t{public_key_of(hub)}\t51000\toff\n{laptop}\n"
    monkeypatch.setattr(agent.subprocess, "run", lambda argv, **kw: subprocess.CompletedProcess(argv, 0, dump, ""))
    config = f"[Interface]\n[Peer]\n# laptop\nPublicKey = {LAPTOP}\n"
    agent.publish_status(ssm, {"config": config, "status_chunks": status_slots(load_stack_file(STACK))}, "gateway0", now)


def status(capsys, *extra: str) -> tuple[int, str]:
    code = cli.main(["status", STACK, *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.out


def test_a_fresh_handshake_is_ok_and_json_names_every_fact(aws, monkeypatch, tmp_path, capsys):
    made_by_pulumi(aws)
    published(aws, monkeypatch, tmp_path, handshake=int(time.time()) - 5)
    code, out = status(capsys)
    assert code == 0, out
    assert out.splitlines()[1].split()[:3] == ["gateway", "laptop", "ok"]
    assert "from 198.51.100.7:40001, 2048 B in, 4096 B out" in out
    code, out = status(capsys, "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["node"] == "gateway" and row["peer"] == "laptop" and row["state"] == "ok"
    assert 5 <= row["handshake_age"] <= 15 and row["endpoint"] == "198.51.100.7:40001"
    assert (row["rx"], row["tx"]) == (2048, 4096)


def test_an_old_handshake_is_stale_and_exits_1(aws, monkeypatch, tmp_path, capsys):
    made_by_pulumi(aws)
    published(aws, monkeypatch, tmp_path, handshake=int(time.time()) - 215)
    code, out = status(capsys)  # the default: 180 s + the stack's sync period (30 s)
    assert code == 1 and "laptop" in out and " stale " in out
    assert "no handshake within 210 s: is laptop's tunnel up?" in out
    assert status(capsys, "--stale-after", "300")[0] == 0


def test_never_published_and_missing_parameters_say_what_to_do(aws, capsys):
    code, out = status(capsys)
    assert code == 1 and " unknown " in out
    assert "/wgsites/travel/gateway0/status does not exist in eu-central-1: run `pulumi up`" in out
    made_by_pulumi(aws)
    code, out = status(capsys)
    assert code == 1 and "the gateway has not published its status yet" in out


def test_a_status_the_agent_stopped_publishing_is_old(aws, monkeypatch, tmp_path, capsys):
    made_by_pulumi(aws)
    long_ago = int(time.time()) - 1000
    published(aws, monkeypatch, tmp_path, handshake=long_ago - 5, now=long_ago)
    code, out = status(capsys)
    assert code == 1 and " old " in out
    ago = re.search(
        r"the gateway last published its status (\d+) s ago \(it does at least every 300 s\): its sync agent stopped", out
    )
    assert ago and 1000 <= int(ago.group(1)) <= int(time.time()) - long_ago, out  # a second may tick while it runs


def test_no_credentials_is_a_clear_row(monkeypatch, tmp_path, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://192.0.2.1:9")  # never reached: no credentials, no request
    code, out = status(capsys)
    assert code == 1
    assert "no AWS credentials to read /wgsites/travel/gateway0/status (region eu-central-1)" in out


def test_a_bad_threshold_is_refused_by_name(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["status", STACK, "--stale-after", "soon"])
    assert caught.value.code == 2
    assert "--stale-after: 'soon' is no number of seconds; give a whole number above 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    "peer",
    [
        {"endpoint": "\x1b]0;owned\x07198.51.100.7:1", "latest_handshake": 1, "rx": 0, "tx": 0},  # a terminal escape
        {"endpoint": None, "latest_handshake": "soon", "rx": 0, "tx": 0},
        {"endpoint": None, "latest_handshake": 1, "rx": -1, "tx": 0},
    ],
)
def test_a_forged_status_is_refused_not_shown(aws, capsys, peer):
    """Whoever may write the status parameters (the gateway's role) cannot make `status` print what it likes."""
    made_by_pulumi(aws)
    document = {"time": int(time.time()), "peers": [{"name": "laptop", **peer}]}
    blob = base64.b64encode(zlib.compress(json.dumps(document).encode())).decode()
    aws.put_parameter(Name=PARAMETERS.status_chunk(0), Value=blob, Type="String", Overwrite=True)
    digest = hashlib.sha256(blob.encode()).hexdigest()
    manifest = {"chunks": 1, "format": 1, "heartbeat": 300, "sha256": digest, "time": document["time"]}
    aws.put_parameter(Name=PARAMETERS.status, Value=json.dumps(manifest), Type="String", Overwrite=True)
    code, out = status(capsys)
    assert code == 1 and "\x1b" not in out
    assert "/wgsites/travel/gateway0/status: its chunks hold no status document (" in out
    assert "); run `pulumi up` to reset them" in out


GATEWAY_KEY = public_key_of(generate_private_key())


def forge(ssm, document: dict | str, **manifest: object) -> None:
    """What an SSM writer can put in the status parameters: any document (or text), any manifest fields."""
    text = document if isinstance(document, str) else json.dumps(document)
    blob = base64.b64encode(zlib.compress(text.encode())).decode()
    ssm.put_parameter(Name=PARAMETERS.status_chunk(0), Value=blob, Type="String", Overwrite=True)
    fields = {"chunks": 1, "format": 1, "heartbeat": 300, "sha256": hashlib.sha256(blob.encode()).hexdigest()}
    fields.update(time=int(time.time()), **manifest)
    value = fields.pop("raw", None) or json.dumps(fields)
    ssm.put_parameter(Name=PARAMETERS.status, Value=value, Type="String", Overwrite=True)


def laptop_peer(**fields: object) -> dict:
    peer = {"name": "laptop", "public_key": LAPTOP, "endpoint": "198.51.100.7:1", "rx": 1, "tx": 1}
    return {**peer, "latest_handshake": int(time.time()) - 5, **fields}


def view(*peers: dict, **fields: object) -> dict:
    return {"format": 1, "time": int(time.time()), "peers": list(peers), "public_key": GATEWAY_KEY, **fields}


HOSTILE = {  # what a writer of the status parameters can put there, and what `status` says of it
    "manifest not JSON": ({}, {"raw": "{not json"}, "holds no wgsites status manifest"),
    "manifest heartbeat 1e400": ({}, {"raw": '{"chunks": 1, "heartbeat": 1e400, "sha256": "x", "time": 1}'}, "holds no"),
    "manifest chunks NaN": ({}, {"raw": '{"chunks": NaN, "sha256": "x"}'}, "holds no wgsites status manifest"),
    "manifest chunks 1e400": ({}, {"raw": '{"chunks": 1e400, "sha256": "x"}'}, "holds no wgsites status manifest"),
    "manifest chunks 5000000": ({}, {"chunks": 5000000}, "names 5000000 chunks, not 0 to the 1 Pulumi made"),
    "manifest chunks a text": ({}, {"chunks": "\x1b]0;x\x07"}, "names no number of chunks"),
    "document not JSON": ("{[", {}, "its chunks hold no status document"),
    "document time 1e400": ('{"time": 1e400, "peers": []}', {}, "its chunks hold no status document"),
    "handshake NaN": ('{"time": 1, "peers": [{"latest_handshake": NaN}]}', {}, "its chunks hold no status document"),
    "a 2**70 byte count": (view(laptop_peer(rx=2**70)), {}, "no 64-bit count"),
    "a peer name with an escape": (view(laptop_peer(name="laptop\x1b[2J")), {}, "a peer name wgsites does not write"),
    "a peer key that is no key": (view(laptop_peer(public_key="\x1b[2J")), {}, "a peer key that is no WireGuard key"),
    "a refusal of an unknown kind": (view(laptop_peer(), bundle={"refused": {"reason": "\x1b[2J"}}), {}, "a bundle refusal"),
    "published far in the future": (
        view(laptop_peer(), time=int(time.time()) + 10**6),
        {},
        "s from now: not what its agent writes",
    ),
    "nested a million deep": ("[" * 10**6, {}, "its chunks hold no status document"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_status_is_a_clean_unknown_row(aws, capsys, case):
    """Whatever the status parameters hold, `status` ends in an `unknown` row naming why and exits 1: no traceback,
    no loop, no escape reaches the terminal (the manifest's count is checked before any chunk is read)."""
    made_by_pulumi(aws)
    document, manifest, reason = HOSTILE[case]
    forge(aws, document, **manifest)
    code, out = status(capsys)
    assert code == 1 and "\x1b" not in out, out
    assert " unknown " in out and reason in out, out
    assert "laptop   ok" not in out


def test_a_huge_chunk_count_reads_no_chunk(aws):
    """5,000,000 chunks in the manifest: refused before any GetParameters call (before: 500,000 calls)."""
    calls = []

    def chunk_value(names):
        calls.append(names)
        return {}

    manifest = json.dumps({"chunks": 5_000_000, "format": 1, "heartbeat": 300, "sha256": "0" * 64, "time": 1})
    with pytest.raises(HubStatusError, match="names 5000000 chunks"):
        decode(manifest, chunk_value, PARAMETERS, status_slots(load_stack_file(STACK)))
    assert calls == []


def test_a_peer_the_stack_lacks_is_drift_naming_its_key(aws, capsys):
    """The gateway runs a peer the stack does not have (an older bundle put back, a hand-made `wg set`): a drift row."""
    made_by_pulumi(aws)
    phone = public_key_of(generate_private_key())
    forge(aws, view(laptop_peer(), laptop_peer(name="phone", public_key=phone)))
    code, out = status(capsys)
    assert code == 1, out
    rows = [line.split()[:3] for line in out.splitlines()[1:]]
    assert ["gateway", "laptop", "ok"] in rows and ["gateway", "phone", "drift"] in rows
    assert f"gateway runs a peer the stack does not have (public key {phone})" in out


def test_a_refused_replay_reported_by_the_gateway_is_named(aws, capsys):
    made_by_pulumi(aws)
    refused = {"reason": "replay", "serial": 1764547200, "time": 1764633600}
    forge(aws, view(laptop_peer(), bundle={"serial": 1764600000, "refused": refused}))
    code, out = status(capsys)
    assert code == 1, out
    assert "gateway  -       unknown  the gateway refused serial 1764547200 at 2025-12-02 00:00:00 UTC: an older " in out
    assert "bundle put back (its serial is not above the one applied); it keeps running the bundle it applied " in out
    assert "(serial 1764600000)" in out
    code, out = status(capsys, "--json")
    assert {row["state"] for row in json.loads(out)} == {"ok", "unknown"}
