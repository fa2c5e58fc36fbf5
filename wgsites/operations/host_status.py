"""`wgsites status`: which tunnel is up, and for one that is not, which side never answered.

Reads what a managed host's interface says (`wg show IFACE dump`) and the config
wgsites installed there (its `# name` comments map keys to nodes), and compares
both with the stack: a peer missing from the interface, a peer that never
completed a handshake (and who should have dialled), a handshake gone stale, and
what the host runs that its config does not say (drift: wgsites.operations.host_drift). Every answer is untrusted
input (wgsites.operations.host_answer reads it): fields are parsed with bounds and rebuilt, a host that answers
what is not a state gets `unknown` rows, and every cell is printed escaped (plaintext.escaped).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from wgsites.rendering.metrics import STALE_SECONDS
from wgsites.rendering.render import install_command
from wgsites.stack.addressing import AddressPlan
from wgsites.stack.endpoints import ip_text, join_endpoint, split_endpoint
from wgsites.stack.errors import ConfigError
from wgsites.stack.keys import SHARED_KEY_AGAIN, is_valid_key, shared_key_message
from wgsites.stack.model import Spoke, Vpn
from wgsites.stack.plaintext import escaped

from .host_answer import HostAnswerError
from .host_drift import findings, parse_state, sections
from .status_row import StatusRow

CLOCK_SKEW_SECONDS = 86400  # a handshake later than this past our clock is no clock's mistake


@dataclass(frozen=True)
class PeerState:
    public_key: str
    endpoint: str | None
    latest_handshake: int  # unix time, 0 = never
    rx: int
    tx: int


WHOLE_NUMBER = re.compile(r"[0-9]{1,20}")  # ASCII digits only: int() also takes "²", " 7" and 5000 digits
NUMBER_LIMIT = 2**64  # wg's counters and times are unsigned 64-bit


def parse_dump(text: str) -> list[PeerState]:
    """Peer lines of `wg show IFACE dump` (the first line is the interface itself), every field checked:
    HostAnswerError names the first that is not what wg prints (a broken or hostile host)."""
    peers = []
    for number, line in enumerate(text.strip().splitlines()[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 8:
            raise HostAnswerError(f"answered a `wg show` dump whose line {number} has {len(fields)} fields, not 8")
        key, _, endpoint, _, handshake, rx, tx, _ = fields
        if not is_valid_key(key):
            raise HostAnswerError(f"answered a `wg show` dump whose line {number} holds no public key ({_cut(key)})")
        peers.append(
            PeerState(
                key,
                None if endpoint == "(none)" else _endpoint(endpoint, number),
                _number(handshake, "latest handshake", number),
                _number(rx, "received bytes", number),
                _number(tx, "sent bytes", number),
            )
        )
    return peers


def _cut(text: str) -> str:
    """A host's field as a message may show it: escaped, and its start only."""
    return escaped(text) if len(text) <= 48 else f"{escaped(text[:48])}... ({len(text)} characters)"


def _number(text: str, field: str, line: int) -> int:
    if not WHOLE_NUMBER.fullmatch(text) or int(text) >= NUMBER_LIMIT:
        raise HostAnswerError(
            f"answered a `wg show` dump whose line {line} has a {field} that is no whole number below 2^64 ({_cut(text)})"
        )
    return int(text)


def _endpoint(text: str, line: int) -> str:
    """An endpoint as wg prints it (an IP address and a port), rebuilt from its parsed parts."""
    parts = split_endpoint(text) if len(text) <= 64 else None
    if parts is None or parts[1] is None or ip_text(parts[0]) is None:
        raise HostAnswerError(f"answered a `wg show` dump whose line {line} has an endpoint that is no IP:port ({_cut(text)})")
    return join_endpoint(*parts)


def config_keys(config: str) -> list[tuple[str, str]]:
    """(public key, node name) of each peer of an installed config, from the `# name` comment wgsites
    writes above each PublicKey."""
    pairs, last_comment = [], None
    for line in config.splitlines():
        line = line.strip()
        if line.startswith("# "):
            last_comment = line[2:].strip()
        elif line.lower().startswith("publickey") and "=" in line and last_comment:
            pairs.append((line.split("=", 1)[1].strip(), last_comment))
        elif line.startswith("["):
            last_comment = None
    return pairs


def names_in_config(config: str) -> dict[str, str]:
    """public key -> node name, from the installed config (config_keys)."""
    return dict(config_keys(config))


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
            if peer.latest_handshake > now + CLOCK_SKEW_SECONDS:
                raise HostAnswerError(
                    f"answered a handshake with {entry.name} {peer.latest_handshake - int(now)} s in the future; "
                    "check that host's clock (and this machine's)"
                )
            age = max(0, int(now - peer.latest_handshake))
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
    does not say (wgsites.operations.host_drift), each drift a row. Every answer is untrusted: a host that cannot be
    read, or answers what is not a state, gets its tunnels as `unknown` rows with the reason; the
    other hosts' rows are not touched by it."""
    rows, keys, hub_config = [], {}, ""
    for node in vpn.nodes:
        if node.delivery != "ssh":
            continue
        where = f"{node.ssh.user}@{node.ssh.host}:{node.ssh.port}"
        try:
            output = run(node.name, install_command(vpn, node.name, stack, "state"))
        except HostAnswerError as exc:  # names the host already
            rows.extend(unknown_rows(vpn, node.name, f"{node.name} cannot tell: {exc}"))
            continue
        except Exception as exc:  # noqa: BLE001 (another reader's failure: still that host's rows alone)
            rows.extend(unknown_rows(vpn, node.name, f"{node.name} cannot tell: {where}: {_cut(str(exc))}"))
            continue
        try:
            state = parse_state(output, where)
            _, dump, _preshared, config = sections(output)
            view = "\n".join([*dump, "--- config", *config])
            found = diagnose(vpn, node.name, view, stale_after=stale_after or STALE_SECONDS)
            found += [
                StatusRow(node.name, "-", "drift", f"{finding}; the next `pulumi up` puts it back")
                for finding in findings(state, f"{stack}/{node.name}", node.interface)
            ]
        except HostAnswerError as exc:
            rows.extend(unknown_rows(vpn, node.name, f"{node.name} cannot tell: {where} {exc}; check that host"))
            continue
        except ConfigError as exc:
            rows.extend(unknown_rows(vpn, node.name, f"{node.name} cannot tell: {escaped(exc.messages[0])}"))
            continue
        except Exception as exc:  # noqa: BLE001 (whatever a host answered, the other hosts' rows stay)
            reason = f"its answer could not be read ({exc.__class__.__name__}: {_cut(str(exc))}); check that host"
            rows.extend(unknown_rows(vpn, node.name, f"{node.name} cannot tell: {where} {reason}"))
            continue
        rows.extend(found)
        keys[node.name] = {k for k in (state.key, state.device and state.device.public_key) if k}
        if node.name == vpn.hub.name:
            hub_config = "\n".join(config)
    return shared_key_rows(vpn, keys, hub_config) + rows


def unknown_rows(vpn: Vpn, node: str, reason: str) -> list[StatusRow]:
    """NODE's tunnels when NODE could not be read: each `unknown`, with why and the fix."""
    peers = AddressPlan(vpn).plan(node).peers
    return [StatusRow(node, entry.name, "unknown", reason) for entry in peers] or [StatusRow(node, "-", "unknown", reason)]


def shared_key_rows(vpn: Vpn, running: dict[str, set[str]], hub_config: str) -> list[StatusRow]:
    """A row for each host that runs a public key another node has (the stack's own keys, what the other
    hosts run, what the hub's config says each node has): the hub would merge the two peers."""
    owners: dict[str, set[str]] = {}
    for spoke in vpn.spokes:
        if spoke.key_source == "own":
            owners.setdefault(spoke.public_key, set()).add(spoke.name)
    names = {n.name for n in vpn.nodes}  # the comments are the host's text: only the stack's names count
    for key, name in config_keys(hub_config):
        if name in names:
            owners.setdefault(key, set()).add(name)
    for node, keys in running.items():
        for key in keys:
            owners.setdefault(key, set()).add(node)
    rows = []
    for node in running:
        node_interface = vpn.node(node).interface
        for other in sorted({o for key in running[node] for o in owners[key]} - {node}):
            detail = f"{shared_key_message(node, other, node_interface)}; then ask it again: {SHARED_KEY_AGAIN}"
            rows.append(StatusRow(node, other, "shared-key", detail))
    return rows


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Aligned columns (the last one free), for the terminal: `status` and the lab's checks. Every cell
    escaped (plaintext.escaped): a host's text never reaches the terminal raw."""
    rows = [tuple(escaped(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(f"{v:<{w}}" for v, w in zip(row[:-1], widths, strict=True)), row[-1]]) for row in rows)


def json_rows(rows: list[StatusRow]) -> list[dict]:
    """`status --json`: one object per row, every field named."""
    return [dataclasses.asdict(row) for row in rows]


def format_rows(rows: list[StatusRow]) -> str:
    return text_table([("node", "peer", "state", "detail"), *((r.node, r.peer, r.state, r.detail) for r in rows)])
