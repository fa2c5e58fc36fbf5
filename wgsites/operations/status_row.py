"""One line of `wgsites status`: a tunnel as one node sees it (SSH hosts: host_status.py; an aws hub: gateway_status.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from wgsites.stack import access
from wgsites.stack.model import Vpn


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


def mark_expired(vpn: Vpn, rows: list[StatusRow], now: dt.datetime | None = None) -> list[StatusRow]:
    """`status` rows with each expired spoke's tunnel said `expired`: its handshakes may go on, its traffic does not."""
    now = now or dt.datetime.now(dt.UTC)
    expiries = access.spoke_expiries(vpn)
    out = []
    for row in rows:
        name = row.peer if row.node == vpn.hub.name else row.node
        expires = expiries.get(name)
        if expires is not None and expires <= now:
            detail = (
                f"access ended {expires:%Y-%m-%d %H:%M} UTC: the hub refuses its traffic "
                f"(tunnel: {row.state}); remove {name} from the stack, or move its expires"
            )
            row = dataclasses.replace(row, state="expired", detail=detail)
        out.append(row)
    return out
