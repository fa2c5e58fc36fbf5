#!/usr/bin/python3
"""wgsites-sync: apply this gateway's WireGuard config and key from SSM Parameter Store.

Run by a systemd timer (at boot and every few seconds). It changes nothing when
the parameters did not change; otherwise it hands the new config to the wgsites
install script, which reloads the interface in place (`wg syncconf`), so other
tunnels never drop. The key is written to a 0600 file and never printed. What the
parameters hold is not trusted: a key that is not one WireGuard key is refused here,
and the install script refuses a config with any line wgsites does not write.
"""

import base64
import binascii
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


def main() -> int:
    load_settings()
    import boto3  # Ubuntu's python3-boto3

    iface = os.environ["WGSITES_INTERFACE"]
    # endpoint_url: None on AWS; set only where the SSM API is elsewhere (the lab). Passed
    # explicitly because older botocore ignores AWS_ENDPOINT_URL_SSM.
    ssm = boto3.client("ssm", region_name=os.environ["WGSITES_REGION"], endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SSM"))
    running = subprocess.run(["ip", "link", "show", "dev", iface], capture_output=True).returncode == 0
    if not sync_key(ssm, iface, running):
        return 1
    parameter = ssm.get_parameter(Name=os.environ["WGSITES_CONFIG_PARAMETER"])["Parameter"]
    config = parameter["Value"]
    if running and read(f"{os.environ.get('WGSITES_WG_DIR', '/etc/wireguard')}/{iface}.conf") == config:
        return 0
    result = subprocess.run([os.environ["WGSITES_INSTALL"], "install"], input=config, text=True, stdout=subprocess.DEVNULL)
    if result.returncode == 0:
        print(f"wgsites-sync: applied config version {parameter.get('Version', '?')}", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
