"""The typed, immutable description of one VPN: a hub and its spokes.

Everything downstream (address plan, rendering, the Pulumi layer, the lab)
reads these objects and nothing else, so a stack file is parsed exactly once.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import ipaddress
from dataclasses import dataclass
from typing import Any, Literal, get_args

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address
IPv6Network = ipaddress.IPv6Network
IPv6Address = ipaddress.IPv6Address

HubKind = Literal["aws", "ssh"]
SpokeKind = Literal["site", "peer"]
Tunnel = Literal["split", "full"]
UplinkType = Literal["ethernet", "pppoe", "dslite"]
# How a node gets its config: pushed over SSH, pulled from SSM by the aws gateway, or handed
# over as a file and QR code (phones, laptops, a router you configure yourself).
Delivery = Literal["aws", "ssh", "file"]
# Where its private key comes from: made on the host (never leaves it), derived from the
# stack's secret seed, or the user's own (only the public key is in the stack).
KeySource = Literal["host", "derived", "own"]

Protocol = Literal["tcp", "udp"]
Action = Literal["reject", "drop", "accept"]

DEFAULT_LISTEN_PORT = 51820
DEFAULT_KEEPALIVE = 25
DEFAULT_DOMAIN = "home.arpa"  # RFC 8375: the special-use domain for home networks, never delegated on the internet


def default(cls: type, name: str) -> Any:
    """The default of field NAME of model class CLS: declared once, here, and read by the parser."""
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def choices(kind: Any) -> tuple[str, ...]:
    """The values a Literal type allows, in its order: what the parser offers in its messages."""
    return get_args(kind)


PortProtocol = Literal["tcp", "udp", "icmp"]


@dataclass(frozen=True)
class PortSpec:
    """`tcp/445`, `udp/137-138`, `icmp`: what a rule allows; a rule without any allows every protocol."""

    protocol: PortProtocol
    first: int | None = None
    last: int | None = None

    def __str__(self) -> str:
        if self.first is None:
            return self.protocol
        return f"{self.protocol}/{self.first}" + (f"-{self.last}" if self.last != self.first else "")

    @property
    def nft(self) -> str:
        """The port as an nftables set element: 445 or 137-138."""
        return str(self.first) if self.last == self.first else f"{self.first}-{self.last}"


@dataclass(frozen=True)
class AccessRule:
    """Traffic from SOURCES (spokes, groups, hosts, the hub's LANs) to DESTINATIONS may start; PORTS: () is all."""

    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    ports: tuple[PortSpec, ...] = ()


@dataclass(frozen=True)
class AccessPolicy:
    """Named groups of spokes, and the rules between spokes, groups, nodes and the stack's named hosts (Vpn.hosts)."""

    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    rules: tuple[AccessRule, ...] = ()

    def group(self, name: str) -> tuple[str, ...] | None:
        return dict(self.groups).get(name)


@dataclass(frozen=True)
class SshTarget:
    """How the Pulumi layer (or the lab) reaches a host that manages itself."""

    host: str
    port: int = 22
    user: str = "root"


@dataclass(frozen=True)
class Uplink:
    """The node's own internet link; it decides the tunnel MTU (docs/lab-notes.md 11)."""

    type: UplinkType = "ethernet"
    ipv6: bool = False  # True when the tunnel's outer packets travel over IPv6
    mtu: int | None = None  # the link's MTU when it is not the type's usual one (DS-Lite: the IPv6 line's)


@dataclass(frozen=True)
class AddressRange:
    """An inclusive first-last range, as routers show DHCP pools."""

    first: IPv4Address
    last: IPv4Address

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPv4Address) and self.first <= address <= self.last

    def overlaps(self, other: AddressRange) -> bool:
        return self.first <= other.last and other.first <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class ProxyArp:
    """The guide's internal-host setup: VPN addresses carved out of the LAN."""

    vpn_range: AddressRange
    dhcp_range: AddressRange | None = None


@dataclass(frozen=True)
class ForwardRule:
    """A forward-chain rule for traffic arriving from the tunnel (guide: no SSH between sites)."""

    protocol: Protocol
    port: int
    action: Action = "reject"


@dataclass(frozen=True)
class Resolver:
    """The hub's DNS server for the VPN (wgsites/resolver.py): names for every node and LAN host, on its VPN
    addresses only; other names go to FORWARDERS, or to the resolvers the hub itself uses when there are none."""

    forwarders: tuple[str, ...] = ()


@dataclass(frozen=True)
class AwsOptions:
    instance_type: str = "t4g.nano"
    admin_cidrs: tuple[str, ...] = ()
    sync_seconds: int = 30
    subnet_id: str | None = None  # None: a subnet of the region's default VPC
    vpc_id: str | None = None  # only to check that subnet_id is in the VPC the user meant
    ami: str | None = None  # a pinned image; None: the newest Ubuntu 24.04 at creation, kept afterwards


@dataclass(frozen=True)
class Hub:
    """The node every spoke talks to: an AWS VM or a Linux box you already run."""

    name: str
    kind: HubKind
    address: IPv4Address
    interface: str = "wg0"
    listen_port: int = DEFAULT_LISTEN_PORT
    endpoint: str | None = None  # host or host:port; for an aws hub, None means its Elastic IP
    lans: tuple[IPv4Network, ...] = ()
    forwarding: bool = True
    masquerade: str | bool = False  # egress interface name, True for "anything but the tunnel"
    proxy_arp: ProxyArp | None = None
    uplink: Uplink = Uplink()
    ssh: SshTarget | None = None
    aws: AwsOptions = AwsOptions()
    aliases: tuple[str, ...] = ()  # the names it had before, oldest first (a rename keeps its resources)
    address6: IPv6Address | None = None  # its IPv6 VPN address when not the one derived from `address`
    ipv6_egress: bool = False  # the hub has IPv6 to the internet: full-tunnel peers' IPv6 leaves through it
    dns: Resolver | None = Resolver()  # None: the hub serves no DNS (`dns: false`)

    @property
    def first_name(self) -> str:
        """The name it was created with: its derived key and its gateway's bootstrap follow it through renames."""
        return self.aliases[0] if self.aliases else self.name

    @property
    def delivery(self) -> Delivery:
        return "aws" if self.kind == "aws" else "ssh"

    @property
    def key_source(self) -> KeySource:
        return "derived" if self.kind == "aws" else "host"

    @property
    def is_device(self) -> bool:
        return False


@dataclass(frozen=True)
class Spoke:
    """A site (a gateway with LANs behind it) or a roaming peer (laptop, phone)."""

    name: str
    kind: SpokeKind
    address: IPv4Address
    interface: str = "wg0"
    lans: tuple[IPv4Network, ...] = ()
    endpoint: str | None = None  # set only when the spoke has a static public address
    listen_port: int | None = None
    keepalive: int = DEFAULT_KEEPALIVE
    tunnel: Tunnel = "split"
    dns: tuple[str, ...] = ()  # its own DNS servers; none given: the hub's resolver, when it has one
    no_dns: bool = False  # `dns: none`: no `DNS =` line at all, whatever the hub serves
    public_key: str | None = None  # bring your own key: no private key is generated
    ssh: SshTarget | None = None  # managed over SSH: the host makes its own key
    file: str | None = None  # local path the Pulumi layer writes the config to (0600)
    uplink: Uplink = Uplink()
    aliases: tuple[str, ...] = ()  # the names it had before, oldest first (a rename keeps its resources)
    preshared_key: bool | None = None  # a preshared key with the hub; None: the stack's (Vpn.preshared_key)
    address6: IPv6Address | None = None  # its IPv6 VPN address when not the one derived from `address`
    expires: datetime.datetime | None = None  # (UTC) after it the hub refuses its traffic (wgsites/stack/access.py)

    @property
    def first_name(self) -> str:
        """The name it was created with: its derived key follows it through renames."""
        return self.aliases[0] if self.aliases else self.name

    @property
    def delivery(self) -> Delivery:
        return "ssh" if self.ssh is not None else "file"

    @property
    def key_source(self) -> KeySource:
        if self.ssh is not None:
            return "host"
        return "own" if self.public_key else "derived"

    @property
    def is_device(self) -> bool:
        """A phone or laptop whose config an official WireGuard app imports: only the keys the apps know."""
        return self.kind == "peer" and self.delivery == "file"


@dataclass(frozen=True)
class Vpn:
    """One stack = one VPN."""

    network: IPv4Network
    hub: Hub
    spokes: tuple[Spoke, ...] = ()
    forward_rules: tuple[ForwardRule, ...] = ()
    preshared_key: bool = False  # every hub-spoke pair gets a preshared key, unless a spoke says otherwise
    network6: IPv6Network | None = None  # the optional IPv6 VPN network beside `network` (dual stack)
    metrics_dir: str | None = None  # node_exporter's textfile folder on every managed host; None: no metrics files
    access: AccessPolicy | None = None  # who may reach what (parsed and checked in access.py); None: everyone reaches everything
    domain: str = DEFAULT_DOMAIN  # every node is <name>.<domain> on the hub's resolver
    # named hosts and networks on the VPN's LANs (a NAS: a /32 or /128; a whole LAN): the one place a host gets
    # its name, read by the resolver (<name>.<domain> for each single address) and the access policy's rules
    hosts: tuple[tuple[str, IPv4Network | IPv6Network], ...] = ()

    def host(self, name: str) -> IPv4Network | IPv6Network | None:
        """The address (a /32 or /128) or network named NAME under `hosts`; None for any other name."""
        return dict(self.hosts).get(name)

    def has_preshared_key(self, spoke: Spoke) -> bool:
        """Whether the pair hub-SPOKE uses a preshared key: the spoke's own setting, else the stack's."""
        return self.preshared_key if spoke.preshared_key is None else spoke.preshared_key

    @functools.cached_property
    def preshared_spokes(self) -> tuple[Spoke, ...]:
        """The spokes whose pair with the hub has a preshared key (derived from wgsites:keySeed)."""
        return tuple(s for s in self.spokes if self.has_preshared_key(s))

    def address6_of(self, node: Hub | Spoke) -> IPv6Address | None:
        """NODE's IPv6 VPN address: its own `address6`, else network6 plus its IPv4 address's offset in
        `network` (10.99.0.10 in 10.99.0.0/24 -> network6 + 10), so adding network6 numbers nobody anew."""
        if self.network6 is None:
            return None
        if node.address6 is not None:
            return node.address6
        return self.network6.network_address + (int(node.address) - int(self.network.network_address))

    @property
    def nodes(self) -> tuple[Hub | Spoke, ...]:
        return (self.hub, *self.spokes)

    @functools.cached_property
    def own_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """Every network the VPN carries: its tunnel networks and each node's LANs (what the policy's `internet` is
        not, what masquerade leaves alone, where a named host may lie)."""
        return (self.network, *((self.network6,) if self.network6 else ()), *(lan for n in self.nodes for lan in n.lans))

    def node(self, name: str) -> Hub | Spoke:
        return self._by_name[name]

    @functools.cached_property
    def spoke_names(self) -> frozenset[str]:
        """Every spoke's name, made once: a policy's names are looked up in it for each of a thousand spokes."""
        return frozenset(s.name for s in self.spokes)

    @functools.cached_property
    def _by_name(self) -> dict[str, Hub | Spoke]:
        """Every node by name, made once: rendering looks a node up for each of a thousand peers."""
        return {node.name: node for node in self.nodes}

    @functools.cached_property
    def spokes_with_lans(self) -> tuple[Spoke, ...]:
        """The spokes that route LANs (sites, mostly): what every split-tunnel peer's AllowedIPs walk."""
        return tuple(s for s in self.spokes if s.lans)

    @property
    def sites(self) -> tuple[Spoke, ...]:
        return tuple(s for s in self.spokes if s.kind == "site")

    @property
    def peers(self) -> tuple[Spoke, ...]:
        return tuple(s for s in self.spokes if s.kind == "peer")
