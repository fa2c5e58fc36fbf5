"""The stack file's keys, declared once: the parser accepts exactly these, and docs/reference.md is made of them.

Each object of `wgsites:vpn` (and the scalar keys beside it) is a table of Keys: the name the
parser looks for, the default it applies (read from the model, wgsites/stack/model.py), and how the
reference shows it. `scripts/readme-reference` writes the tables into docs/reference.md; a unit
test fails when that block is not what this module makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import (
    DEFAULT_DOMAIN,
    DEFAULT_LISTEN_PORT,
    Action,
    AwsOptions,
    ForwardRule,
    Hub,
    HubKind,
    Protocol,
    Resolver,
    Spoke,
    SshTarget,
    Tunnel,
    Uplink,
    UplinkType,
    Vpn,
    choices,
    default,
)

REQUIRED = ...  # no default: the parser reports the key missing (Reader.get's own sentinel)


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # as the reference shows it (Markdown)
    meaning: str
    default: Any = REQUIRED  # the value the parser applies when the key is absent
    shown: str | None = None  # the default as the reference shows it, when the value alone would not say it
    only: str | None = None  # "peers": a key only roaming peers have

    @property
    def default_text(self) -> str:
        if self.shown is not None:
            return self.shown
        return shown_value(self.default)


def shown_value(value: Any) -> str:
    if value is REQUIRED:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple | list):
        return "`[]`" if not value else f"`{list(value)}`"
    return f"`{value}`"


def one_of(kind: Any) -> str:
    return " \\| ".join(f"`{c}`" for c in choices(kind))


def alternatives(kind: Any) -> str:
    """`tcp\\|udp`: a Literal's choices inside one code span of a table cell."""
    return "\\|".join(choices(kind))


def inline(table: tuple[Key, ...]) -> str:
    """An object's keys with their defaults, as one type cell: `{host, port: 22, user: root}`."""
    parts = []
    for key in table:
        if key.default is REQUIRED or key.default is None:
            parts.append(key.name)
        elif isinstance(key.default, bool):
            parts.append(f"{key.name}: {str(key.default).lower()}")
        elif isinstance(key.default, tuple):
            parts.append(f"{key.name}: {list(key.default)}")
        else:
            parts.append(f"{key.name}: {key.default}")
    return "{" + ", ".join(parts) + "}"


def names(table: tuple[Key, ...], kind: str | None = None) -> set[str]:
    """The keys TABLE accepts (for KIND "peers", also the peers-only ones)."""
    return {k.name for k in table if k.only is None or k.only == kind}


def key(table: tuple[Key, ...], name: str) -> Key:
    return next(k for k in table if k.name == name)


def default_of(table: tuple[Key, ...], name: str) -> Any:
    return key(table, name).default


SSH = (
    Key("host", "host name or address", "where sshd listens"),
    Key("port", "1-65535", "sshd's port", default(SshTarget, "port")),
    Key("user", "login", "a non-root user needs passwordless sudo", default(SshTarget, "user")),
)

UPLINK = (
    Key("type", one_of(UplinkType), "the link's kind", default(Uplink, "type")),
    Key("ipv6", "bool", "the tunnel's outer packets travel over IPv6", default(Uplink, "ipv6")),
    Key(
        "mtu",
        "1280-9000",
        "the link's MTU when it is not the type's usual one (DS-Lite: the IPv6 line's; IPv4 gets 40 less)",
        default(Uplink, "mtu"),
    ),
)

PROXY_ARP = (
    Key("vpnRange", "`A-B`", "addresses for VPN users, inside the LAN"),
    Key("dhcpRange", "`C-D`", "the router's DHCP range, which vpnRange must miss", None),
)

AWS = (
    Key(
        "instanceType",
        "EC2 instance type",
        "Graviton types get the arm64 AMI; a type of the other architecture replaces the instance (docs/day-two.md)",
        default(AwsOptions, "instance_type"),
    ),
    Key("adminCidrs", "list of networks", "networks allowed to SSH", default(AwsOptions, "admin_cidrs")),
    Key("syncSeconds", "10-3600", "SSM poll period", default(AwsOptions, "sync_seconds")),
    Key("subnetId", "subnet id", "a public subnet for the gateway (an account without a default VPC)", None),
    Key("vpcId", "VPC id", "checked against `subnetId`'s VPC (needs `subnetId`)", None),
    Key(
        "ami",
        "AMI id",
        "a pinned image for the gateway, of the instance type's architecture (checked with AWS first); a change "
        "replaces the instance, keeping the Elastic IP and the keys; none: the newest Ubuntu 24.04 at creation and "
        "at each replacement, never itself a reason for one (docs/day-two.md)",
        None,
    ),
)

RESOLVER = (
    Key(
        "forwarders",
        "list of IPs",
        "where names outside the VPN's domain go; none: the resolvers the hub itself uses (its /etc/resolv.conf)",
        default(Resolver, "forwarders"),
    ),
)

FORWARD_RULE = (
    Key("protocol", one_of(Protocol), "the protocol matched"),
    Key("port", "1-65535", "the destination port matched"),
    Key("action", one_of(Action), "what happens to a match", default(ForwardRule, "action")),
)

ACCESS_RULE = (
    Key(
        "from",
        "name or list of names",
        "who starts the traffic: spokes, groups, hosts, or the hub (its LANs); a site stands for its tunnel address "
        "and its LANs, whose hosts keep their own source addresses",
    ),
    Key(
        "to",
        "name or list of names",
        "what it reaches: spokes, groups, hosts, the hub (itself, its SSH and DNS, and its LANs), or `internet` "
        "(everything outside the VPN, for full-tunnel peers)",
    ),
    Key(
        "ports",
        "list of `tcp/N`, `udp/N`, `tcp/N-M`, `icmp`",
        "what the rule allows; none: every protocol and port (ping included)",
        (),
    ),
)

ACCESS = (
    Key(
        "groups",
        "object `group: [spokes]`",
        "named groups of spokes; a group named `guests` or `guests-*` may reach hosts, never a whole LAN (the policy pack)",
        (),
    ),
    Key("rules", "list", "`{from, to, ports}`: what may start; replies pass statefully; everything else is refused", ()),
)

UPLINK_DEFAULT = f"`{default(Uplink, 'type')}`"
UPLINK_TYPE = f"{one_of(UplinkType)} or `{inline(UPLINK)}`"

VPN = (
    Key(
        "network",
        "IPv4 network",
        "the VPN network; `/31` allowed for a site-to-site link (RFC 3021); with proxy ARP, the LAN itself",
    ),
    Key(
        "listenPort",
        "1-65535",
        "the hub's UDP port (the only port the AWS security group opens); a change costs each site its tunnel from the "
        "hub's reload until its own (1-6 pings at 100 ms measured; as long as its install takes), and each device its "
        "tunnel until its config is imported again (docs/day-two.md)",
        DEFAULT_LISTEN_PORT,
    ),
    Key(
        "network6",
        "IPv6 network, `/48`-`/120`",
        "an IPv6 VPN network beside `network` (a ULA `fd..::/64`, or a prefix you own): every node gets an address "
        "in it too (below), and AllowedIPs, routes, forwarding and the firewall cover it",
        None,
    ),
    Key("hub", "object", "the node every spoke talks to (below)"),
    Key("sites", "list", "gateways with LANs behind them (spokes, below)", ()),
    Key("peers", "list", "roaming devices: laptops, phones (spokes, below)", ()),
    Key(
        "forwardRules",
        "list",
        f"`{{protocol: {alternatives(Protocol)}, port, action: {alternatives(Action)}}}` applied to "
        'traffic arriving from the tunnel on the hub and every site gateway (the guide\'s "no SSH between sites"); '
        f"`action` defaults to `{default(ForwardRule, 'action')}`; loaded in PostUp, removed in PreDown",
        (),
    ),
    Key(
        "access",
        "`{groups, rules}`",
        "who may reach what (README: Who may reach what): a stack that declares it is default-deny for traffic "
        "to, from and through the tunnel, enforced by the hub's nftables; without it every spoke reaches every "
        "node and LAN",
        None,
    ),
    Key(
        "presharedKey",
        "bool",
        "a preshared key (WireGuard's `PresharedKey`, post-quantum hardening) for every hub-spoke pair, derived "
        "from `wgsites:keySeed`; a spoke's own `presharedKey` overrides it (docs/deploy.md, Preshared keys)",
        default(Vpn, "preshared_key"),
    ),
    Key(
        "metricsDir",
        "absolute path",
        "node_exporter's textfile folder (Debian's: `/var/lib/prometheus/node-exporter`): every host managed over SSH "
        "(a timer, each minute) and an aws hub (its agent, each sync) write their tunnels' Prometheus metrics to "
        "`wgsites-IFACE.prom` there (docs/monitoring.md)",
        default(Vpn, "metrics_dir"),
    ),
    Key(
        "domain",
        "DNS name",
        "the VPN's domain on the hub's resolver: every node is `<name>.<domain>`, every host `<host>.<domain>`; "
        "`home.arpa` is reserved for home networks (RFC 8375), or use a domain you own (docs: README, Names)",
        DEFAULT_DOMAIN,
    ),
    Key(
        "hosts",
        "object `name: address or network`",
        "hosts and networks on the VPN's LANs by name (`nas: 192.168.1.20`, `office-lan: 192.168.10.0/24`), the one "
        "place a host gets its name: a single address (bare, `/32` or `/128`) is `<name>.<domain>` on the hub's "
        "resolver, forward and reverse, a network gets no DNS name; the access policy's rules name both; each on "
        "the VPN network or a LAN of the VPN",
        (),
        shown="`{}`",
    ),
)

HUB = (
    Key("name", "name", "lowercase letters, digits, dashes"),
    Key("kind", one_of(HubKind), "a new AWS VM, or a Linux host you already run (reached over SSH)"),
    Key("address", "IPv4", "its VPN address (inside `network`)"),
    Key(
        "address6",
        "IPv6",
        "its address in `network6`",
        None,
        shown="`network6` + the offset of `address` in `network`",
    ),
    Key(
        "interface",
        "interface name",
        "at most 15 characters; no `+` or `=` on a host (systemd's unit names)",
        default(Hub, "interface"),
    ),
    Key(
        "endpoint",
        "`host` or `host:port`",
        "what spokes dial; required for `kind: ssh` (a DNS name for a dynamic address)",
        None,
        shown="aws: its Elastic IP",
    ),
    Key("lans", "list of networks", "networks behind the hub that spokes reach through it", ()),
    Key("forwarding", "bool", "writes `net.ipv4.ip_forward = 1` as a sysctl drop-in", default(Hub, "forwarding")),
    Key(
        "masquerade",
        "interface name or bool",
        "NAT VPN traffic out of that interface (`true`: out of anything but the tunnel); required for full-tunnel peers",
        default(Hub, "masquerade"),
    ),
    Key(
        "proxyArp",
        f"`{inline(PROXY_ARP).replace('vpnRange', 'vpnRange: A-B').replace('dhcpRange', 'dhcpRange: C-D')}`",
        "the internal-host setup: VPN users get LAN addresses from `vpnRange`, which must lie in the LAN and miss "
        "the router's DHCP range; `lans` must be `[network]`",
        None,
    ),
    Key(
        "ipv6Egress",
        "bool",
        "the hub has IPv6 to the internet (an aws hub: an IPv6 address in a dual-stack subnet): full-tunnel peers' "
        "IPv6 leaves through it (masqueraded with `masquerade`); `false`: IPv6 from the tunnel to anything outside "
        "`network6` is rejected, never leaked (needs `network6`)",
        default(Hub, "ipv6_egress"),
    ),
    Key("uplink", UPLINK_TYPE, "the hub's internet link; decides the tunnel MTU", Uplink(), shown=UPLINK_DEFAULT),
    Key(
        "dns",
        f"bool or `{inline(RESOLVER)}`",
        "the hub serves DNS for the VPN on its VPN addresses only (a dnsmasq of its own; docs: README, Names): "
        "names for every node and host, reverse lookups, the rest forwarded; peers without `dns` use it; "
        "`false`: no resolver, and full-tunnel peers need their own `dns`",
        True,
    ),
    Key(
        "ssh",
        f"`{inline(SSH)}`",
        "for `kind: ssh`: where Pulumi connects (a non-root user needs passwordless sudo)",
        None,
    ),
    Key(
        "aws",
        f"`{inline(AWS)}`",
        "for `kind: aws`: instance type (Graviton types get the arm64 AMI), networks allowed to SSH "
        "(none by default), SSM poll period, where the VM goes: `subnetId` (a public subnet, for an account "
        "without a default VPC) and `vpcId` (checked against it), and `ami`, a pinned image",
        AwsOptions(),
        shown="",
    ),
    Key(
        "aliases",
        "list of names",
        "the names it had before, oldest first: a rename keeps its resources and its derived key (docs/day-two.md)",
        (),
    ),
)

SPOKE = (
    Key("name", "name", "as for the hub"),
    Key("address", "IPv4", "as for the hub"),
    Key("address6", "IPv6", "as for the hub", None, shown="`network6` + the offset of `address` in `network`"),
    Key("interface", "interface name", "as for the hub", default(Spoke, "interface")),
    Key("lans", "list of networks", "networks behind this spoke, routed (never NATed) to the rest of the VPN", ()),
    Key("endpoint", "`host:port`", "only when the spoke has a static public address (site-to-site)", None),
    Key("listenPort", "1-65535", "", None, shown="port of `endpoint`, else random"),
    Key(
        "keepalive",
        "seconds, 0 = off",
        "sent by spokes without an endpoint (behind NAT/CGNAT) so the hub can always reach them",
        default(Spoke, "keepalive"),
    ),
    Key(
        "ssh",
        "`{host, port, user}`",
        "managed over SSH: the host makes its own key; the config is pushed and reloaded in place",
        None,
    ),
    Key("publicKey", "base64 key", "bring your own key (the device keeps its private key); not with `ssh`", None),
    Key("uplink", "as for the hub", "", Uplink(), shown=UPLINK_DEFAULT),
    Key(
        "tunnel",
        one_of(Tunnel),
        "`split`: the VPN network and every LAN behind the hub; `full`: `0.0.0.0/0` and `::/0`",
        default(Spoke, "tunnel"),
        only="peers",
    ),
    Key(
        "dns",
        "list of IPs, or `none`",
        "`DNS =` in the peer's config; none given: the hub's resolver (`full`: `DNS = <hub>`; `split`: "
        "`DNS = <hub>, <domain>`), required with `tunnel: full` when the hub serves no DNS (else lookups leave "
        "outside the tunnel); `none`: no `DNS =` line",
        (),
        shown="the hub's resolver",
        only="peers",
    ),
    Key(
        "file",
        "path ending `.conf`",
        "also write the config (with its key, 0600) to this local path, in a folder only you can write; "
        "never over a file wgsites did not write",
        None,
        only="peers",
    ),
    Key("aliases", "list of names", "as for the hub", ()),
    Key(
        "presharedKey",
        "bool",
        "a preshared key for this spoke's pair with the hub (`true`), or none (`false`)",
        default(Spoke, "preshared_key"),
        shown="`wgsites:vpn.presharedKey`",
    ),
    Key(
        "expires",
        "`YYYY-MM-DD HH:MM` (UTC), or `'YYYY-MM-DD'` quoted",
        "after it the hub refuses this spoke's traffic (an nftables time match: no `up` needed); `check` names "
        "spokes that expire within 14 days and `status` says expired",
        None,
    ),
)

# The keys beside `wgsites:vpn` in the stack file (scalars and secrets; the program reads them, check validates them).
STACK = (
    Key(
        "wgsites:keySeed",
        "secret, base64 of 32-64 random bytes",
        "the keys of an AWS hub and of roaming devices, and every preshared key, are derived from it; required when "
        "the stack has such nodes or preshared keys",
    ),
    Key("wgsites:keyRotations", "object `node: number`", "raise a node's number to give it (alone) a new derived key"),
    Key(
        "wgsites:presharedKeyRotations",
        "object `spoke: number`",
        "raise a spoke's number to give its pair with the hub a new preshared key (both ends in one `up`)",
    ),
    Key("wgsites:sshPrivateKeyPath", "path", "SSH key for the hosts managed over SSH (default: the SSH agent)"),
    Key("wgsites:sshPrivateKey", "secret", "the same key as a secret value; wins over the path"),
    Key("wgsites:sshPrivateKeyPassword", "secret", "the passphrase of that key, if it has one (only with a key)"),
    Key(
        "wgsites:autoDeploy",
        "bool",
        "`true`: CI runs `pulumi up` for this stack on every push to main (docs/ci.md); otherwise CI only previews it",
        False,
    ),
    Key(
        "wgsites:driftCheck",
        "bool",
        "`true`: every preview and up reads what each SSH-managed host runs (`wg show`), and a host that drifted "
        "(a peer added by hand, another port, a lost key file) gets a repair (docs/day-two.md); `false`: no SSH read",
        True,
    ),
    Key("aws:region", "string", "where the AWS gateway and its SSM parameters live"),
)
