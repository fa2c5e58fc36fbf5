"""An aws gateway's own view of its tunnels: published to SSM by its agent, read by `status`.

The gateway has no SSH port, so `status` cannot ask it; its agent (wgsites-sync: rendering/gateway_programs.py)
publishes what `wg show IFACE dump` says instead, on each sync: per peer its name, public key,
endpoint, latest handshake, bytes and AllowedIPs, never a key of the interface. The document
is JSON, zlib-compressed and base64-encoded, cut into chunks of at most 4,000 characters,
each a Standard-tier String parameter (4 KB each, free), plus a manifest naming the chunk
count, the text's SHA-256 and when it was published, written last (the bundle's scheme,
the other way round). A public key does not compress, so one peer costs 90 to 100
characters: about 35 peers per chunk, 1,000 peers 23 chunks (bench/hub_status_size.py).
It names where each device connects from (its public address): whoever may read the
account's parameters sees that, as the gateway does.

Pulumi owns every status parameter (created with a placeholder, their values ignored on
later ups, so the agent and `pulumi up` never fight; `pulumi destroy` removes them all),
as many chunk slots as the stack's largest possible document needs; the gateway's role may
write the manifest and what lies under its path, nothing else. Why SSM and not CloudWatch:
`status` and the agent already speak SSM, Standard parameters and their calls cost nothing,
and the lab's SSM stand-in runs the agent for real; the price is a write per chunk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import time
import zlib
from collections.abc import Callable
from typing import Any

from wgsites.rendering.bundle import GatewayParameters
from wgsites.rendering.ssm_format import CHUNK_CHARS, HEARTBEAT_SECONDS
from wgsites.rendering.status_slots import LAST_SECOND, REFUSALS
from wgsites.stack.addressing import AddressPlan
from wgsites.stack.model import Vpn
from wgsites.stack.names import NAME_RE

from .status_row import StatusRow

# WireGuard's REJECT_AFTER_TIME: a session whose handshake is older is unusable. A live tunnel with
# keepalive re-handshakes every 120 s (REKEY_AFTER_TIME), so an older handshake means no tunnel.
REJECT_AFTER_SECONDS = 180


class HubStatusError(Exception):
    """The hub's status cannot be read or is too old; the message says why and what to do."""


def stale_after(vpn: Vpn) -> int:
    """No handshake for this long: stale. The published view lags the interface by up to one sync period."""
    return REJECT_AFTER_SECONDS + vpn.hub.aws.sync_seconds


MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # far above 1,000 peers (210 KB): a larger one is no status
MAX_STATUS_CHUNKS = math.ceil(4 * math.ceil(MAX_DOCUMENT_BYTES / 3) / CHUNK_CHARS)  # when the caller knows no stack
_ENDPOINT_RE = re.compile(r"[0-9A-Fa-f.:\[\]%]{1,64}")
_KEY_RE = re.compile(r"[A-Za-z0-9+/]{43}=")
_U64 = 2**64 - 1


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is no number the agent writes")


def strict_json(text: str | bytes) -> Any:
    """JSON as the agent writes it: whole numbers only (NaN, Infinity, 1e400 and fractions are refused)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_no_constant)


# whatever a hostile value can raise on its way through json, int(), base64 and zlib
_BAD_VALUE = (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError, zlib.error)


def _whole(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def decode(
    manifest_text: str,
    chunk_value: Callable[[list[str]], dict[str, str]],
    parameters: GatewayParameters,
    max_chunks: int = MAX_STATUS_CHUNKS,
) -> dict:
    """The document the manifest names; CHUNK_VALUE(names) reads chunk parameters (at most 10 names a call).

    Any SSM writer can write these parameters: a count past MAX_CHUNKS (the slots Pulumi made) is refused
    before anything is read, so `status` makes at most MAX_CHUNKS / 10 calls whatever the manifest says."""
    unreadable = f"{parameters.status} holds no wgsites status manifest; run `pulumi up` to reset it"
    try:
        meta = strict_json(manifest_text)
        count = meta["chunks"]
    except _BAD_VALUE:
        raise HubStatusError(unreadable) from None
    if not _whole(count, 0, max_chunks):
        raise HubStatusError(
            f"{parameters.status} names {str(count)[:20] if type(count) is int else 'no number of'} chunks, not 0 to "
            f"the {max_chunks} Pulumi made: not what the "
            "gateway writes (someone else wrote it); run `pulumi up --refresh` to reset it"
        )
    if count == 0:
        raise HubStatusError(
            f"the gateway has not published its status yet ({parameters.status} holds Pulumi's placeholder): it does "
            "on its first sync after boot; if this lasts, check that the instance runs (EC2 console, system log)"
        )
    heartbeat = meta.get("heartbeat", HEARTBEAT_SECONDS)
    if not _whole(heartbeat, 1, 86400) or not isinstance(meta.get("sha256"), str):
        raise HubStatusError(unreadable)
    names = [parameters.status_chunk(i) for i in range(count)]
    values: dict[str, str] = {}
    for start in range(0, count, 10):
        values.update(chunk_value(names[start : start + 10]))
    blob = "".join(value if isinstance(value := values.get(name, ""), str) else "" for name in names)
    if hashlib.sha256(blob.encode()).hexdigest() != meta["sha256"]:
        raise _Rewritten()
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(base64.b64decode(blob), MAX_DOCUMENT_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError("larger than any status")
        document = checked_document(strict_json(text))
    except _BAD_VALUE as exc:
        detail = f" ({exc})" if isinstance(exc, BadDocument) else ""
        raise HubStatusError(
            f"{parameters.status}: its chunks hold no status document{detail}; run `pulumi up` to reset them"
        ) from None
    document["heartbeat"] = heartbeat
    return document


class BadDocument(ValueError):
    """A published document that fails its own checks; the message names which (fixed text, never the value)."""


def checked_document(document: Any) -> dict:
    """The fields `diagnose` shows, with their types and bounds: whatever the parameters hold (any SSM writer can
    write them), what reaches the terminal is numbers, names as the stack writes them, keys and an address."""
    if not isinstance(document, dict) or not isinstance(document.get("peers"), list):
        raise BadDocument("no list of peers")
    peers = []
    for peer in document["peers"]:
        endpoint = peer["endpoint"]
        if endpoint is not None and not (isinstance(endpoint, str) and _ENDPOINT_RE.fullmatch(endpoint)):
            raise BadDocument("an endpoint that is no address")
        numbers = {key: peer[key] for key in ("latest_handshake", "rx", "tx")}
        if not all(_whole(value, 0, _U64) for value in numbers.values()):
            raise BadDocument("a peer's handshake or byte count that is no 64-bit count")
        name, key = peer["name"], peer.get("public_key")
        if not (isinstance(name, str) and (name == "?" or NAME_RE.fullmatch(name))):
            raise BadDocument("a peer name wgsites does not write")
        if not (isinstance(key, str) and _KEY_RE.fullmatch(key)):
            raise BadDocument("a peer key that is no WireGuard key")
        peers.append({"name": name, "public_key": key, "endpoint": endpoint, **numbers})
    if not _whole(document.get("time"), 0, _U64):
        raise BadDocument("no time")
    return {"time": document["time"], "peers": peers, "bundle": checked_bundle_state(document.get("bundle", {}))}


def checked_bundle_state(state: Any) -> dict:
    """The serial the gateway applied and its last refusal, as the agent publishes them (absent from older agents)."""
    if not isinstance(state, dict):
        raise BadDocument("a bundle state that is no object")
    serial = state.get("serial")
    if serial is not None and not _whole(serial, 0, _U64):
        raise BadDocument("a bundle serial that is no whole number")
    refused = state.get("refused")
    if refused is None:
        return {"serial": serial, "refused": None}
    if not (
        isinstance(refused, dict)
        and refused.get("reason") in REFUSALS
        and (refused.get("serial") is None or _whole(refused.get("serial"), 0, _U64))
        and _whole(refused.get("time"), 0, LAST_SECOND)
    ):
        raise BadDocument("a bundle refusal wgsites does not write")
    return {"serial": serial, "refused": {key: refused.get(key) for key in ("reason", "serial", "time")}}


class _Rewritten(Exception):
    """The chunks do not match the manifest: the agent is writing a new status."""


def read_document(
    ssm, parameters: GatewayParameters, max_chunks: int = MAX_STATUS_CHUNKS, attempts: int = 3, pause: float = 1.0
) -> dict:
    """The gateway's latest status document, through a boto3 SSM client; HubStatusError naming the fix.
    MAX_CHUNKS: the status slots Pulumi made for this stack (status_slots)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    def chunk_value(names: list[str]) -> dict[str, str]:
        return {p["Name"]: p["Value"] for p in ssm.get_parameters(Names=names)["Parameters"]}

    try:
        for _ in range(attempts):
            manifest_text = ssm.get_parameter(Name=parameters.status)["Parameter"]["Value"]
            try:
                return decode(manifest_text, chunk_value, parameters, max_chunks)
            except _Rewritten:
                time.sleep(pause)
    except NoCredentialsError:
        raise HubStatusError(
            f"no AWS credentials to read {parameters.status} (region {parameters.region}): give them as for any AWS "
            "tool (AWS_PROFILE, `aws sso login`, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ParameterNotFound":
            raise HubStatusError(
                f"{parameters.status} does not exist in {parameters.region}: run `pulumi up` (it creates the status "
                "parameters), or check aws:region in the stack file"
            ) from None
        if code in ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"):
            raise HubStatusError(
                f"AWS refused to read {parameters.status} ({code}): your credentials need ssm:GetParameter and "
                f"ssm:GetParameters on arn:aws:ssm:{parameters.region}:*:parameter{parameters.prefix}/status*"
            ) from None
        raise HubStatusError(f"reading {parameters.status} failed: {code or exc}") from None
    except BotoCoreError as exc:  # no network, a wrong endpoint
        raise HubStatusError(f"cannot reach SSM in {parameters.region} to read {parameters.status}: {exc}") from None
    raise HubStatusError(f"{parameters.status}: the gateway kept rewriting its status while it was read; try again")


CLOCK_SKEW_SECONDS = 300  # a published time this far ahead of the reader's clock is no clock's error


def refusal_rows(hub: str, bundle: dict) -> list[StatusRow]:
    """The bootstrap's last refusal of a bundle, as an `unknown` row: whoever can write the gateway's parameters
    tried to make it run something the stack did not sign, or no longer signs."""
    refused = bundle.get("refused")
    if not refused:
        return []
    offered = f" serial {refused['serial']}" if refused.get("serial") is not None else ""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(refused["time"]))
    detail = (
        f"the gateway refused{offered} at {when}: {REFUSALS[refused['reason']]}; it keeps running the bundle it "
        f"applied (serial {bundle.get('serial')}). Someone with write access to its SSM parameters wrote them: "
        "find who (CloudTrail, PutParameter), then `pulumi up --refresh` writes the stack's own back; this row goes "
        "when the gateway applies the stack's next bundle"
    )
    return [StatusRow(hub, "-", "unknown", detail)]


def diagnose(vpn: Vpn, document: dict, threshold: int, now: float | None = None) -> list[StatusRow]:
    """Rows for every peer the stack says the hub has, from the hub's published view."""
    now = time.time() if now is None else now
    hub = vpn.hub
    published = int(document["time"])
    age = int(now - published)
    limit = int(document.get("heartbeat", HEARTBEAT_SECONDS)) + 2 * hub.aws.sync_seconds + 30
    if age > limit:
        return [
            StatusRow(
                hub.name,
                "-",
                "old",
                f"the gateway last published its status {age} s ago (it does at least every "
                f"{document.get('heartbeat', HEARTBEAT_SECONDS)} s): its sync agent stopped; check that the instance "
                "runs and its system log (wgsites-sync)",
            )
        ]
    if age < -CLOCK_SKEW_SECONDS:
        return [
            StatusRow(
                hub.name,
                "-",
                "unknown",
                f"the gateway's status says it was published {-age} s from now: not what its agent writes (a clock "
                "that far off, or someone else wrote it); check the instance's clock and who wrote the parameters",
            )
        ]
    by_name = {peer["name"]: peer for peer in document["peers"]}
    rows = refusal_rows(hub.name, document.get("bundle") or {})
    plan = AddressPlan(vpn).plan(hub.name).peers
    stack_names = {entry.name for entry in plan}
    for peer in document["peers"]:  # what the gateway runs that the stack lacks: an old bundle, a hand-made peer
        if peer["name"] not in stack_names:
            rows.append(
                StatusRow(
                    hub.name,
                    peer["name"],
                    "drift",
                    f"{hub.name} runs a peer the stack does not have (public key {peer['public_key']}): an older bundle "
                    "or a hand-made change; `pulumi up` takes it away, and until then that key can connect",
                    endpoint=peer["endpoint"],
                    rx=peer["rx"],
                    tx=peer["tx"],
                )
            )
    for entry in plan:
        peer = by_name.get(entry.name)
        if peer is None:
            rows.append(StatusRow(hub.name, entry.name, "missing", f"not on {hub.name}'s interface: run `pulumi up`"))
            continue
        facts = {"endpoint": peer["endpoint"], "rx": peer["rx"], "tx": peer["tx"]}
        if peer["latest_handshake"] == 0:
            detail = (
                f"{entry.name} never completed a handshake with {hub.name}: {entry.name} dials {hub.name} (UDP "
                f"{hub.listen_port}); check it is up, that UDP {hub.listen_port} reaches {hub.name}, and that its "
                f"config has {hub.name}'s current public key"
            )
            rows.append(StatusRow(hub.name, entry.name, "never", detail, **facts))
            continue
        handshake_age = int(now - peer["latest_handshake"])
        state = "ok" if handshake_age <= threshold else "stale"
        detail = (
            f"handshake {handshake_age} s ago from {peer['endpoint']}, {peer['rx']} B in, {peer['tx']} B out "
            f"(hub's view {age} s old)"
        )
        if state == "stale":
            detail += f"; no handshake within {threshold} s: is {entry.name}'s tunnel up?"
        rows.append(StatusRow(hub.name, entry.name, state, detail, handshake_age=handshake_age, **facts))
    return rows
