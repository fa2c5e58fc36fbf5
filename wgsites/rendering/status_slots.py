"""The SSM parameters Pulumi makes for an aws gateway's status: as many chunk slots as the stack's largest
status document needs, each created with a placeholder the gateway's agent overwrites (`status` reads them:
wgsites/operations/gateway_status.py).
"""

from __future__ import annotations

import json
import math
from typing import Any

from wgsites.stack.addressing import AddressPlan
from wgsites.stack.model import Vpn

from .ssm_format import CHUNK_CHARS, STATUS_FORMAT

PLACEHOLDER_MANIFEST = json.dumps({"chunks": 0, "format": STATUS_FORMAT}, sort_keys=True)  # what Pulumi creates
PLACEHOLDER_CHUNK = "-"  # SSM takes no empty value

# the longest a field of the dump can be: an IPv6 endpoint, a u64 counter
_WORST_ENDPOINT = "[" + ":".join(["ffff"] * 8) + "]:65535"
_WORST_NUMBER = 2**64 - 1
LAST_SECOND = 253402300799  # 9999-12-31 23:59:59 UTC, the last time `time.gmtime` shows everywhere

# what the bootstrap may report it refused (its REASONS), and what `status` says of each
REFUSALS = {
    "malformed": "a bundle manifest that is not one wgsites writes",
    "oversized": "a bundle manifest naming more chunks than any stack's bundle takes",
    "unsigned": "a bundle not signed by this stack's key",
    "foreign": "a bundle signed for another stack or interface",
    "replay": "an older bundle put back (its serial is not above the one applied)",
}


def worst_case_document(vpn: Vpn) -> dict[str, Any]:
    """The largest document this stack's gateway can publish: every field at its longest."""
    plan = AddressPlan(vpn).plan(vpn.hub.name)
    peers = [
        {
            "allowed_ips": [str(net) for net in entry.allowed_ips],
            "endpoint": _WORST_ENDPOINT,
            "latest_handshake": _WORST_NUMBER,
            "name": entry.name,
            "public_key": "A" * 44,
            "rx": _WORST_NUMBER,
            "tx": _WORST_NUMBER,
        }
        for entry in plan.peers
    ]
    return {
        "format": STATUS_FORMAT,
        "interface": vpn.hub.interface,
        "listen_port": 65535,
        "public_key": "A" * 44,
        "time": _WORST_NUMBER,
        "peers": peers,
        "bundle": {
            "serial": _WORST_NUMBER,
            "refused": {"reason": max(REFUSALS, key=len), "serial": _WORST_NUMBER, "time": LAST_SECOND},
        },
    }


def status_slots(vpn: Vpn) -> int:
    """How many chunk parameters the gateway's status can take: its worst case, as if nothing compressed
    (zlib's own bound on growth, then base64)."""
    raw = len(json.dumps(worst_case_document(vpn), sort_keys=True, separators=(",", ":")))
    compressed = raw + (raw >> 12) + (raw >> 14) + (raw >> 25) + 13  # zlib's compressBound
    return max(1, math.ceil(4 * math.ceil(compressed / 3) / CHUNK_CHARS))
