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
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

SETTINGS = "/etc/wgsites/sync.env"


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
    """Whether the manifest's signature over its hash is the stack's (the key is in this VM's user data)."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    try:
        VerifyKey(base64.b64decode(public_key)).verify(meta["sha256"].encode(), base64.b64decode(meta["signature"]))
    except (BadSignatureError, KeyError, ValueError, TypeError):
        return False
    return True


def fetch(ssm, prefix: str, kept: str | None, public_key: str) -> str | None:
    """The bundle text SSM holds now, or None when it is the kept one, is not signed by the stack, or does not
    assemble (mid-update)."""
    meta = json.loads(ssm.get_parameter(Name=f"{prefix}/bundle")["Parameter"]["Value"])
    if kept is not None and sha256(kept) == meta["sha256"]:
        return None
    if not signed(meta, public_key):
        print("wgsites-bootstrap: the bundle is not signed by this stack's key; keeping the last one", file=sys.stderr)
        return None
    names = [f"{prefix}/bundle/{i:04d}" for i in range(meta["chunks"])]
    values = {}
    for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
        answer = ssm.get_parameters(Names=names[start : start + 10])
        values.update({p["Name"]: p["Value"] for p in answer["Parameters"]})
    if len(values) != len(names):
        return None
    text = "".join(values[name] for name in names)[: meta["length"]]
    if sha256(text) != meta["sha256"]:
        print("wgsites-bootstrap: the bundle is being rewritten; next period", file=sys.stderr)
        return None
    return text


def main() -> int:
    load_settings()
    state = os.environ.get("WGSITES_STATE_DIR", "/var/lib/wgsites")
    bundle_path, agent_path = f"{state}/bundle.json", f"{state}/agent.py"
    kept = read(bundle_path)
    try:
        import boto3  # Ubuntu's python3-boto3

        # endpoint_url: None on AWS; set only where the SSM API is elsewhere (the lab)
        ssm = boto3.client("ssm", region_name=os.environ["WGSITES_REGION"], endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SSM"))
        new = fetch(ssm, os.environ["WGSITES_PARAMETERS"], kept, os.environ["WGSITES_BUNDLE_KEY"])
    except Exception as exc:  # no network at boot, SSM throttling: the kept bundle still applies
        print(f"wgsites-bootstrap: cannot read the bundle from SSM ({type(exc).__name__}); using the kept one", file=sys.stderr)
        new = None
    if new is not None:
        write_private(bundle_path, new)
        kept = new
    if kept is None:
        print("wgsites-bootstrap: no bundle yet", file=sys.stderr)
        return 1
    agent = json.loads(kept)["agent"]
    if read(agent_path) != agent:
        write_private(agent_path, agent)
    return subprocess.run([sys.executable, agent_path, bundle_path]).returncode


if __name__ == "__main__":
    sys.exit(main())
