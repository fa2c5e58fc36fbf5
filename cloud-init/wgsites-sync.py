#!/usr/bin/python3
"""wgsites-sync: the gateway's agent; applies the bundle the bootstrap fetched from SSM, in place.

It travels in the bundle (the bootstrap runs the bundle's own agent), so an upgrade of
wgsites upgrades it too, with the VM running on. Each period it makes the host match the
bundle: the install script in place, the timer's period, the private key (its SecureString
decrypted only when its version moved), and the config, handed to the install script,
which reloads the interface in place (`wg syncconf`) so other tunnels never drop. Nothing
the parameters hold is trusted: a key that is not one WireGuard key is refused here, the
install script refuses a config with any line wgsites does not write.

The preshared keys (when the bundle names them) are SecureString chunks of their own: read
with decryption only when the bundle's hash of them moved, applied (the install script's
`preshared-keys`, on stdin) only when they assemble to that hash, which the stack signed with
the rest of the bundle; a bundle without them makes the install script forget them.

Each period it also publishes the interface's view of its peers (`wg show IFACE dump`:
endpoint, latest handshake, bytes; never a key of the interface) to the status parameters
Pulumi made for it, for `wgsites status` (the gateway has no SSH port): the format is
wgsites/hub_status.py's. It writes only when the view changed (a handshake, an endpoint, a
peer) or HEARTBEAT_SECONDS passed, so an idle gateway costs a write every five minutes. The
status names the serial of the bundle applied and the bootstrap's last refusal of a manifest
(an older bundle put back, one not signed by the stack), as the bootstrap keeps them. And it has the install
script write the interface's Prometheus metrics, with its last sync and bundle serial, to node_exporter's
textfile folder when the stack names one (wgsites:vpn.metricsDir).

Each period it also makes the primary interface's IPv6 addresses follow what EC2 assigned, as the
instance metadata service (IMDSv2) tells: cloud-init configures only those assigned at first boot,
and `hub.ipv6Egress` turned on for a running gateway assigns one later (off unassigns it). It adds
a missing one (its subnet's prefix length, so the subnet's route comes with it; the default route
comes from the VPC router's advertisements, accept_ra 2 in the bundle's sysctl) and removes one
no longer assigned, only one it added itself. Every IMDS answer is hostile input: capped,
parsed strictly, bounded; a bad one is one logged refusal and changes nothing.
"""

import base64
import binascii
import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

SETTINGS = "/etc/wgsites/sync.env"
STATUS_FORMAT = 1
HEARTBEAT_SECONDS = 300
CHUNK_CHARS = 4000  # a Standard-tier parameter holds 4 KB
IMDS = "http://169.254.169.254"  # the instance metadata service (WGSITES_IMDS elsewhere: a test's stand-in)
IMDS_BYTES = 4096  # the most one answer may hold; a longer one is refused
IMDS_LINES = 16  # the most addresses or blocks one answer may list
IMDS_TIMEOUT = 2  # seconds per request: the service is on the host's own link
MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
TOKEN_RE = re.compile(r"[A-Za-z0-9+/=_-]{1,512}")


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


def public_key_of(private_key: str) -> str:
    from nacl.public import PrivateKey  # Ubuntu's python3-nacl, as the bootstrap's signature check

    return base64.b64encode(bytes(PrivateKey(base64.b64decode(private_key)).public_key)).decode()


def sync_key(ssm, iface: str, running: bool, public_key: str | None = None) -> bool:
    """The key file follows the SecureString, decrypted (a KMS call) only when its version moved, and only to the
    key whose public half the signed bundle names (PUBLIC_KEY): an older key put back is refused, the key kept."""
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
    if public_key is not None and public_key_of(key_value) != public_key:
        print(f"wgsites-sync: {name} holds another key than the signed bundle names; {iface} keeps its key", file=sys.stderr)
        return False
    key_text = key_value + "\n"
    if read(key_path) != key_text:
        write_private(key_path, key_text)
        if running:
            subprocess.run(["wg", "set", iface, "private-key", key_path], check=True)
        print(f"wgsites-sync: private key of {iface} updated", file=sys.stderr)
    write_private(version_path, version)
    return True


def sync_preshared_keys(ssm, bundle: dict, iface: str, install: str) -> bool:
    """The interface's preshared keys as the bundle says: fetched and applied when their hash moved, forgotten
    when the bundle names none. Keys that do not match the signed hash are refused (never shown)."""
    wanted = bundle.get("preshared_keys")
    state_path = f"{os.environ.get('WGSITES_STATE_DIR', '/var/lib/wgsites')}/{iface}/applied-preshared-keys"
    applied = read(state_path)
    if wanted is None:
        if applied is None:
            return True
        code = subprocess.run([install, "forget-preshared-keys"], stdout=subprocess.DEVNULL).returncode
        if code == 0:
            os.remove(state_path)
        return code == 0
    if applied == wanted["sha256"]:
        return True
    prefix = os.environ["WGSITES_PARAMETERS"]
    names = [f"{prefix}/preshared-keys/{i:04d}" for i in range(int(wanted["chunks"]))]
    values = {}
    for start in range(0, len(names), 10):  # GetParameters takes ten names a call
        answer = ssm.get_parameters(Names=names[start : start + 10], WithDecryption=True)
        values.update({p["Name"]: p["Value"] for p in answer["Parameters"]})
    if set(values) != set(names):
        print(f"wgsites-sync: preshared keys of {iface}: {len(names) - len(values)} part(s) missing; kept", file=sys.stderr)
        return False
    text = "".join(values[n] for n in names)
    if hashlib.sha256(text.encode()).hexdigest() != wanted["sha256"]:
        print(f"wgsites-sync: preshared keys of {iface} do not match the signed bundle; kept the running ones", file=sys.stderr)
        return False
    code = subprocess.run([install, "preshared-keys"], input=text, text=True, stdout=subprocess.DEVNULL).returncode
    if code == 0:
        write_private(state_path, wanted["sha256"])
        print(f"wgsites-sync: preshared keys of {iface} applied", file=sys.stderr)
    return code == 0


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


def peer_names(config: str) -> dict[str, str]:
    """public key -> node name, from the `# name` comment wgsites writes above each PublicKey."""
    names, last_comment = {}, None
    for line in config.splitlines():
        line = line.strip()
        if line.startswith("# "):
            last_comment = line[2:].strip()
        elif line.lower().startswith("publickey") and "=" in line and last_comment:
            names[line.split("=", 1)[1].strip()] = last_comment
        elif line.startswith("["):
            last_comment = None
    return names


def status_document(dump: str, config: str, now: int) -> dict:
    """What `wg show IFACE dump` says, without its secrets: the first line's private key and every preshared key
    are dropped here, never copied."""
    lines = dump.strip().splitlines()
    _private_key, public_key, listen_port, _fwmark = lines[0].split("\t")[:4]
    names = peer_names(config)
    peers = []
    for line in lines[1:]:
        key, _preshared, endpoint, allowed, handshake, rx, tx = line.split("\t")[:7]
        peers.append(
            {
                "allowed_ips": [] if allowed == "(none)" else allowed.split(","),
                "endpoint": None if endpoint == "(none)" else endpoint,
                "latest_handshake": int(handshake),
                "name": names.get(key, "?"),
                "public_key": key,
                "rx": int(rx),
                "tx": int(tx),
            }
        )
    iface = os.environ["WGSITES_INTERFACE"]
    peers.sort(key=lambda p: p["name"])
    return {
        "format": STATUS_FORMAT,
        "interface": iface,
        "listen_port": int(listen_port),
        "peers": peers,
        "public_key": public_key,
        "time": now,
    }


def status_chunks(document: dict) -> list[str]:
    """The document as compressed JSON in base64, cut into parameter-sized chunks."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    blob = base64.b64encode(zlib.compress(text.encode(), 9)).decode()
    return [blob[i : i + CHUNK_CHARS] for i in range(0, len(blob), CHUNK_CHARS)]


def bundle_state() -> dict:
    """What the bootstrap applied and refused (STATE/bundle-state.json): the serial, the last refusal if any."""
    try:
        state = json.loads(read(f"{os.environ.get('WGSITES_STATE_DIR', '/var/lib/wgsites')}/bundle-state.json") or "{}")
    except ValueError:
        return {}
    return {key: state[key] for key in ("serial", "refused") if isinstance(state, dict) and key in state}


def publish_status(ssm, bundle: dict, iface: str, now: int | None = None) -> None:
    """The interface's view to its status parameters, when it changed or every HEARTBEAT_SECONDS; a failure is
    one line in the log and never stops the sync."""
    now = int(time.time()) if now is None else now
    state_path = f"{os.environ.get('WGSITES_STATE_DIR', '/var/lib/wgsites')}/{iface}/status-published"
    try:
        prefix = os.environ["WGSITES_PARAMETERS"]
        dump = subprocess.run(["wg", "show", iface, "dump"], capture_output=True, text=True, check=True).stdout
        document = dict(status_document(dump, bundle["config"], now), bundle=bundle_state())
        view = dict(document, time=0, peers=[dict(p, rx=0, tx=0) for p in document["peers"]])
        view_hash = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
        last = json.loads(read(state_path) or "{}")
        if last.get("view") == view_hash and now - int(last.get("time", 0)) < HEARTBEAT_SECONDS:
            return
        chunks = status_chunks(document)
        slots = int(bundle["status_chunks"])
        if len(chunks) > slots:
            print(f"wgsites-sync: the status takes {len(chunks)} chunks, {slots} exist; not published", file=sys.stderr)
            return
        for index, chunk in enumerate(chunks):  # the chunks first, the manifest that names them last
            ssm.put_parameter(Name=f"{prefix}/status/{index:04d}", Value=chunk, Type="String", Overwrite=True)
        blob = "".join(chunks)
        digest = hashlib.sha256(blob.encode()).hexdigest()
        meta = {"chunks": len(chunks), "format": STATUS_FORMAT, "heartbeat": HEARTBEAT_SECONDS, "sha256": digest, "time": now}
        ssm.put_parameter(Name=f"{prefix}/status", Value=json.dumps(meta, sort_keys=True), Type="String", Overwrite=True)
        write_private(state_path, json.dumps({"time": now, "view": view_hash}))
    except Exception as exc:  # no permission yet, throttling, no interface: the tunnels matter more
        code = exc.response.get("Error", {}).get("Code") if isinstance(getattr(exc, "response", None), dict) else None
        print(f"wgsites-sync: status of {iface} not published ({code or type(exc).__name__})", file=sys.stderr)


def write_metrics(install: str, iface: str, synced: bool, now: int | None = None) -> None:
    """The install script's `metrics` action (nothing unless the stack names node_exporter's textfile folder),
    told when a sync last ended without error and the serial of the bundle applied; never fails the sync."""
    now = int(time.time()) if now is None else now
    path = f"{os.environ.get('WGSITES_STATE_DIR', '/var/lib/wgsites')}/{iface}/last-sync"
    try:
        if synced:
            write_private(path, str(now))
        serial = bundle_state().get("serial")
        env = {
            **os.environ,
            "WGSITES_GATEWAY_LAST_SYNC": (read(path) or "").strip(),
            "WGSITES_GATEWAY_BUNDLE_SERIAL": str(serial) if type(serial) is int else "",
        }
        subprocess.run([install, "metrics"], env=env, stdout=subprocess.DEVNULL, check=True)
    except Exception as exc:  # the tunnels matter more
        print(f"wgsites-sync: metrics of {iface} not written ({type(exc).__name__})", file=sys.stderr)


class ImdsRefused(Exception):
    """An IMDS answer the agent does not act on: unreachable, an error, too long, or not what IMDS says."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # IMDS never redirects: a redirect is an error, never followed
        return None


IMDS_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)  # never through a proxy


def imds_request(path: str, token: str | None = None) -> str | None:
    """One IMDSv2 request (the token's PUT without TOKEN): its text, None for 404 (IMDS's "no such key")."""
    base = os.environ.get("WGSITES_IMDS", IMDS)
    if token is None:
        request = urllib.request.Request(base + path, method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    else:
        request = urllib.request.Request(base + path, headers={"X-aws-ec2-metadata-token": token})
    try:
        with IMDS_OPENER.open(request, timeout=IMDS_TIMEOUT) as answer:
            body = answer.read(IMDS_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and token is not None:
            return None
        raise ImdsRefused(f"{path}: HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:  # unreachable, timed out, a broken answer
        raise ImdsRefused(f"{path}: {type(exc).__name__}") from None
    if len(body) > IMDS_BYTES:
        raise ImdsRefused(f"{path}: more than {IMDS_BYTES} bytes")
    try:
        return body.decode("ascii")
    except UnicodeDecodeError:
        raise ImdsRefused(f"{path}: not ASCII") from None


def imds_lines(text: str | None, path: str) -> list[str]:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) > IMDS_LINES:
        raise ImdsRefused(f"{path}: {len(lines)} lines, at most {IMDS_LINES}")
    return lines


def assigned_ipv6() -> tuple[str, set[ipaddress.IPv6Interface]]:
    """The primary interface's MAC and the IPv6 addresses EC2 assigned it, each with its subnet's prefix length."""
    token = (imds_request("/latest/api/token") or "").strip()
    if not TOKEN_RE.fullmatch(token):
        raise ImdsRefused("/latest/api/token: not a token")
    mac = (imds_request("/latest/meta-data/mac", token) or "").strip().lower()
    if not MAC_RE.fullmatch(mac):
        raise ImdsRefused(f"/latest/meta-data/mac: not a MAC address ({mac[:40]!r})")
    base = f"/latest/meta-data/network/interfaces/macs/{mac}"
    try:
        addresses = [ipaddress.IPv6Address(a) for a in imds_lines(imds_request(f"{base}/ipv6s", token), "ipv6s")]
        if not addresses:
            return mac, set()
        blocks = imds_lines(imds_request(f"{base}/subnet-ipv6-cidr-blocks", token), "subnet-ipv6-cidr-blocks")
        networks = [ipaddress.IPv6Network(b, strict=True) for b in blocks]
    except ValueError as exc:
        raise ImdsRefused(f"{base}: {exc}") from None
    wanted = set()
    for address in addresses:
        if address.is_link_local or address.is_multicast or address.is_loopback or address.is_unspecified or address.ipv4_mapped:
            raise ImdsRefused(f"{base}/ipv6s: {address} is no unicast address for the uplink")
        network = next((n for n in networks if address in n), None)
        if network is None or network.prefixlen < 32:
            raise ImdsRefused(f"{base}/ipv6s: {address} lies in no subnet block /32 or longer")
        wanted.add(ipaddress.IPv6Interface(f"{address}/{network.prefixlen}"))
    return mac, wanted


def interface_with_mac(mac: str) -> str | None:
    net = os.environ.get("WGSITES_SYS_NET", "/sys/class/net")
    for name in sorted(os.listdir(net)):
        if (read(f"{net}/{name}/address") or "").strip().lower() == mac:
            return name
    return None


def global_ipv6(uplink: str) -> dict[ipaddress.IPv6Address, ipaddress.IPv6Interface]:
    """The uplink's global IPv6 addresses, by address."""
    out = subprocess.run(["ip", "-j", "-6", "address", "show", "dev", uplink, "scope", "global"], capture_output=True, text=True)
    found = json.loads(out.stdout or "[]") if out.returncode == 0 else []
    return {
        ipaddress.IPv6Address(a["local"]): ipaddress.IPv6Interface(f"{a['local']}/{a['prefixlen']}")
        for link in found
        for a in link.get("addr_info", [])
        if "local" in a  # `ip -j` lists an address the scope filter left out as {}
    }


def sync_uplink_ipv6(iface: str) -> None:
    """The primary interface's IPv6 addresses as EC2 assigned them: a missing one added, one the agent added and
    EC2 no longer assigns removed. A refused IMDS answer changes nothing (logged once, not every period)."""
    state_dir = f"{os.environ.get('WGSITES_STATE_DIR', '/var/lib/wgsites')}/{iface}"
    added_path, refused_path = f"{state_dir}/uplink-ipv6-added", f"{state_dir}/uplink-ipv6-refused"
    try:
        mac, wanted = assigned_ipv6()
        uplink = interface_with_mac(mac)
        if uplink is None:
            raise ImdsRefused(f"no interface here has the primary interface's MAC {mac}")
    except ImdsRefused as exc:
        message = f"wgsites-sync: the uplink's IPv6 addresses kept: IMDS answer refused ({exc})"
        if read(refused_path) != message:
            write_private(refused_path, message)
            print(message, file=sys.stderr)
        return
    if read(refused_path) is not None:
        os.remove(refused_path)
    try:
        added = json.loads(read(added_path) or "{}")
        ours = {ipaddress.IPv6Interface(a) for a in added.get("addresses", [])} if added.get("uplink") == uplink else set()
    except (ValueError, AttributeError, TypeError):
        ours = set()
    present = global_ipv6(uplink)
    for address in sorted(wanted):
        if address.ip not in present:
            if subprocess.run(["ip", "-6", "address", "add", str(address), "dev", uplink]).returncode == 0:
                ours.add(address)
                print(f"wgsites-sync: {address} (assigned by EC2) added to {uplink}", file=sys.stderr)
    wanted_ips = {a.ip for a in wanted}
    for address in sorted(ours):
        if address.ip in wanted_ips:
            continue
        there = present.get(address.ip)
        if there is not None and subprocess.run(["ip", "-6", "address", "del", str(there), "dev", uplink]).returncode != 0:
            continue
        ours.discard(address)
        print(f"wgsites-sync: {address} (no longer assigned by EC2) removed from {uplink}", file=sys.stderr)
    text = json.dumps({"addresses": sorted(str(a) for a in ours), "uplink": uplink}, sort_keys=True)
    if ours or read(added_path) is not None:
        write_private(added_path, text)


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
    if not sync_key(ssm, iface, running, bundle.get("public_key")):
        write_metrics(install, iface, False)
        return 1
    config = bundle["config"]
    same = read(f"{os.environ.get('WGSITES_WG_DIR', '/etc/wireguard')}/{iface}.conf") == config
    # a new bundle may carry new rules for the same config (they live in the install script)
    code = 0
    if not (running and same and read(applied_path) == digest):
        code = subprocess.run([install, "install"], input=config, text=True, stdout=subprocess.DEVNULL).returncode
        if code == 0:
            write_private(applied_path, digest)
            print(f"wgsites-sync: applied the bundle to {iface}", file=sys.stderr)
    if code == 0 and not sync_preshared_keys(ssm, bundle, iface, install):  # after the install: it owns the interface
        code = 1
    try:
        sync_uplink_ipv6(iface)
    except Exception as exc:  # never fails the sync nor stops the status: the tunnels matter more
        print(f"wgsites-sync: the uplink's IPv6 addresses not synced ({type(exc).__name__}: {exc})", file=sys.stderr)
    if subprocess.run(["ip", "link", "show", "dev", iface], capture_output=True).returncode == 0:
        publish_status(ssm, bundle, iface)
    write_metrics(install, iface, code == 0)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
