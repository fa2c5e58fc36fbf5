"""`wgsites status` on a stack with an aws hub: the gateway's view read from SSM (moto in process).

The parameters are made as the Pulumi layer makes them (a placeholder manifest, chunk slots),
the view is written by the gateway's own agent code (cloud-init/wgsites-sync.py) from a
`wg show` dump, and `status` runs through its command line entry, as a user runs it. Each
way it can fail says what to do, never with a traceback. The lab runs the same against a
real gateway (tests/lab/test_status_aws_hub.py).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import subprocess
import time
import zlib
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.stacks import stack_file
from wgsites import cli
from wgsites.bundle import gateway_parameters
from wgsites.hub_status import PLACEHOLDER_CHUNK, PLACEHOLDER_MANIFEST, status_slots
from wgsites.keys import generate_private_key, public_key_of
from wgsites.stack import load_stack_file

AGENT = Path(__file__).resolve().parents[2] / "cloud-init" / "wgsites-sync.py"
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
    spec = importlib.util.spec_from_file_location("wgsites_sync_status", AGENT)
    agent = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(agent)
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
    assert "/wgsites/travel/gateway0/status: its chunks hold no status document; run `pulumi up` to reset them" in out
