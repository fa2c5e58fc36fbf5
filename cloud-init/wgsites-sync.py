#!/usr/bin/python3
"""wgsites-sync: the gateway's agent; applies the bundle the bootstrap fetched from SSM, in place.

It travels in the bundle (the bootstrap runs the bundle's own agent), so an upgrade of
wgsites upgrades it too, with the VM running on. Each period it makes the host match the
bundle: the install script in place, the timer's period, the private key (its SecureString
decrypted only when its version moved), and the config, handed to the install script,
which reloads the interface in place (`wg syncconf`) so other tunnels never drop. Nothing
the parameters hold is trusted: a key that is not one WireGuard key is refused here, the
install script refuses a config with any line wgsites does not write.
"""

import base64
import binascii
import hashlib
import json
import os
import subprocess
import sys
import tempfile

SETTINGS = "/etc/wgsites/sync.env"


def load_settings(path: str = SETTINGS) -> None:
    """KEY=VALUE lines; the process environment wins, so a test can point elsewhere (WGSITES_SYNC_SETTINGS too)."""
    with open(os.environ.get("WGSITES_SYNC_SETTINGS", path), encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                os.environ.setdefault(key.strip(), value.strip())


def write_private(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".wgsites-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp creates it 0600
        handle.write(text)
    os.replace(tmp, path)


def is_key(text: str) -> bool:
    """A WireGuard key: 32 bytes in standard base64, one line. Anything else in the key parameter is refused."""
    try:
        return len(text) == 44 and len(base64.b64decode(text, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def sync_key(ssm, iface: str, running: bool) -> bool:
    """The key file follows the SecureString, decrypted (a KMS call) only when its version moved."""
    name = os.environ["WGSITES_KEY_PARAMETER"]
    wg_dir = os.environ.get("WGSITES_WG_DIR", "/etc/wireguard")
    key_path = f"{wg_dir}/{iface}.key"
    version_path = f"{os.environ.get('WGSITES_STATE_DIR', '/var/lib/wgsites')}/{iface}/key-version"
    version = str(ssm.get_parameter(Name=name, WithDecryption=False)["Parameter"]["Version"])  # no decryption
    if read(version_path) == version and read(key_path) is not None:
        return True
    key_value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"].strip()
    if not is_key(key_value):  # never shown: it may be a key with a typo
        print(f"wgsites-sync: {name} holds no WireGuard key; {iface} keeps its key", file=sys.stderr)
        return False
    key_text = key_value + "\n"
    if read(key_path) != key_text:
        write_private(key_path, key_text)
        if running:
            subprocess.run(["wg", "set", iface, "private-key", key_path], check=True)
        print(f"wgsites-sync: private key of {iface} updated", file=sys.stderr)
    write_private(version_path, version)
    return True


def install_script(bundle: dict, path: str) -> None:
    """The bundle's install script at PATH (what the agent runs, and what `reresolve` timers call)."""
    if read(path) != bundle["install"]:
        write_private(path, bundle["install"])
        os.chmod(path, 0o755)
        print(f"wgsites-sync: {path} updated", file=sys.stderr)


def sync_period(seconds: int) -> None:
    """The timer's period as the bundle says, in a drop-in; systemd reloads it (the lab's timer reads the file)."""
    unit_dir = os.environ.get("WGSITES_UNIT_DIR", "/etc/systemd/system")
    path = f"{unit_dir}/wgsites-sync.timer.d/period.conf"
    text = f"# written by wgsites-sync from the bundle\n[Timer]\nOnUnitActiveSec={seconds}s\n"
    if read(path) == text:
        return
    write_private(path, text)
    os.chmod(path, 0o644)
    if os.path.isdir("/run/systemd/system"):
        subprocess.run(["systemctl", "daemon-reload"], check=False)
        subprocess.run(["systemctl", "restart", "--no-block", "wgsites-sync.timer"], check=False)
    print(f"wgsites-sync: polling every {seconds} s", file=sys.stderr)


def main(bundle_path: str) -> int:
    load_settings()
    import boto3  # Ubuntu's python3-boto3

    text = read(bundle_path)
    bundle = json.loads(text)
    iface = os.environ["WGSITES_INTERFACE"]
    install = os.environ["WGSITES_INSTALL"]
    applied_path = f"{os.environ.get('WGSITES_STATE_DIR', '/var/lib/wgsites')}/{iface}/applied-bundle"
    digest = hashlib.sha256(text.encode()).hexdigest()
    install_script(bundle, install)
    sync_period(int(bundle["sync_seconds"]))
    # endpoint_url: None on AWS; set only where the SSM API is elsewhere (the lab). Passed
    # explicitly because older botocore ignores AWS_ENDPOINT_URL_SSM.
    ssm = boto3.client("ssm", region_name=os.environ["WGSITES_REGION"], endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SSM"))
    running = subprocess.run(["ip", "link", "show", "dev", iface], capture_output=True).returncode == 0
    if not sync_key(ssm, iface, running):
        return 1
    config = bundle["config"]
    same = read(f"{os.environ.get('WGSITES_WG_DIR', '/etc/wireguard')}/{iface}.conf") == config
    # a new bundle may carry new rules for the same config (they live in the install script)
    if running and same and read(applied_path) == digest:
        return 0
    result = subprocess.run([install, "install"], input=config, text=True, stdout=subprocess.DEVNULL)
    if result.returncode == 0:
        write_private(applied_path, digest)
        print(f"wgsites-sync: applied the bundle to {iface}", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
