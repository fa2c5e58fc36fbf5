"""`wgsites status`: which tunnel is up, and for one that is not, which side never answered.

Reads what a managed host's interface says (`wg show IFACE dump`) and the config
wgsites installed there (its `# name` comments map keys to nodes), and compares
both with the stack: a peer missing from the interface, a peer that never
completed a handshake (and who should have dialled), a handshake gone stale, and
what the host runs that its config does not say (drift: wgsites.drift).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from .addressing import AddressPlan
from .drift import findings, parse_state, sections
from .model import Spoke, Vpn
from .reader import ConfigError
from .render import install_command
from .status_row import StatusRow

STALE_SECONDS = 180  # WireGuard re-handshakes every 2 minutes on a live tunnel


@dataclass(frozen=True)
class PeerState:
    public_key: str
    endpoint: str | None
    latest_handshake: int  # unix time, 0 = never
    rx: int
    tx: int


def parse_dump(text: str) -> list[PeerState]:
    """Peer lines of `wg show IFACE dump` (the first line is the interface itself)."""
    peers = []
    for line in text.strip().splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) >= 8:
            endpoint = None if fields[2] == "(none)" else fields[2]
            peers.append(PeerState(fields[0], endpoint, int(fields[4]), int(fields[5]), int(fields[6])))
    return peers


def names_in_config(config: str) -> dict[str, str]:
    """public key -> node name, from the `# name` comment wgsites writes above each PublicKey."""
    names, last_comment = {}, None
    for line in config.splitlines():
        line = line.strip()
        if line.startswith("# "):
            last_comment = line[2:].strip()
        elif line.lower().startswith("publickey") and last_comment:
            names[line.split("=", 1)[1].strip()] = last_comment
        elif line.startswith("["):
            last_comment = None
    return names


def diagnose(vpn: Vpn, node: str, output: str, now: float | None = None, stale_after: int = STALE_SECONDS) -> list[StatusRow]:
    """Rows for every peer the stack says NODE should have."""
    now = time.time() if now is None else now
    dump, _, config = output.partition("--- config")
    by_name = {names_in_config(config).get(p.public_key): p for p in parse_dump(dump)}
    rows = []
    for entry in AddressPlan(vpn).plan(node).peers:
        peer = by_name.get(entry.name)
        other = vpn.node(entry.name)
        if peer is None:
            rows.append(StatusRow(node, entry.name, "missing", f"not on {node}'s interface: run `pulumi up`"))
        elif peer.latest_handshake == 0:
            rows.append(StatusRow(node, entry.name, "never", _never(vpn, node, other)))
        else:
            age = int(now - peer.latest_handshake)
            state = "ok" if age <= stale_after else "stale"
            detail = f"handshake {age} s ago from {peer.endpoint}, {peer.rx} B in, {peer.tx} B out"
            rows.append(StatusRow(node, entry.name, state, detail, peer.endpoint, age, peer.rx, peer.tx))
    return rows


def _never(vpn: Vpn, node: str, other) -> str:
    """Who should have started the handshake, and what to check there."""
    hub = vpn.hub
    if isinstance(other, Spoke) and not other.endpoint:
        return (
            f"{other.name} never completed a handshake with {node}: {other.name} dials {node} "
            f"({hub.endpoint or 'the hub'}, UDP {hub.listen_port}); check it is up, that UDP {hub.listen_port} "
            f"reaches {node}, and that its config has {node}'s current public key"
        )
    return (
        f"no handshake with {other.name}: {node} dials it at {getattr(other, 'endpoint', None) or 'its endpoint'}; "
        f"check that {other.name} is up and its UDP port is open, and that both sides have each other's keys"
    )


def collect(vpn: Vpn, stack: str, run: Callable[[str, str], str], stale_after: int | None = None) -> list[StatusRow]:
    """Ask every host managed over SSH (its install script's `state` action, as the drift check does);
    `run(node, command)` returns the command's output. Its tunnels, then what it runs that its config
    does not say (wgsites.drift), each drift a row."""
    rows = []
    for node in vpn.nodes:
        if node.delivery != "ssh":
            continue
        try:
            output = run(node.name, install_command(vpn, node.name, stack, "state"))
            state = parse_state(output, node.name)
        except Exception as exc:  # one unreachable host must not hide the others
            message = exc.messages[0] if isinstance(exc, ConfigError) else str(exc)
            rows.append(StatusRow(node.name, "-", "unreachable", (message.splitlines() or ["no answer"])[0][:160]))
            continue
        _, dump, _preshared, config = sections(output)
        view = "\n".join([*dump, "--- config", *config])
        rows.extend(diagnose(vpn, node.name, view, stale_after=stale_after or STALE_SECONDS))
        for finding in findings(state, f"{stack}/{node.name}", node.interface):
            rows.append(StatusRow(node.name, "-", "drift", f"{finding}; the next `pulumi up` puts it back"))
    return rows


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Aligned columns (the last one free), for the terminal: `status` and the lab's checks."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(f"{v:<{w}}" for v, w in zip(row[:-1], widths, strict=True)), row[-1]]) for row in rows)


def json_rows(rows: list[StatusRow]) -> list[dict]:
    """`status --json`: one object per row, every field named."""
    return [dataclasses.asdict(row) for row in rows]


def format_rows(rows: list[StatusRow]) -> str:
    return text_table([("node", "peer", "state", "detail"), *((r.node, r.peer, r.state, r.detail) for r in rows)])
