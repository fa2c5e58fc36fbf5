"""The gateway's bootstrap (wgsites/rendering/templates/gateway/) against a recording SSM stand-in: bundles only move forward.

SSM keeps each parameter's last 100 versions, every one of them once signed by the stack: an
SSM writer without the seed can put any of them back. The stack signs the whole manifest (its
serial, stack, interface, chunk count and length with the hash), and the bootstrap keeps the
highest serial it applied, so an older bundle put back is refused and logged, and the refusal
kept for the agent to publish. A manifest naming millions of chunks is refused before anything
is fetched. The lab runs the same against moto's SSM and the real agent (tests/lab/test_bundle_replay.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest
from nacl.signing import SigningKey

from tests.gateway_programs import bootstrap_module
from wgsites.rendering import bundle as core
from wgsites.rendering import ssm_format
from wgsites.rendering.bundle import chunk_count, chunks, gateway_parameters, manifest, manifest_fields, parse_serial, signed_text
from wgsites.rendering.render import signed_manifest
from wgsites.rendering.status_slots import REFUSALS
from wgsites.stack.keys import sign_text, verify_key_text

PARAMETERS = gateway_parameters("travel", "wg0", "eu-central-1")
STACK_KEY = SigningKey(bytes(range(32)))


class Ssm:
    """GetParameter and GetParameters as SSM answers them; every call is recorded."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.calls: list[str] = []

    def get_parameter(self, Name: str, WithDecryption: bool = False):  # noqa: N803 - boto3's names
        self.calls.append("GetParameter")
        return {"Parameter": {"Name": Name, "Value": self.values[Name]}}

    def get_parameters(self, Names: list[str], WithDecryption: bool = False):  # noqa: N803
        self.calls.append("GetParameters")
        return {"Parameters": [{"Name": n, "Value": self.values[n]} for n in Names if n in self.values]}


def bundle_text(peers: list[str]) -> str:
    config = "[Interface]\n" + "".join(f"[Peer]\n# {p}\n" for p in peers)
    return json.dumps({"agent": f"# the agent of {', '.join(peers)}", "config": config, "format": 1})


def publish(ssm: Ssm, text: str, serial: int, stack: str = "travel", key: SigningKey = STACK_KEY) -> None:
    """What the Pulumi layer writes: the chunks, then the manifest signed at SERIAL."""
    count = chunk_count(text)
    for i, piece in enumerate(chunks(text, count)):
        ssm.values[PARAMETERS.chunk(i)] = piece
    ssm.values[PARAMETERS.manifest] = signed_manifest(text, count, serial, stack, "wg0", key)


@pytest.fixture
def bootstrap(tmp_path, monkeypatch):
    """The bootstrap as a module: its state in TMP, boto3 answering with a stand-in, the agent's run recorded."""
    for name, value in {
        "WGSITES_SYNC_SETTINGS": "/dev/null",
        "WGSITES_STATE_DIR": str(tmp_path / "state"),
        "WGSITES_REGION": "eu-central-1",
        "WGSITES_PARAMETERS": PARAMETERS.prefix,
        "WGSITES_BUNDLE_KEY": verify_key_text(STACK_KEY),
    }.items():
        monkeypatch.setenv(name, value)
    module = bootstrap_module("wgsites_bootstrap")
    module.ssm = Ssm()
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda *a, **k: module.ssm))
    monkeypatch.setattr(module.subprocess, "run", lambda argv, **kw: subprocess.CompletedProcess(argv, 0))
    module.state = tmp_path / "state"
    return module


def applied(bootstrap) -> tuple[str, dict]:
    """One period; the bundle kept and the state file after it."""
    bootstrap.main()
    state = json.loads((bootstrap.state / "bundle-state.json").read_text())
    return (bootstrap.state / "bundle.json").read_text(), state


def test_its_constants_and_signed_text_are_the_cores():
    """The bootstrap cannot import wgsites (it is the VM's user data): its copies must be the core's."""
    module = bootstrap_module("wgsites_bootstrap_constants")
    for name in ("CHUNK_CHARS", "MAX_BUNDLE_CHUNKS", "MANIFEST_FORMAT", "SIGNED_PREFIX"):
        assert getattr(module, name) == getattr(ssm_format, name), name
    assert set(module.REASONS) == set(REFUSALS)
    fields = manifest_fields("{}", 1, 7, "travel", "wg0")
    meta = json.loads(manifest(fields, sign_text(STACK_KEY, signed_text(fields))))
    assert module.signed(meta, verify_key_text(STACK_KEY))
    for changed in ({"serial": 8}, {"chunks": 2}, {"length": 3}, {"stack": "home"}, {"interface": "wg1"}):
        assert not module.signed({**meta, **changed}, verify_key_text(STACK_KEY)), changed


def test_an_older_bundle_put_back_is_refused_and_kept_for_the_agent(bootstrap, capsys):
    ssm = bootstrap.ssm
    v1, v2 = bundle_text(["laptop", "phone"]), bundle_text(["laptop"])
    publish(ssm, v1, serial=1_764_547_200)
    assert applied(bootstrap) == (v1, {"serial": 1_764_547_200, "sha256": core.digest(v1)})
    history = dict(ssm.values)  # what GetParameterHistory hands out
    publish(ssm, v2, serial=1_764_550_000)
    assert applied(bootstrap)[0] == v2
    ssm.values = dict(history)  # every parameter back at its v1 value
    ssm.calls.clear()
    kept, state = applied(bootstrap)
    assert kept == v2, "the removed phone is a peer again"
    assert state["serial"] == 1_764_550_000 and state["refused"]["reason"] == "replay"
    assert state["refused"]["serial"] == 1_764_547_200 and ssm.calls == ["GetParameter"]  # no chunk fetched
    assert "refused (serial 1764547200): the bundle's serial is not above the one applied" in capsys.readouterr().err
    # the refusal is kept (its first time) while it lasts, and gone once the stack's next bundle is applied
    first = state["refused"]["time"]
    assert applied(bootstrap)[1]["refused"]["time"] == first
    v3 = bundle_text(["laptop", "tablet"])
    publish(ssm, v3, serial=1_764_560_000)
    assert applied(bootstrap) == (v3, {"serial": 1_764_560_000, "sha256": core.digest(v3)})


def test_the_running_bundle_read_again_is_no_change(bootstrap, capsys):
    ssm = bootstrap.ssm
    publish(ssm, bundle_text(["laptop"]), serial=5)
    applied(bootstrap)
    ssm.calls.clear()
    kept, state = applied(bootstrap)
    assert ssm.calls == ["GetParameter"] and "refused" not in state and "refused" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "change",
    [
        {"serial": 99},  # a newer serial on an old signature
        {"chunks": 5_000},  # a count past the bound: refused before the signature is even checked
        {"stack": "home"},
    ],
)
def test_a_field_changed_outside_the_signature_is_refused(bootstrap, capsys, change):
    ssm = bootstrap.ssm
    good = bundle_text(["laptop"])
    publish(ssm, good, serial=5)
    applied(bootstrap)
    publish(ssm, bundle_text(["laptop", "phone"]), serial=6)
    meta = json.loads(ssm.values[PARAMETERS.manifest])
    ssm.values[PARAMETERS.manifest] = json.dumps({**meta, **change})
    ssm.calls.clear()
    kept, state = applied(bootstrap)
    assert kept == good and ssm.calls == ["GetParameter"]
    assert state["refused"]["reason"] == ("oversized" if "chunks" in change else "unsigned")


def test_a_bundle_signed_for_another_stack_is_refused(bootstrap):
    """A stack sharing the seed (or a copied stack) signs bundles for its own parameters: not this gateway's."""
    publish(bootstrap.ssm, bundle_text(["laptop"]), serial=5, stack="home")
    bootstrap.main()
    state = json.loads((bootstrap.state / "bundle-state.json").read_text())
    assert state["refused"]["reason"] == "foreign" and not (bootstrap.state / "bundle.json").exists()


@pytest.mark.parametrize(
    "value",
    [
        '{"chunks": 5000000, "format": 2, "length": 20000000000, "serial": 9, "sha256": "0", "signature": "x"}',
        '{"chunks": 1e400, "format": 2, "length": 1, "serial": 9}',
        '{"chunks": NaN, "format": 2, "serial": 9}',
        '{"chunks": 1, "format": 2, "length": 1, "serial": 1e400}',
        "[" * 100_000,
        "not json",
    ],
)
def test_a_hostile_manifest_costs_one_call_and_is_refused(bootstrap, capsys, value):
    """Whatever the manifest says, a period costs one GetParameter before it is refused (before: 500,000 calls
    and 514 MB for `chunks: 5000000`), and the tunnel's kept bundle goes on running."""
    ssm = bootstrap.ssm
    good = bundle_text(["laptop"])
    publish(ssm, good, serial=5)
    applied(bootstrap)
    ssm.values[PARAMETERS.manifest] = value
    ssm.calls.clear()
    kept, state = applied(bootstrap)
    assert kept == good and ssm.calls == ["GetParameter"]
    assert state["refused"]["reason"] in ("oversized", "malformed") and "Traceback" not in capsys.readouterr().err


def test_the_work_per_period_is_bounded_for_the_largest_bundle(bootstrap):
    """The largest manifest the bootstrap accepts: 142 chunks, 15 GetParameters calls, one GetParameter."""
    text = "x" * (ssm_format.MAX_BUNDLE_CHUNKS * ssm_format.CHUNK_CHARS)
    text = json.dumps({"agent": "-", "pad": text[: -len('{"agent": "-", "pad": ""}')]})
    assert chunk_count(text) == ssm_format.MAX_BUNDLE_CHUNKS
    publish(bootstrap.ssm, text, serial=5)
    assert applied(bootstrap)[0] == text
    assert bootstrap.ssm.calls == ["GetParameter"] + ["GetParameters"] * 15


def test_the_serial_commands_stdout_is_a_whole_number_and_mocks_get_one_no_gateway_applies(bootstrap):
    assert parse_serial("1764547200") == 1764547200
    for bad in ("", "12a", "-1", "1e9", "١٢", "9" * 21):
        with pytest.raises(ValueError, match="is no whole number; run `pulumi up` again"):
            parse_serial(bad)
    assert parse_serial(None) == 0  # Pulumi's mocks answer no stdout: a manifest at 0 ...
    publish(bootstrap.ssm, bundle_text(["laptop"]), serial=0)
    bootstrap.main()  # ... which the bootstrap refuses
    state = json.loads((bootstrap.state / "bundle-state.json").read_text())
    assert state["refused"]["reason"] == "malformed" and not (bootstrap.state / "bundle.json").exists()
