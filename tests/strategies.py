"""Hypothesis strategies for valid stacks: the raw `wgsites:vpn` object, as a stack file holds it.

Built to pass parse_vpn by construction (not by filtering): names and addresses are unique,
the VPN network and every LAN are distinct private /24 (or smaller) blocks, a full-tunnel peer
comes with a masquerading hub, a site behind NAT keeps a keepalive, and every host wgsites
reaches over SSH has its own host name. Public endpoints are documentation addresses or
example.net names. Some stacks are dual-stack (network6, see dual_stack).
"""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

from hypothesis import strategies as st

from wgsites.stack.keys import public_key_of

# /24 blocks of the three private ranges (RFC 1918); one block is the VPN, the others LANs
PRIVATE_BLOCKS = st.one_of(
    st.tuples(st.integers(0, 255), st.integers(0, 255)).map(lambda ab: f"10.{ab[0]}.{ab[1]}.0/24"),
    st.tuples(st.integers(16, 31), st.integers(0, 255)).map(lambda ab: f"172.{ab[0]}.{ab[1]}.0/24"),
    st.integers(0, 255).map(lambda b: f"192.168.{b}.0/24"),
)
DOC_V4 = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")  # RFC 5737
PORTS = st.integers(1, 65535)
# interface names the apps also take as tunnel names: Android at most 15 characters, Windows no
# reserved device name such as con or com1 (those end up here only with a letter after them)
INTERFACES = st.from_regex(r"[a-z]{2,6}(_[a-z]{1,5})?[0-9]{0,2}", fullmatch=True).filter(
    lambda name: name not in ("lo", "con", "prn", "aux", "nul") and not name.startswith(("com", "lpt"))
)
UPLINKS = st.one_of(
    st.sampled_from(["ethernet", "pppoe", "dslite"]),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["ethernet", "pppoe", "dslite"])},
        optional={"ipv6": st.booleans(), "mtu": st.integers(1280, 9000)},
    ),
)


@st.composite
def public_endpoints(draw: st.DrawFn, port: bool | None = None) -> str:
    """Where others dial a node: a documentation IPv4 or IPv6 address, or an example.net name; PORT: with a port."""
    kind = draw(st.sampled_from(["v4", "v6", "name"]))
    if kind == "v4":
        host = str(draw(st.sampled_from(DOC_V4).map(ipaddress.ip_network)).network_address + draw(st.integers(1, 254)))
    elif kind == "v6":
        host = f"[2001:db8::{draw(st.integers(1, 0xFFFF)):x}]"  # RFC 3849
    else:
        host = draw(st.from_regex(r"[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,5})?", fullmatch=True)) + ".example.net"
    with_port = draw(st.booleans()) if port is None else port
    return f"{host}:{draw(PORTS)}" if with_port else host


def uplink_for(uplink: str | dict[str, Any], endpoint: str | None) -> str | dict[str, Any]:
    """UPLINK, saying ipv6: true where it said false beside an endpoint written as an IPv6 address (check refuses that)."""
    if isinstance(uplink, dict) and uplink.get("ipv6") is False and endpoint and endpoint.startswith("["):
        return {**uplink, "ipv6": True}
    return uplink


def own_public_keys(index: int) -> st.SearchStrategy[str]:
    """A device's own public key (bring your own key) from random bytes as a private key; INDEX in
    byte 1 (which clamping leaves alone) keeps every peer's key distinct, however hypothesis shrinks."""
    return st.binary(min_size=30, max_size=30).map(
        lambda raw: public_key_of(base64.b64encode(raw[:1] + bytes([index]) + raw[1:] + b"\x40").decode())
    )


def dns_servers() -> st.SearchStrategy[list[str]]:
    v4 = st.tuples(st.integers(1, 254), st.integers(1, 254)).map(lambda ab: f"10.{ab[0]}.{ab[1]}.53")
    v6 = st.integers(1, 0xFFFF).map(lambda n: f"fd00::{n:x}")  # a unique local address (RFC 4193)
    return st.lists(st.one_of(v4, v6), min_size=1, max_size=3, unique=True)


@st.composite
def stacks(draw: st.DrawFn, max_sites: int = 3, max_peers: int = 4) -> dict[str, Any]:
    """A raw `wgsites:vpn` object that parse_vpn accepts."""
    n_sites = draw(st.integers(0, max_sites))
    n_peers = draw(st.integers(0 if n_sites else 1, max_peers))
    blocks = draw(st.lists(PRIVATE_BLOCKS, min_size=2 + 2 * n_sites, max_size=2 + 2 * n_sites, unique=True))
    network = ipaddress.ip_network(blocks[0])
    smallest = max(p for p in range(24, 29) if 2 ** (32 - p) - 2 >= 1 + n_sites + n_peers)
    prefix = draw(st.integers(24, smallest))
    network = ipaddress.ip_network(f"{network.network_address}/{prefix}")
    hosts = list(network.hosts())
    addresses = draw(
        st.lists(st.sampled_from(hosts), min_size=1 + n_sites + n_peers, max_size=1 + n_sites + n_peers, unique=True)
    )
    lan_blocks = iter(blocks[1:])
    ssh_hosts = iter(f"host{i}.example.net" for i in range(100))  # one per managed node: no shared host

    def lans(at_most: int) -> list[str]:
        return [next(lan_blocks) for _ in range(draw(st.integers(0, at_most)))]

    tunnels = [draw(st.sampled_from(["split", "full"])) for _ in range(n_peers)]
    kind = draw(st.sampled_from(["aws", "ssh"]))
    hub: dict[str, Any] = {"name": "hub", "kind": kind, "address": str(addresses[0])}
    hub_interface = draw(INTERFACES)
    hub["interface"] = hub_interface
    if kind == "ssh":
        hub["endpoint"] = draw(public_endpoints())
        hub["ssh"] = {"host": next(ssh_hosts)}
        if hub_lans := lans(1):
            hub["lans"] = hub_lans
    elif draw(st.booleans()):
        hub["aws"] = {"instanceType": draw(st.sampled_from(["t4g.nano", "t3.micro", "m7i-flex.large"]))}
    if "full" in tunnels or draw(st.booleans()):  # a full tunnel leaves through the hub's masquerade
        hub["masquerade"] = draw(st.sampled_from([True, "ens5", "eth0"]).filter(lambda m: m != hub_interface))
    if draw(st.booleans()):
        hub["uplink"] = uplink_for(draw(UPLINKS), hub.get("endpoint"))

    sites = []
    for i in range(n_sites):
        site: dict[str, Any] = {"name": f"site{i}", "address": str(addresses[1 + i]), "interface": draw(INTERFACES)}
        if site_lans := lans(2):
            site["lans"] = site_lans
        if draw(st.booleans()):
            site["endpoint"] = draw(public_endpoints(port=True))
        elif site_lans:
            site["keepalive"] = draw(st.integers(1, 65535))  # behind NAT with LANs: never 0
        if draw(st.booleans()):
            site["ssh"] = {"host": next(ssh_hosts)}
        if draw(st.booleans()):
            site["uplink"] = uplink_for(draw(UPLINKS), site.get("endpoint"))
        sites.append(site)

    peers = []
    for i, tunnel in enumerate(tunnels):
        peer: dict[str, Any] = {"name": f"peer{i}", "address": str(addresses[1 + n_sites + i]), "tunnel": tunnel}
        peer["interface"] = draw(INTERFACES)
        if tunnel == "full" or draw(st.booleans()):  # a full tunnel needs its resolver (check refuses it without)
            peer["dns"] = draw(dns_servers())
        if draw(st.booleans()):
            peer["listenPort"] = draw(PORTS)
        if draw(st.booleans()):
            peer["keepalive"] = draw(st.integers(0, 65535))
        if draw(st.booleans()):
            peer["uplink"] = draw(UPLINKS)
        managed = draw(st.integers(0, 5)) == 0  # now and then a laptop wgsites manages over SSH
        if managed:
            peer["ssh"] = {"host": next(ssh_hosts)}
        elif draw(st.booleans()):
            peer["publicKey"] = draw(own_public_keys(i))
        peers.append(peer)

    raw: dict[str, Any] = {"network": str(network), "hub": hub}
    if draw(st.booleans()):
        raw["listenPort"] = draw(PORTS)
    if sites:
        raw["sites"] = sites
    if peers:
        raw["peers"] = peers
    if draw(st.booleans()):
        raw["forwardRules"] = [{"protocol": "tcp", "port": 22, "action": draw(st.sampled_from(["reject", "drop", "accept"]))}]
    if draw(st.booleans()):  # preshared keys: for the whole stack, and now and then a spoke's own say
        raw["presharedKey"] = True
    for spoke in [*sites, *peers]:
        if draw(st.integers(0, 3)) == 0:
            spoke["presharedKey"] = draw(st.booleans())
    if draw(st.integers(0, 2)) == 0:
        dual_stack(draw, raw)
    return raw


def dual_stack(draw: st.DrawFn, raw: dict[str, Any]) -> None:
    """RAW made dual-stack: a ULA /64 or /120 (or a documentation /64 standing in for a prefix the user owns),
    now and then a node's own address6 (past every derived one), IPv6 egress on a masquerading hub."""
    ula = f"fd{draw(st.integers(0, 0xFF)):02x}:{draw(st.integers(0, 0xFFFF)):x}:{draw(st.integers(0, 0xFFFF)):x}::"
    prefix = draw(st.sampled_from([64, 120]))
    base = draw(st.sampled_from([ula, f"2001:db8:{draw(st.integers(0, 0xFFFF)):x}::"]))
    network6 = ipaddress.IPv6Network(f"{base}/{prefix}")
    raw["network6"] = str(network6)
    nodes = [raw["hub"], *raw.get("sites", []), *raw.get("peers", [])]
    for i, node in enumerate(nodes):
        if prefix == 64 and draw(st.integers(0, 3)) == 0:
            node["address6"] = str(network6.network_address + 0x1000 + i)  # an IPv4 /24's offsets end at 255
    hub = raw["hub"]
    if hub.get("masquerade") and draw(st.booleans()):
        hub["ipv6Egress"] = True
        if hub["kind"] == "aws":
            hub["aws"] = {**hub.get("aws", {}), "subnetId": "subnet-0123456789abcdef0"}
