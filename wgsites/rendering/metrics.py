"""Prometheus metrics of a stack's tunnels, in the text exposition format node_exporter's textfile collector reads.

Two writers share the families declared here: `wgsites status --format prometheus` (from the rows it shows,
as this machine sees the hosts) and every host itself (the install script's `metrics` action,
templates/install/metrics.sh.j2, rendered with these names and help texts; a timer runs it each minute on a
host managed over SSH, an aws hub's agent each sync). Labels name nodes, never keys: stack, node, interface,
peer, and peer_kind (hub, site or device: the first two should always be up, a device comes and goes).
"""

from __future__ import annotations

from dataclasses import dataclass

from wgsites.stack.model import Vpn

STALE_SECONDS = 180  # WireGuard re-handshakes every 2 minutes on a live tunnel: older is stale


@dataclass(frozen=True)
class Family:
    name: str
    type: str  # gauge or counter
    help: str  # one line: no quote, backslash or newline (the script renders it into an awk string)


PEER_UP = Family(
    "wgsites_peer_up", "gauge", f"1 when the latest handshake with the peer is at most {STALE_SECONDS} s old, else 0"
)
LAST_HANDSHAKE = Family(
    "wgsites_peer_last_handshake_timestamp_seconds",
    "gauge",
    "When the latest handshake with the peer completed, in Unix time; 0 when none has",
)
HANDSHAKE_AGE = Family(
    "wgsites_peer_handshake_age_seconds", "gauge", "Seconds since the latest handshake with the peer, when written"
)
RECEIVED = Family("wgsites_peer_received_bytes_total", "counter", "Bytes received from the peer")
SENT = Family("wgsites_peer_sent_bytes_total", "counter", "Bytes sent to the peer")
PEERS = Family("wgsites_peers", "gauge", "Peers the node has")
PEERS_UP = Family("wgsites_peers_up", "gauge", "Peers of the node whose tunnel is up (wgsites_peer_up)")
INTERFACE_UP = Family("wgsites_interface_up", "gauge", "1 when the WireGuard interface exists on the host, else 0")
LAST_SYNC = Family(
    "wgsites_gateway_last_sync_timestamp_seconds",
    "gauge",
    "When the agent of the aws gateway last synced without error, in Unix time",
)
BUNDLE_SERIAL = Family("wgsites_gateway_bundle_serial", "gauge", "Serial of the bundle the aws gateway applied")
PUBLISHED = Family(
    "wgsites_gateway_status_published_timestamp_seconds",
    "gauge",
    "When the aws gateway last published its view to SSM, in Unix time",
)
STATUS_ROWS = Family("wgsites_status_rows", "gauge", "Rows of wgsites status by node and state")

HOST_FAMILIES = (INTERFACE_UP, PEERS, PEERS_UP, PEER_UP, LAST_HANDSHAKE, HANDSHAKE_AGE, RECEIVED, SENT, LAST_SYNC, BUNDLE_SERIAL)
"""What a host writes itself (the last two: an aws gateway only), in this order."""
STATUS_FAMILIES = (PEERS, PEERS_UP, PEER_UP, LAST_HANDSHAKE, HANDSHAKE_AGE, RECEIVED, SENT, PUBLISHED, BUNDLE_SERIAL, STATUS_ROWS)
TUNNEL_STATES = ("ok", "stale", "never")  # the rows of a peer the interface has; `missing` and `unknown` have no facts


def escaped_label(value: str) -> str:
    r"""A label value as the exposition format writes it: \ as \\, " as \" and a line feed as \n."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample(name: str, labels: dict[str, str], value: int | float) -> str:
    inner = ",".join(f'{key}="{escaped_label(text)}"' for key, text in labels.items())
    return f"{name}{{{inner}}} {value}"


def exposition(families: tuple[Family, ...], samples: dict[str, list[str]]) -> str:
    """The text format: each family with samples, its HELP and TYPE lines first, its samples together."""
    lines = []
    for family in families:
        if samples.get(family.name):
            lines += [f"# HELP {family.name} {family.help}", f"# TYPE {family.name} {family.type}", *samples[family.name]]
    return "".join(f"{line}\n" for line in lines)


def peer_kind(vpn: Vpn, name: str) -> str:
    """hub, site or device: what the peer label's node is; the first two should always be up."""
    if name == vpn.hub.name:
        return "hub"
    return "site" if vpn.node(name).kind == "site" else "device"


def always_up_peers(vpn: Vpn, node: str) -> list[tuple[str, str]]:
    """(name, kind) of NODE's peers that should always be up (the hub, sites): what a host's script is told, the
    many devices of a hub are not named (any other peer is a device)."""
    names = [vpn.hub.name] if node != vpn.hub.name else [site.name for site in vpn.sites]
    return [(name, peer_kind(vpn, name)) for name in names if name != node]
