"""The gateway's sync agent and the preshared keys: decrypted only when the signed bundle's hash of them
moved, applied only when they assemble to it, forgotten when the bundle names none; never printed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import types

from tests.unit.test_sync_agent import HUB_PRIVATE, NAMED, PREFIX, SCRIPT, Ssm, agent  # noqa: F401 - a fixture
from wgsites.rendering.bundle import chunk_count, chunks
from wgsites.rendering.ssm_format import CHUNK_CHARS
from wgsites.stack.keys import generate_private_key, public_key_of

PAIRS = [(public_key_of(generate_private_key()), generate_private_key()) for _ in range(60)]  # two 4 KB parts
TEXT = "# gateway: preshared keys\n" + "".join(f"{p} {k}\n" for p, k in PAIRS) + "# end of the wgsites preshared keys\n"


class SecureSsm(Ssm):
    def get_parameters(self, Names: list[str], WithDecryption: bool = False):  # noqa: N803 - boto3's names
        self.calls.extend((n, WithDecryption) for n in Names)
        return {"Parameters": [{"Name": n, "Value": self.values[n][0]} for n in Names if n in self.values]}


def put_keys(ssm: Ssm, text: str) -> None:
    for i, part in enumerate(chunks(text, chunk_count(text))):
        ssm.values[f"{PREFIX}/preshared-keys/{i:04d}"] = [part, 1]


def sync(agent, ssm: Ssm, psk: dict | None) -> int:  # noqa: F811
    bundle = agent.tmp / "bundle.json"
    fields = {"agent": "-", "config": NAMED, "format": 1, "install": SCRIPT, "sync_seconds": 30, "status_chunks": 2}
    if psk is not None:
        fields["preshared_keys"] = psk
    bundle.write_text(json.dumps(fields))
    sys.modules["boto3"] = types.SimpleNamespace(client=lambda *a, **k: ssm)
    try:
        return agent.main(str(bundle))
    finally:
        del sys.modules["boto3"]


def recording(agent, monkeypatch) -> list[tuple[str, str | None]]:  # noqa: F811
    """The agent's install-script calls for preshared keys: (action, stdin)."""
    calls: list[tuple[str, str | None]] = []
    inner = agent.subprocess.run

    def run(argv, input=None, **kwargs):  # noqa: A002
        if argv[-1] in ("preshared-keys", "forget-preshared-keys"):
            calls.append((argv[-1], input))
            return subprocess.CompletedProcess(argv, 0, "", "")
        return inner(argv, input=input, **kwargs)

    monkeypatch.setattr(agent.subprocess, "run", run)
    return calls


def test_applied_once_per_hash_refused_when_tampered_forgotten_when_gone(agent, monkeypatch, capsys):  # noqa: F811
    assert len(TEXT) > CHUNK_CHARS
    calls = recording(agent, monkeypatch)
    ssm = SecureSsm(HUB_PRIVATE)
    put_keys(ssm, TEXT)
    wanted = {"chunks": chunk_count(TEXT), "sha256": hashlib.sha256(TEXT.encode()).hexdigest()}
    assert sync(agent, ssm, wanted) == 0
    assert calls == [("preshared-keys", TEXT)]
    parts = [n for n, decrypt in ssm.calls if "/preshared-keys/" in n]
    assert len(parts) == 2 and all(decrypt for n, decrypt in ssm.calls if "/preshared-keys/" in n)
    # the same hash again: no decryption, no call
    before = len(ssm.calls)
    assert sync(agent, ssm, wanted) == 0
    assert calls == [("preshared-keys", TEXT)] and not [n for n, _ in ssm.calls[before:] if "/preshared-keys/" in n]
    # a rotation the bundle signs (a new hash), but an SSM writer put keys of their own: refused, the running stay
    rotated = TEXT.replace(PAIRS[0][1], generate_private_key())
    put_keys(ssm, TEXT.replace(PAIRS[0][1], generate_private_key()))
    signed = {"chunks": chunk_count(rotated), "sha256": hashlib.sha256(rotated.encode()).hexdigest()}
    assert sync(agent, ssm, signed) == 1
    assert len(calls) == 1
    # a bundle without them: forgotten, once
    assert sync(agent, ssm, None) == 0 and sync(agent, ssm, None) == 0
    assert calls[1:] == [("forget-preshared-keys", None)]
    printed = capsys.readouterr()
    assert not any(k in printed.out + printed.err for _, k in PAIRS)
    assert "do not match the signed bundle" in printed.err
