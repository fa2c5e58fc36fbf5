"""`wgsites status --format prometheus`: the rows status shows, as the metric families rendering/metrics.py declares."""

from __future__ import annotations

import time
from dataclasses import dataclass

from wgsites.rendering.metrics import (
    BUNDLE_SERIAL,
    HANDSHAKE_AGE,
    LAST_HANDSHAKE,
    PEER_UP,
    PEERS,
    PEERS_UP,
    PUBLISHED,
    RECEIVED,
    SENT,
    STATUS_FAMILIES,
    STATUS_ROWS,
    TUNNEL_STATES,
    Family,
    exposition,
    peer_kind,
    sample,
)
from wgsites.stack.model import Vpn

from .status_row import StatusRow


@dataclass(frozen=True)
class GatewayView:
    """What an aws hub published besides its tunnels (hub_status.decode's document)."""

    published: int  # Unix time
    bundle_serial: int | None


def status_metrics(
    vpn: Vpn, stack: str, rows: list[StatusRow], gateway: GatewayView | None = None, now: float | None = None
) -> str:
    """`status --format prometheus`: the rows `status` shows, as metrics (a peer up only when its row is ok)."""
    now = int(time.time() if now is None else now)
    names = {node.name for node in vpn.nodes}
    samples: dict[str, list[str]] = {}
    counts: dict[tuple[str, str], int] = {}
    peers: dict[str, list[bool]] = {}

    def add(family: Family, labels: dict[str, str], value: int) -> None:
        samples.setdefault(family.name, []).append(sample(family.name, labels, value))

    for row in rows:
        counts[(row.node, row.state)] = counts.get((row.node, row.state), 0) + 1
        if row.node not in names or row.peer not in names or row.state not in (*TUNNEL_STATES, "missing", "unknown"):
            continue  # drift, a shared key: a finding, counted in wgsites_status_rows
        node = {"stack": stack, "node": row.node, "interface": vpn.node(row.node).interface}
        labels = {**node, "peer": row.peer, "peer_kind": peer_kind(vpn, row.peer)}
        up = row.state == "ok"
        peers.setdefault(row.node, []).append(up)
        add(PEER_UP, labels, int(up))
        if row.state == "never":
            add(LAST_HANDSHAKE, labels, 0)
        if row.handshake_age is not None:
            add(LAST_HANDSHAKE, labels, now - row.handshake_age)
            add(HANDSHAKE_AGE, labels, row.handshake_age)
        if row.rx is not None and row.tx is not None:
            add(RECEIVED, labels, row.rx)
            add(SENT, labels, row.tx)
    for node, ups in peers.items():
        labels = {"stack": stack, "node": node, "interface": vpn.node(node).interface}
        add(PEERS, labels, len(ups))
        add(PEERS_UP, labels, sum(ups))
    if gateway is not None:
        labels = {"stack": stack, "node": vpn.hub.name, "interface": vpn.hub.interface}
        add(PUBLISHED, labels, gateway.published)
        if gateway.bundle_serial is not None:
            add(BUNDLE_SERIAL, labels, gateway.bundle_serial)
    for (node, state), count in counts.items():
        add(STATUS_ROWS, {"stack": stack, "node": node, "state": state}, count)
    return exposition(STATUS_FAMILIES, samples)
