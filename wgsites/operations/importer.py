"""`wgsites import`: a stack file from the wg-quick configs a user already runs (the guide's files).

The first file is the hub's; its [Peer]s become the spokes: the address inside the VPN network
from their AllowedIPs, the rest of AllowedIPs as their LANs (then a site), their public keys as
bring-your-own keys (so no device re-imports anything), a `# name` comment as their name. Other
files are spokes' own configs: they tell the hub's endpoint, the LANs behind it, and whether a
peer sends everything through the tunnel. The hub keeps its key: the install script adopts the
running interface's (its peers know it). No private key is ever written to the stack file.
What wgsites would do differently (a hook it does not carry over, an MTU) is reported as a note.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wgsites.rendering.render import KeyRing, render_wg_quick
from wgsites.rendering.wg_quick_parser import WgConfig, WgPeer, parse_wg_config
from wgsites.stack.errors import ConfigError
from wgsites.stack.parse import parse_vpn
from wgsites.stack.plaintext import escaped

IPv4Network = ipaddress.IPv4Network
MASQUERADE = re.compile(r"iptables .*-t nat .*-A POSTROUTING\b.*-o (\S+).*-j MASQUERADE")
KEY_HOOK = re.compile(r"wg set %i private-key /etc/wireguard/(?:%i|[\w.-]+)\.key")


@dataclass(frozen=True)
class ImportOptions:
    ssh_host: str | None = None  # where Pulumi reaches the hub
    ssh_port: int = 22
    ssh_user: str = "root"
    endpoint: str | None = None  # what spokes dial, when no spoke's file says it
    hub_name: str = "hub"


def _hub_peer_of(spoke: WgConfig, hub_address: ipaddress.IPv4Address) -> WgPeer | None:
    """The [Peer] of a spoke's own config that is the hub: its AllowedIPs reach the hub's address."""
    return next((p for p in spoke.peers if any(hub_address in net for net in p.allowed_ips if net.version == 4)), None)


def _spoke_address(
    peer: WgPeer, network: IPv4Network, hub: ipaddress.IPv4Address, own: dict[ipaddress.IPv4Address, WgConfig]
) -> ipaddress.IPv4Address | None:
    """The peer's VPN address: a /32 of the network in its AllowedIPs; on a /31 link (the guide's
    site-to-site lists the whole /31), the other address; else the address its own config gives."""
    mine = [n for n in peer.allowed_ips if n.version == 4 and n.overlaps(network)]
    hosts = [n.network_address for n in mine if n.prefixlen == 32]
    if hosts:
        return hosts[0]
    if network.num_addresses == 2 and network in mine:
        return next(a for a in (network.network_address, network.broadcast_address) if a != hub)
    return next((a for a in own if any(a in n for n in mine)), None)


def import_vpn(configs: list[WgConfig], options: ImportOptions) -> tuple[dict[str, Any], list[str]]:
    """The `wgsites:vpn` object for CONFIGS (the hub's first), and notes on what differs."""
    hub, spokes_files = configs[0], configs[1:]
    errors, notes = [], []
    hub_if = hub.addresses[0]
    if hub_if.network.prefixlen == 32:
        raise ConfigError(
            [
                f"{hub.path}: Address {hub_if} names no VPN network (the guide's internal-host setup, with proxy ARP); "
                "import adopts the router, site-to-site and default-gateway setups: "
                "write this stack from examples/Pulumi.internal.yaml"
            ]
        )
    network = hub_if.network
    own = {s.addresses[0].ip: s for s in spokes_files}
    hub_lans: list[IPv4Network] = []
    endpoint = options.endpoint
    full = set()
    for spoke in spokes_files:
        seen = _hub_peer_of(spoke, hub_if.ip)
        if seen is None:
            errors.append(
                f"{spoke.path}: no [Peer] whose AllowedIPs reach the hub's address {hub_if.ip}; is it a spoke of {hub.path}?"
            )
            continue
        if endpoint is None and seen.endpoint:
            endpoint = seen.endpoint
        for net in seen.allowed_ips:
            if net.version == 4 and net.prefixlen == 0:
                full.add(spoke.addresses[0].ip)
            elif net.version == 4 and not net.overlaps(network) and net not in hub_lans:
                hub_lans.append(net)
    if options.ssh_host is None:
        errors.append("--ssh: missing; the hub is managed over SSH: give the address Pulumi connects to, e.g. --ssh 10.10.10.1")
    if endpoint is None:
        errors.append(
            f"--endpoint: missing; no spoke's file names where {hub.path} is reached: give the host (or host:port) spokes dial"
        )
    spokes: dict[str, list[dict[str, Any]]] = {"sites": [], "peers": []}
    names: set[str] = {options.hub_name}
    for i, peer in enumerate(hub.peers):
        address = _spoke_address(peer, network, hub_if.ip, own)
        if address is None:
            errors.append(f"{hub.path}: [Peer] {i + 1} ({peer.public_key[:8]}...) has no address of {network} in its AllowedIPs")
            continue
        lans = [str(n) for n in peer.allowed_ips if n.version == 4 and not n.overlaps(network)]
        file = own.get(address)
        name = peer.name if peer.name and peer.name not in names else None
        name = name or (f"site{i + 1}" if lans else f"peer{i + 1}")
        names.add(name)
        spoke: dict[str, Any] = {"name": name, "address": str(address)}
        if file is not None:
            if file.interface != "wg0":
                spoke["interface"] = file.interface
            if file.listen_port:
                spoke["listenPort"] = file.listen_port
            if file.public_key and file.public_key != peer.public_key:
                errors.append(f"{file.path}: its PrivateKey is not the key {hub.path} knows for {name}; which is right?")
        if lans:
            spoke["lans"] = lans
        if peer.endpoint:
            spoke["endpoint"] = peer.endpoint
        spoke["publicKey"] = peer.public_key
        if peer.preshared:
            # a preshared key wgsites did not make cannot be kept: the pair gets one derived from the seed
            spoke["presharedKey"] = True
            notes.append(
                f"{hub.path}: {name} has a PresharedKey; the stack gives that pair a new one derived from "
                "wgsites:keySeed (set it first), so the first up changes it on the hub: import the new config on "
                f"{name} (pulumi stack output --show-secrets) right after it: its running session lasts 3 minutes at most"
            )
        if not lans:
            if address in full:
                spoke["tunnel"] = "full"
            if file is not None and file.dns:
                spoke["dns"] = list(file.dns)
        spokes["sites" if lans else "peers"].append(spoke)
    hub_obj: dict[str, Any] = {"name": options.hub_name, "kind": "ssh", "address": str(hub_if.ip)}
    if hub.interface != "wg0":
        hub_obj["interface"] = hub.interface
    hub_obj["endpoint"] = endpoint
    if hub_lans:
        hub_obj["lans"] = [str(n) for n in hub_lans]
    for hook in hub.hooks:
        if match := MASQUERADE.search(hook):
            hub_obj["masquerade"] = match.group(1)
        elif not KEY_HOOK.search(hook):
            notes.append(f"{hub.path}: `{hook}` is not carried over; wgsites writes its own hooks (masquerade, forwardRules)")
    if full and "masquerade" not in hub_obj:
        hub_obj["masquerade"] = True
        notes.append("a peer sends everything through the tunnel: masquerade is on (out of anything but the tunnel)")
    if hub.mtu:
        notes.append(f"{hub.path}: MTU {hub.mtu} is not carried over; wgsites sets the MTU from hub.uplink (set it in place)")
    hub_obj["ssh"] = {"host": options.ssh_host, "port": options.ssh_port, "user": options.ssh_user}
    raw: dict[str, Any] = {"network": str(network)}
    if hub.listen_port:
        raw["listenPort"] = hub.listen_port
    raw["hub"] = hub_obj
    raw.update({k: v for k, v in spokes.items() if v})
    if errors:
        raise ConfigError(errors)
    return raw, notes


def same_peers(vpn_raw: dict[str, Any], hub: WgConfig, name: str) -> list[str]:
    """What the hub's rendered config would change in its peers (keys and AllowedIPs), as notes; none is the goal."""
    vpn = parse_vpn(vpn_raw)
    public = {s.name: s.public_key for s in vpn.spokes}
    rendered = parse_wg_config(render_wg_quick(vpn, vpn.hub.name, name, KeyRing(public=public)), hub.path)
    before = {p.public_key: sorted(map(str, p.allowed_ips)) for p in hub.peers}
    after = {p.public_key: sorted(map(str, p.allowed_ips)) for p in rendered.peers}
    return [
        f"{hub.path}: the peer {key[:8]}... would get AllowedIPs {after.get(key)} instead of {before.get(key)}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def stack_text(vpn_raw: dict[str, Any], sources: list[Path]) -> str:
    """The stack file: a comment naming its sources, then `config: wgsites:vpn:`."""
    # a path is the user's, but may hold a line break: escaped, it stays inside this comment line
    header = "# Imported by `python -m wgsites import` from " + ", ".join(escaped(str(p)) for p in sources) + ".\n"
    needs_seed = any(s.get("presharedKey") for s in [*vpn_raw.get("sites", []), *vpn_raw.get("peers", [])])
    when = "(its preshared keys are derived from it)" if needs_seed else "(only if you add phones)"
    header += f"# Review it, then: pulumi config set --secret wgsites:keySeed ... {when}, pulumi preview.\n"
    return header + yaml.safe_dump({"config": {"wgsites:vpn": vpn_raw}}, sort_keys=False, default_flow_style=False)
