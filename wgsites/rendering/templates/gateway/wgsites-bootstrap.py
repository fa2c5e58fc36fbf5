#!/usr/bin/python3
"""wgsites-bootstrap: fetch this gateway's bundle from SSM, check it, run the agent it carries.

The one piece of wgsites in the VM's user data, so it stays as it is for the VM's life:
everything that changes (config, install script, rules, the agent, its period) is in the
bundle. Run by the wgsites-sync timer. Each period it reads the manifest; when its hash
differs from the bundle kept here, it reads the chunks, and keeps the new bundle only if
they assemble to that hash (a bundle read while Pulumi rewrites it waits for the next
period) and are signed by the stack (WGSITES_BUNDLE_KEY: the bundle is code that runs as
root here, and writing SSM parameters must not be enough to run code). Then it runs the
kept bundle's agent, also when SSM cannot be reached (a boot without network still brings
the tunnel up from the last bundle).

Bundles only move forward: the stack signs the whole manifest (its stack, interface, chunk
count, length, hash and a serial that only grows), and this keeps the highest serial it applied
(STATE/bundle-state.json, root's alone) and refuses any manifest at or below it, so none of the
older versions SSM keeps, each once signed, can be put back (a removed peer, an old agent).
Whatever a manifest says, a period costs at most 16 SSM calls: a chunk count past the most any
stack's bundle can take is refused before anything is fetched. A refusal is logged and kept in
that state file, for the agent to publish (`wgsites status` shows it).
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

SETTINGS = "/etc/wgsites/sync.env"
# as wgsites/bundle.py: CHUNK_CHARS, MAX_BUNDLE_CHUNKS (IAM lets the role read no more), MANIFEST_FORMAT, SIGNED_PREFIX
CHUNK_CHARS = 4000
MAX_BUNDLE_CHUNKS = 142
MANIFEST_FORMAT = 2
SIGNED_PREFIX = "wgsites-bundle-manifest\n"
REASONS = {
    "malformed": "the bundle manifest is not one wgsites writes",
    "oversized": f"the bundle manifest names more than {MAX_BUNDLE_CHUNKS} chunks",
    "unsigned": "the bundle is not signed by this stack's key",
    "foreign": "the bundle is signed for another stack or interface",
    "replay": "the bundle's serial is not above the one applied (an older bundle put back)",
}


def load_settings() -> None:
    """KEY=VALUE lines; the process environment wins (WGSITES_SYNC_SETTINGS names another file)."""
    with open(os.environ.get("WGSITES_SYNC_SETTINGS", SETTINGS), encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                os.environ.setdefault(key.strip(), value.strip())


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_private(path: str, text: str) -> None:
    """TEXT to PATH, 0600, renamed into place: never half-written, never through a symlink."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".wgsites-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def signed(meta: dict, public_key: str) -> bool:
    """Whether the manifest's signature over all its other fields is the stack's (the key is in this VM's user data)."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    claims = {key: value for key, value in meta.items() if key != "signature"}
    message = SIGNED_PREFIX + json.dumps(claims, sort_keys=True, separators=(",", ":"))
    try:
        VerifyKey(base64.b64decode(public_key)).verify(message.encode(), base64.b64decode(meta["signature"]))
    except (BadSignatureError, KeyError, ValueError, TypeError):
        return False
    return True


class Refused(Exception):
    """A manifest this gateway must not apply: Refused(reason, serial), the reason one of REASONS' keys."""


def whole(value, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def no_constant(text: str):
    raise ValueError(f"{text} is no number a manifest holds")


def checked(text: str) -> dict:
    """The manifest's fields, each of its type and within bounds, before anything is fetched for it."""
    try:  # NaN, Infinity and fractions refused; an integer of more than 4,300 digits is a ValueError already
        meta = json.loads(text, parse_constant=no_constant, parse_float=no_constant)
    except (ValueError, RecursionError):
        raise Refused("malformed", None) from None
    if not isinstance(meta, dict):
        raise Refused("malformed", None)
    serial = meta.get("serial") if whole(meta.get("serial"), 1, 2**63 - 1) else None
    if type(meta.get("chunks")) is int and meta["chunks"] > MAX_BUNDLE_CHUNKS:
        raise Refused("oversized", serial)
    strings = ("sha256", "signature", "stack", "interface")
    if not (
        meta.get("format") == MANIFEST_FORMAT
        and whole(meta.get("chunks"), 1, MAX_BUNDLE_CHUNKS)
        and whole(meta.get("length"), 0, meta["chunks"] * CHUNK_CHARS)
        and serial is not None
        and all(isinstance(meta.get(key), str) and len(meta[key]) <= 200 for key in strings)
    ):
        raise Refused("malformed", serial)
    return meta


def fetch(ssm, prefix: str, kept: str | None, applied: int, public_key: str) -> tuple[str, int] | None:
    """The bundle text SSM holds now and its serial, or None when it is the kept one or does not assemble
    (mid-update); Refused when it must not be applied."""
    meta = checked(ssm.get_parameter(Name=f"{prefix}/bundle")["Parameter"]["Value"])
    if kept is not None and sha256(kept) == meta["sha256"] and meta["serial"] == applied:
        return None  # the running bundle, read again
    if not signed(meta, public_key):
        raise Refused("unsigned", meta["serial"])
    if f"/wgsites/{meta['stack']}/{meta['interface']}" != prefix:
        raise Refused("foreign", meta["serial"])
    if meta["serial"] <= applied:
        raise Refused("replay", meta["serial"])
    names = [f"{prefix}/bundle/{i:04d}" for i in range(meta["chunks"])]
    values = {}
    for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
        answer = ssm.get_parameters(Names=names[start : start + 10])
        values.update({p["Name"]: p["Value"] for p in answer["Parameters"] if p.get("Name") in names})
    if len(values) != len(names):
        return None
    text = "".join(values[name] for name in names)[: meta["length"]]
    if sha256(text) != meta["sha256"]:
        print("wgsites-bootstrap: the bundle is being rewritten; next period", file=sys.stderr)
        return None
    return text, meta["serial"]


def refuse(state_path: str, state: dict, reason: str, serial: int | None) -> None:
    """Log the refusal, and keep it in the state file for the agent to publish (from its first time until a
    newer bundle is applied)."""
    applied = state.get("serial", 0)
    offered = f" (serial {serial})" if serial is not None else ""
    print(f"wgsites-bootstrap: refused{offered}: {REASONS[reason]}; kept the applied bundle (serial {applied})", file=sys.stderr)
    last = state.get("refused") or {}
    if (last.get("reason"), last.get("serial")) != (reason, serial):
        state["refused"] = {"reason": reason, "serial": serial, "time": int(time.time())}
        write_private(state_path, json.dumps(state, sort_keys=True))


def load_state(path: str) -> dict:
    try:
        state = json.loads(read(path) or "{}")
    except ValueError:
        state = {}
    return state if isinstance(state, dict) and type(state.get("serial", 0)) is int else {}


def main() -> int:
    load_settings()
    state = os.environ.get("WGSITES_STATE_DIR", "/var/lib/wgsites")
    bundle_path, agent_path, state_path = f"{state}/bundle.json", f"{state}/agent.py", f"{state}/bundle-state.json"
    kept = read(bundle_path)
    applied = load_state(state_path) if kept is not None else {}
    new = None
    try:
        import boto3  # Ubuntu's python3-boto3

        # endpoint_url: None on AWS; set only where the SSM API is elsewhere (the lab)
        ssm = boto3.client("ssm", region_name=os.environ["WGSITES_REGION"], endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SSM"))
        new = fetch(ssm, os.environ["WGSITES_PARAMETERS"], kept, applied.get("serial", 0), os.environ["WGSITES_BUNDLE_KEY"])
    except Refused as refusal:
        refuse(state_path, applied, *refusal.args)
    except Exception as exc:  # no network at boot, SSM throttling: the kept bundle still applies
        print(f"wgsites-bootstrap: cannot read the bundle from SSM ({type(exc).__name__}); using the kept one", file=sys.stderr)
    if new is not None:
        text, serial = new
        write_private(bundle_path, text)  # the bundle first: a state naming a bundle not kept would refuse it
        write_private(state_path, json.dumps({"serial": serial, "sha256": sha256(text)}, sort_keys=True))
        kept = text
    if kept is None:
        print("wgsites-bootstrap: no bundle yet", file=sys.stderr)
        return 1
    agent = json.loads(kept)["agent"]
    if read(agent_path) != agent:
        write_private(agent_path, agent)
    return subprocess.run([sys.executable, agent_path, bundle_path]).returncode


if __name__ == "__main__":
    sys.exit(main())
