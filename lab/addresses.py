"""The lab's own addresses, from named pools: nothing of the lab is a scattered literal.

Why: the stack's own networks (VPN, LANs) are used as written, so the lab's
networks must keep out of their way. Public addresses come from TEST-NET-3
(203.0.113.0/24, RFC 5737) only; the NAT boxes' insides and the management
network are private /24 blocks picked from what the stack leaves free.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Network

INTERNET = IPv4Network("203.0.113.0/24")
"""The lab's internet: one bridge in the `internet` namespace; nothing routes out of it."""


def _public(offset: int) -> str:
    return str(INTERNET.network_address + offset)


INTERNET_GATEWAY = _public(254)  # the internet bridge itself: every public box's default route
HUB_PUBLIC = _public(1)  # the hub (or the home router in front of it)
WEB = _public(80)  # a web host that logs who reached it (full-tunnel egress)
OPERATOR_PUBLIC = _public(99)  # where `pulumi up` runs; also the management network's router
ADDED_PEER_PUBLIC = _public(90)  # the NAT box of the peer a scenario adds on the fly
CLOUD_API = _public(250)  # moto's SSM API (aws hubs)
RESOLVER = _public(251)  # the lab's DNS server: a peer's public DNS server is rewritten to it

INTERNET_MORE = IPv4Network("198.51.100.0/24")
"""More of the lab's internet, on the same bridge (TEST-NET-2, RFC 5737): the NAT boxes past INTERNET's 30.
The internet namespace routes between the two, as an ISP's core would."""
INTERNET_MORE_GATEWAY = str(INTERNET_MORE.network_address + 254)
MORE_NAT_BOXES = range(1, 254)
"""Offsets in INTERNET_MORE of NAT box number 30, 31, ...: .1, .2, ... (253 more, 283 in all)."""

PUBLIC_SPOKES = range(10, 40)
"""Offsets of spokes with a static endpoint: spoke number i is at .10+i."""
NAT_BOXES = range(50, 80)
"""Offsets of the NAT boxes' WANs (café, home router, CGNAT) of spokes without an endpoint: .50+i."""
WAN_CHANGE = 100  # a site's WAN that changes (ISP reconnect) moves up by this
ROAM = 110  # a laptop that changes café moves up by this

INTERNET6 = IPv6Network("2001:db8::/64")
"""The lab internet's IPv6 (RFC 3849), given to a café only by the IPv6 fault scenario."""
WEB6 = str(INTERNET6.network_address + 0x80)  # an IPv6-only web host there
HUB6 = str(INTERNET6.network_address + 1)  # the hub's IPv6 WAN address, for a hub with ipv6Egress
CAFE6_WAN = 0x10  # café number i's WAN: 2001:db8::10+i
PUBLIC6 = 0x100  # spoke number i with a static endpoint, when the hub is dialled over IPv6: 2001:db8::100+i
CAFE6_INSIDE = "2001:db8:1:{index:x}::/64"  # café number i's inside network

LAB_NAME = "web.lab.example"
"""The one name the lab resolver answers (with WEB); `.example` is reserved (RFC 2606)."""

PRIVATE_POOLS = (
    IPv4Network("192.168.0.0/16"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("10.0.0.0/8"),
)
"""Where a home router's or café's inside network comes from, in the order real ones use them."""
MANAGEMENT_POOLS = (PRIVATE_POOLS[1], PRIVATE_POOLS[0], PRIVATE_POOLS[2])
"""Where the management network (the operator's SSH into managed hosts) comes from."""


class LabSetupError(RuntimeError):
    """The lab cannot build this stack's world (it says why, as a FAIL row)."""


def spoke_public(index: int) -> str:
    """The public address of spoke number INDEX with a static endpoint."""
    if index >= len(PUBLIC_SPOKES):
        raise LabSetupError(f"the lab has public addresses for {len(PUBLIC_SPOKES)} spokes, not {index + 1}")
    return _public(PUBLIC_SPOKES[index])


def nat_box_public(index: int) -> str:
    """The WAN address of the NAT box in front of spoke number INDEX: in INTERNET, then in INTERNET_MORE."""
    if index < len(NAT_BOXES):
        return _public(NAT_BOXES[index])
    more = index - len(NAT_BOXES)
    if more >= len(MORE_NAT_BOXES):
        raise LabSetupError(f"the lab has NAT boxes for {len(NAT_BOXES) + len(MORE_NAT_BOXES)} spokes, not {index + 1}")
    return str(INTERNET_MORE.network_address + MORE_NAT_BOXES[more])


def on_the_internet(address: str) -> tuple[IPv4Network, str]:
    """The lab internet network ADDRESS is on, and that network's gateway (its default route)."""
    if IPv4Address(address) in INTERNET_MORE:
        return INTERNET_MORE, INTERNET_MORE_GATEWAY
    return INTERNET, INTERNET_GATEWAY


def moved(address: str, by: int) -> str:
    """A public address after its uplink got a new one (WAN_CHANGE, ROAM)."""
    new = IPv4Address(address) + by
    if new not in INTERNET or str(new) in (INTERNET_GATEWAY, WEB, CLOUD_API, RESOLVER, OPERATOR_PUBLIC):
        raise LabSetupError(f"{address} cannot move by {by} inside {INTERNET}")
    return str(new)


class FreeBlocks:
    """Private /24 blocks that overlap none of the stack's networks nor each other.

    Why: a café at 192.168.1.0/24 in front of a laptop whose home LAN is 192.168.1.0/24
    breaks routing in ways no check is about; the lab keeps its own networks apart.
    """

    def __init__(self, taken: Iterable[IPv4Network]) -> None:
        self.taken: list[IPv4Network] = list(taken)

    def take(self, pools: tuple[IPv4Network, ...] = PRIVATE_POOLS) -> IPv4Network:
        for block in self._candidates(pools):
            if not any(block.overlaps(t) for t in self.taken):
                self.taken.append(block)
                return block
        raise LabSetupError("no private /24 left that the stack does not use")

    @staticmethod
    def _candidates(pools: tuple[IPv4Network, ...]) -> Iterator[IPv4Network]:
        for pool in pools:
            yield from pool.subnets(new_prefix=24)


def stack_networks(vpn) -> list[IPv4Network]:
    """Every network the stack itself uses: the VPN and all LANs."""
    return [vpn.network, *(lan for node in vpn.nodes for lan in node.lans)]


def host(network: IPv4Network, offset: int) -> str:
    """Address number OFFSET of NETWORK (1: its gateway)."""
    address = network.network_address + offset
    if address not in network or address == network.broadcast_address:
        raise LabSetupError(f"{network} has no host number {offset}")
    return str(address)


def inside(addresses: Iterable[str], networks: Iterable[IPv4Network]) -> list[str]:
    """The ADDRESSES that lie in one of NETWORKS (IPv6 addresses never do: the stack's networks are IPv4)."""
    nets = list(networks)
    out = []
    for a in addresses:
        ip = ipaddress.ip_address(a)
        if ip.version == 4 and any(ip in n for n in nets):
            out.append(a)
    return out
