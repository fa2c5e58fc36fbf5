"""Drift: what a host managed over SSH runs that its installed config does not say.

The install script's `state` action prints wgsites' records, `wg show IFACE dump` (its private
key masked) and the installed config; this module reads that text and names each difference: a
peer added by hand (`wg set`), a peer missing, other AllowedIPs, another listen port, a key file
gone or not the running key, the interface down. `wgsites status` shows the findings; the Pulumi
program folds them into a marker on the host's repair command, so `pulumi preview` shows the
drift and the next `up` puts the host back. Everything printed is rebuilt from parsed values: a
compromised host cannot put text of its own into a command line or a diff.

A host's answer is untrusted input (it may be compromised, or be anything on the path: the read
checks no host key): read_answer takes it as bytes, at most ANSWER_LIMIT of them, strict UTF-8
without control characters, and parse_state reads it with bounds (ports of ASCII digits 1-65535,
a repair count of at most six digits). Whatever is wrong with it ends as ConfigError with a fixed
message: the program warns for that host and reads the others.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from wgsites.rendering.limits import MAX_ARG_STRLEN
from wgsites.rendering.render import preshared_key_hook
from wgsites.rendering.wg_quick_parser import parse_wg_config
from wgsites.stack.errors import ConfigError
from wgsites.stack.keys import is_valid_key
from wgsites.stack.plaintext import unsafe_character

# The marker a repair command carries and the host records: fixed words, a hash of the findings and
# the repair's number. The host hands it back; anything else it hands back is not one of ours, so host
# text never becomes the repair command's argument (nor a line of a preview's diff).
MARKER = re.compile(r"drift [0-9a-f]{16} \(repair ([1-9][0-9]{0,5})\)")
REPAIRS_LIMIT = 999_999  # six digits: the count starts again at 1 after it
# The largest legitimate `state` answer: the installed config travels inside the install command, one
# argument of at most MAX_ARG_STRLEN (rendering/limits.py checks it); a [Peer] takes at least 75 bytes of it, so
# at most ~1,750 peers, and each adds to the answer its dump line (its AllowedIPs again, plus at most
# ~200 bytes of key, endpoint and counters) and a preshared-key verdict (~52 bytes): under 0.6 MiB.
# Twice that, rounded: 8 x MAX_ARG_STRLEN = 1 MiB per host, 8 hosts read at once.
ANSWER_LIMIT = 8 * MAX_ARG_STRLEN
PORT = re.compile(r"[0-9]{1,5}")  # ASCII digits only: str.isdigit() also takes '²' and '٣'


@dataclass(frozen=True)
class Device:
    """The running interface, as `wg show dump` lists it."""

    public_key: str | None
    listen_port: int | None
    peers: dict[str, tuple[str, ...]]  # public key -> its AllowedIPs, sorted


@dataclass(frozen=True)
class HostState:
    installed: bool
    owner: str | None
    key: str | None  # the public key of the key file; None: no key file
    repaired: str  # the marker of the last repair ("" for none)
    device: Device | None  # None: the interface is down
    config: dict[str, tuple[str, ...]]  # the installed config's peers: public key -> AllowedIPs
    config_port: int | None
    # each running peer's preshared key against the host's store, as the host compared them (never the
    # keys): ok, none (neither has one), missing, other, extra (running, the store has none); {} when the
    # host keeps no store (no preshared keys, or an install script before them)
    preshared: dict[str, str] = field(default_factory=dict)
    # the installed config loads preshared keys (its hook) but their file is gone: only a new
    # `<node>-psk` run writes it (the host never held the keys anywhere else)
    preshared_store_lost: bool = False


def short(key: str) -> str:
    return f"{key[:8]}..." if is_valid_key(key) else "with a malformed key"


def _networks(text: str) -> tuple[str, ...]:
    nets = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            nets.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            nets.append("(malformed)")
    return tuple(sorted(nets))


def port_number(text: str) -> int | None:
    """A listen port as `wg` and wg-quick write it (ASCII digits, 1-65535); None for anything else."""
    text = text.strip()
    return int(text) if PORT.fullmatch(text) and 1 <= int(text) <= 65535 else None


class MalformedAnswer(ConfigError):
    """A host's answer that is not what its install script prints: a fixed reason, never the host's text."""

    def __init__(self, where: str | Path, reason: str) -> None:
        super().__init__([f"{where}: its answer is not a state wgsites reads ({reason})"])


def _device(lines: list[str], where: str | Path) -> Device | None:
    if not lines:
        return None
    head = lines[0].split("\t")
    public = head[1] if len(head) > 1 and is_valid_key(head[1]) else None
    port = None
    if len(head) > 2 and head[2] != "0":  # wg prints 0 while the interface listens on no port
        port = port_number(head[2])
        if port is None:
            raise MalformedAnswer(where, "its listen port is not a number from 1 to 65535")
    peers = {}
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) >= 4:
            key = fields[0] if is_valid_key(fields[0]) else "(malformed key)"
            peers[key] = _networks("" if fields[3] == "(none)" else fields[3])
    return Device(public, port, peers)


LISTEN_PORT = re.compile(r"\s*listenport\s*=(.*)", re.IGNORECASE)


def _config(lines: list[str], where: str | Path) -> tuple[dict[str, tuple[str, ...]], int | None]:
    """Peers and ListenPort of the installed config, read as `import` reads a wg-quick config; none from
    one it cannot read (then there is nothing to compare the running device with)."""
    if not lines:
        return {}, None
    ports = [m.group(1).partition("#")[0] for line in lines if (m := LISTEN_PORT.fullmatch(line))]
    port = port_number(ports[-1]) if ports else None
    if ports and port is None:  # wgsites writes a number: checked here, before `import`'s reader sees it
        raise MalformedAnswer(where, "the installed config's ListenPort is not a number from 1 to 65535")
    try:
        config = parse_wg_config("\n".join(lines), Path("installed.conf"))
    except ConfigError:  # `import`'s reader refuses what it cannot read, an MTU of '²' among it
        return {}, None
    return {p.public_key: tuple(sorted(map(str, p.allowed_ips))) for p in config.peers}, port


def sections(text: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """The `state` action's output in its parts: records, `[dump]`, `[psk]` (newer scripts), `[config]`."""
    head: list[str] = []
    parts = {"[dump]": [], "[psk]": [], "[config]": []}
    part = head
    for line in text.splitlines():
        if line in parts and part is not parts["[config]"]:
            part = parts[line]
        else:
            part.append(line)
    return head, parts["[dump]"], parts["[psk]"], parts["[config]"]


PRESHARED_STATES = ("ok", "none", "missing", "other", "extra")


def _preshared(lines: list[str]) -> dict[str, str]:
    pairs = (line.split(" ") for line in lines)
    return {p[0]: p[1] for p in pairs if len(p) == 2 and is_valid_key(p[0]) and p[1] in PRESHARED_STATES}


def read_answer(data: bytes, where: str | Path = "the host") -> str:
    """A host's answer as text: at most ANSWER_LIMIT bytes of strict UTF-8 whose only control characters
    are tab and line feed (what `wg show dump` and a config hold); MalformedAnswer otherwise."""
    if len(data) > ANSWER_LIMIT:
        raise MalformedAnswer(where, f"over {ANSWER_LIMIT} bytes, the most a host's state can be")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedAnswer(where, f"not UTF-8 text at byte {exc.start}") from None
    if bad := unsafe_character(text.replace("\t", " ").replace("\n", " ")):
        raise MalformedAnswer(where, f"it holds the control character {bad}")
    return text


def parse_state(text: str, where: str | Path = "the host") -> HostState:
    """The `state` action's output; ConfigError when it is not that (an old install script, a broken host)."""
    head, dump, preshared, config = sections(text)
    records = dict(line.split(" ", 1) for line in head if " " in line)
    if not {"installed", "owner", "key", "repaired"} <= set(records) or "[config]" not in text.splitlines():
        raise ConfigError([f"{where}: its install script printed no state; the next `pulumi up` updates it"])
    key = records["key"] if is_valid_key(records["key"]) else None
    peers, port = _config(config, where)
    return HostState(
        installed=records["installed"] == "yes",
        owner=None if records["owner"] == "-" else records["owner"],
        key=key,
        repaired=records["repaired"] if MARKER.fullmatch(records["repaired"]) else "",
        device=_device(dump, where),
        config=peers,
        config_port=port,
        preshared=_preshared(preshared),
        preshared_store_lost=records.get("psk") == "no" and str(preshared_key_hook()) in config,
    )


def findings(state: HostState, owner: str, interface: str) -> list[str]:
    """What the host runs that its installed config does not say; none before wgsites installed it here."""
    if not state.installed or not state.config or (state.owner and state.owner != owner):
        return []
    found = []
    device = state.device
    if device is None:
        return [f"{interface} is down"]
    if state.key is None:
        found.append(f"the key file /etc/wireguard/{interface}.key is missing")
    elif device.public_key != state.key:
        found.append(f"{interface} runs another key than the one in its key file")
    if state.config_port is not None and device.listen_port != state.config_port:
        running = f"port {device.listen_port}" if device.listen_port is not None else "no port"
        found.append(f"{interface} listens on {running}, the stack says {state.config_port}")
    for key in sorted(set(device.peers) - set(state.config)):
        found.append(f"peer {short(key)} is not in the stack (added by hand?)")
    for key in sorted(set(state.config) - set(device.peers)):
        found.append(f"peer {short(key)} of the stack is not running")
    for key in sorted(set(state.config) & set(device.peers)):
        if device.peers[key] != state.config[key]:
            running, wanted = ", ".join(device.peers[key]) or "none", ", ".join(state.config[key])
            found.append(f"peer {short(key)} has AllowedIPs {running}, the stack says {wanted}")
    if state.preshared_store_lost:
        found.append(
            f"the preshared key file /etc/wireguard/{interface}.psk is missing; write it again: "
            "pulumi up --replace on the -psk command of this node"
        )
    said = {
        "missing": "runs no preshared key, the stack gives it one",
        "other": "runs another preshared key than the stack gives it",
        "extra": "runs a preshared key the stack does not give it",
    }
    for key in sorted(set(state.config) & set(state.preshared)):
        if state.preshared[key] in said:
            found.append(f"peer {short(key)} {said[state.preshared[key]]}")
    return found


def marker(state: HostState, found: list[str]) -> str:
    """The text the repair command carries: the last repair's while the host is in sync, else a hash of
    the findings with the repair's number (so the same drift again is a new marker). Fixed words and
    digits only: the findings themselves go to the program's log, where the operator reads them."""
    if not found:
        return state.repaired
    match = MARKER.fullmatch(state.repaired)
    count = int(match.group(1)) % REPAIRS_LIMIT + 1 if match else 1
    digest = hashlib.sha256("; ".join(found).encode()).hexdigest()[:16]
    return f"drift {digest} (repair {count})"
