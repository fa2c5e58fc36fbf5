"""One line of `wgsites status`: a tunnel as one node sees it (SSH hosts: status.py; an aws hub: hub_status.py)."""

from __future__ import annotations

from dataclasses import dataclass

STALE_SECONDS = 180  # WireGuard re-handshakes every 2 minutes on a live tunnel


@dataclass(frozen=True)
class StatusRow:
    node: str
    peer: str
    state: str  # ok, stale, never, missing, drift, shared-key; unknown (a host or view that cannot be read), old (an aws hub)
    detail: str
    # the facts behind the state, for `status --json`; None where not known
    endpoint: str | None = None
    handshake_age: int | None = None  # seconds
    rx: int | None = None  # bytes received from the peer
    tx: int | None = None
