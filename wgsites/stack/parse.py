"""Stack configuration -> model.

The VPN lives in the stack file as one object under the key `wgsites:vpn`. Which keys each
object has, and their defaults, are declared in schema.py (the README's reference is made from it).
Every user mistake becomes one line that names the key, the bad value and the
fix; all of them are collected and raised together as ConfigError, before
anything is created or changed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from .access import check_access, parse_access, parse_expires
from .endpoints import ip_text, split_endpoint
from .errors import ConfigError
from .model import (
    DEFAULT_LISTEN_PORT,
    Action,
    AwsOptions,
    ForwardRule,
    Hub,
    HubKind,
    Protocol,
    ProxyArp,
    Resolver,
    Spoke,
    SshTarget,
    Tunnel,
    Uplink,
    UplinkType,
    Vpn,
    choices,
)
from .reader import Reader, unsafe_strings
from .schema import AWS, FORWARD_RULE, HUB, PROXY_ARP, RESOLVER, SPOKE, SSH, UPLINK, VPN, default_of, names
from .validate import check_vpn

CONFIG_KEY = "wgsites:vpn"


def _ssh(r: Reader, path: str, value: Any) -> SshTarget | None:
    obj = r.mapping(path, value)
    if obj is None:
        return None
    r.unknown_keys(obj, path, names(SSH))
    host = r.get(obj, path, "host", _host(r))
    port = r.get(obj, path, "port", r.integer(1, 65535), default_of(SSH, "port"))
    user = r.get(obj, path, "user", _user(r), default_of(SSH, "user"))
    return SshTarget(host, port, user) if host and port and user else None


def _host(r: Reader) -> Callable[[str, Any], str | None]:
    def convert(path: str, value: Any) -> str | None:
        parsed = split_endpoint(value) if isinstance(value, str) and not value.strip().startswith("[") else None
        if parsed is not None and parsed[1] is None:
            return parsed[0]
        r.fail(path, value, "is not a host name or address; write it like router.lan or 192.0.2.10")
        return None

    return convert


def _user(r: Reader) -> Callable[[str, Any], str | None]:
    def convert(path: str, value: Any) -> str | None:
        if isinstance(value, str) and re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value):
            return value
        r.fail(path, value, "is not a user name; write a login such as root")
        return None

    return convert


def _uplink(r: Reader, path: str, value: Any) -> Uplink | None:
    if isinstance(value, str):
        value = {"type": value}
    obj = r.mapping(path, value)
    if obj is None:
        return None
    r.unknown_keys(obj, path, names(UPLINK))
    return Uplink(
        type=r.get(obj, path, "type", r.choice(*choices(UplinkType)), default_of(UPLINK, "type")),
        ipv6=r.get(obj, path, "ipv6", r.boolean, default_of(UPLINK, "ipv6")),
        mtu=r.get(obj, path, "mtu", r.integer(1280, 9000), default_of(UPLINK, "mtu")),
    )


def _address6(r: Reader, path: str, value: Any) -> ipaddress.IPv6Address | None:
    text = ip_text(value.strip()) if isinstance(value, str) else None
    if text is not None and ":" in text:
        return ipaddress.IPv6Address(text)
    r.fail(path, value, "is not an IPv6 address; write it like fd10:99::2 (no prefix)")
    return None


def _network6(r: Reader, path: str, value: Any) -> ipaddress.IPv6Network | None:
    text = str(value).strip()
    try:
        if "%" in text:
            raise ValueError("zone id")
        return ipaddress.IPv6Network(text)
    except ValueError as exc:
        if "host bits set" in str(exc):
            r.fail(path, value, f"has host bits set; write the network as {ipaddress.IPv6Network(text, strict=False)}")
        else:
            r.fail(path, value, "is not an IPv6 network; write it like fd10:99::/64 (a ULA) or a prefix you own")
        return None


def _masquerade(r: Reader, path: str, value: Any) -> str | bool | None:
    if isinstance(value, bool):
        return value
    return r.interface(path, value)


def _proxy_arp(r: Reader, path: str, value: Any) -> ProxyArp | None:
    obj = r.mapping(path, value)
    if obj is None:
        return None
    r.unknown_keys(obj, path, names(PROXY_ARP))
    vpn_range = r.get(obj, path, "vpnRange", r.address_range, default_of(PROXY_ARP, "vpnRange"))
    dhcp_range = r.get(obj, path, "dhcpRange", r.address_range, default_of(PROXY_ARP, "dhcpRange"))
    return ProxyArp(vpn_range, dhcp_range) if vpn_range else None


def _aws(r: Reader, path: str, value: Any) -> AwsOptions | None:
    obj = r.mapping(path, value)
    if obj is None:
        return None
    r.unknown_keys(obj, path, names(AWS))
    admin = []
    for i, cidr in enumerate(r.get(obj, path, "adminCidrs", r.strings, default_of(AWS, "adminCidrs")) or ()):
        try:
            if "%" in cidr:
                raise ValueError("zone id")
            admin.append(str(ipaddress.ip_network(cidr)))
        except ValueError:
            r.fail(f"{path}.adminCidrs[{i}]", cidr, "is not a network; write it like 198.51.100.7/32")
    instance_type = r.get(obj, path, "instanceType", _instance_type(r), default_of(AWS, "instanceType"))
    return AwsOptions(
        instance_type=instance_type or default_of(AWS, "instanceType"),
        admin_cidrs=tuple(admin),
        sync_seconds=r.get(obj, path, "syncSeconds", r.integer(10, 3600), default_of(AWS, "syncSeconds")),
        subnet_id=r.get(obj, path, "subnetId", _aws_id(r, "subnet"), default_of(AWS, "subnetId")),
        vpc_id=r.get(obj, path, "vpcId", _aws_id(r, "vpc"), default_of(AWS, "vpcId")),
        ami=r.get(obj, path, "ami", _aws_id(r, "ami", "an AMI id", "the EC2 console (Images, AMIs)"), default_of(AWS, "ami")),
    )


def _aws_id(r: Reader, prefix: str, what: str = "", where: str = "the VPC console") -> Callable[[str, Any], str | None]:
    def convert(path: str, value: Any) -> str | None:
        if isinstance(value, str) and re.fullmatch(prefix + r"-(?:[0-9a-f]{8}|[0-9a-f]{17})", value):
            return value
        r.fail(path, value, f"is not {what or f'a {prefix} id'}; copy it from {where}, like {prefix}-0123456789abcdef0")
        return None

    return convert


def _resolver(r: Reader, path: str, value: Any) -> Resolver | bool | None:
    """`dns: true` (the default resolver), `false` (none), or `{forwarders: [...]}`."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, dict):
        r.fail(path, value, "is not true, false or {forwarders: [...]}; write dns: false for no resolver on the hub")
        return None
    obj = r.mapping(path, value)
    if obj is None:
        return None
    r.unknown_keys(obj, path, names(RESOLVER))
    forwarders = r.get(obj, path, "forwarders", r.strings, default_of(RESOLVER, "forwarders"))
    if forwarders is None:
        return None
    return Resolver(forwarders=_addresses(r, f"{path}.forwarders", forwarders, "name resolvers by address, e.g. 9.9.9.9"))


def _spoke_dns(r: Reader, path: str, value: Any) -> tuple[str, ...] | str | None:
    """A peer's `dns`: a list of server addresses, or the word none (no `DNS =` line)."""
    if value == "none":
        return "none"
    servers = r.strings(path, value) if not isinstance(value, str) else None
    if servers is None:
        if isinstance(value, str):
            r.fail(path, value, "is not a list of DNS servers; write dns: [10.10.10.1], or dns: none for no DNS line")
        return None
    return _addresses(r, path, servers, "DNS servers are given by address, e.g. 10.10.10.1")


def _addresses(r: Reader, path: str, values: list[str], fix: str) -> tuple[str, ...]:
    """VALUES (at PATH) each parsed as an IP address, in its parsed form; one that is none fails, with FIX."""
    parsed = [ip_text(value) for value in values]
    for i, address in enumerate(parsed):
        if address is None:
            r.fail(f"{path}[{i}]", values[i], f"is not an IP address; {fix}")
    return tuple(a for a in parsed if a is not None)


def _domain(r: Reader, path: str, value: Any) -> str | None:
    labels = value.lower().rstrip(".").split(".") if isinstance(value, str) else []
    label = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
    if not labels or not all(label.fullmatch(x) for x in labels) or len(".".join(labels)) > 200:
        r.fail(path, value, "is not a DNS domain; write it like home.arpa or vpn.example.com")
        return None
    domain = ".".join(labels)
    if labels[-1] == "local":
        r.fail(path, value, "is multicast DNS's (RFC 6762), which devices never ask a server; use home.arpa")
        return None
    return domain


def _hosts(r: Reader, path: str, value: Any) -> tuple[tuple[str, Any], ...] | None:
    """`name: address or network`: a single address (a NAS) gets a DNS name; either one a name the access rules use."""
    obj = r.mapping(path, value)
    if obj is None:
        return None
    hosts = []
    for name, address in obj.items():
        where = f"{path}.{name}"
        if r.name(where, name) is None:
            continue
        network = _named_network(address)
        if network is None:
            r.fail(where, address, "is not an address or a network; write it like 192.168.1.20 or 192.168.1.0/24")
            continue
        hosts.append((name, network))
    return tuple(hosts)


def _named_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """VALUE as a network (a bare address is its /32 or /128), or None; zone ids refused as in ip_text."""
    if not isinstance(value, str) or "%" in value:
        return None
    try:
        return ipaddress.ip_network(value.strip())
    except ValueError:
        return None


def _aliases(r: Reader, path: str, value: Any) -> tuple[str, ...] | None:
    names_given = r.strings(path, value)
    if names_given is None:
        return None
    for i, name in enumerate(names_given):
        r.name(f"{path}[{i}]", name)
    return names_given


def _instance_type(r: Reader) -> Callable[[str, Any], str | None]:
    def convert(path: str, value: Any) -> str | None:
        # family with a generation digit (t4g, m7i-flex, u-6tb1), then a size EC2 has
        size = r"(nano|micro|small|medium|large|[0-9]*xlarge|metal|metal-[0-9]+xl)"
        if isinstance(value, str) and re.fullmatch(r"[a-z][a-z-]*[0-9][a-z0-9-]*\." + size, value):
            return value
        r.fail(path, value, "is not an EC2 instance type; write it like t4g.nano or t3.micro")
        return None

    return convert


def _hub(r: Reader, path: str, value: Any, default_port: int) -> Hub | None:
    obj = r.mapping(path, value)
    if obj is None:
        return None
    r.unknown_keys(obj, path, names(HUB))

    def get(key: str, convert: Callable[[str, Any], Any]) -> Any:
        return r.get(obj, path, key, convert, default_of(HUB, key))

    fields = dict(
        name=get("name", r.name),
        kind=get("kind", r.choice(*choices(HubKind))),
        address=get("address", r.address),
        interface=get("interface", r.interface),
        listen_port=default_port,
        endpoint=get("endpoint", r.endpoint),
        lans=get("lans", r.networks),
        forwarding=get("forwarding", r.boolean),
        masquerade=get("masquerade", lambda p, v: _masquerade(r, p, v)),
        proxy_arp=get("proxyArp", lambda p, v: _proxy_arp(r, p, v)),
        uplink=get("uplink", lambda p, v: _uplink(r, p, v)),
        ssh=get("ssh", lambda p, v: _ssh(r, p, v)),
        aws=get("aws", lambda p, v: _aws(r, p, v)),
        aliases=get("aliases", lambda p, v: _aliases(r, p, v)),
        address6=get("address6", lambda p, v: _address6(r, p, v)),
        ipv6_egress=get("ipv6Egress", r.boolean),
        dns=get("dns", lambda p, v: _resolver(r, p, v)),
    )
    if fields["kind"] == "ssh" and "ssh" not in obj:
        r.errors.append(f"{path}.ssh: missing for kind: ssh; set ssh.host (and ssh.user, ssh.port if not root and 22)")
    if fields["kind"] == "ssh" and "endpoint" not in obj:
        r.errors.append(
            f"{path}.endpoint: missing for kind: ssh; set the public host or address spokes dial, e.g. home.example.net"
        )
    if fields["kind"] == "ssh" and "aws" in obj:
        r.errors.append(f"{path}.aws: set on an ssh hub, which nothing of aws applies to; remove aws, or use kind: aws")
    _ipv6_endpoint_on_ipv4_uplink(r, path, obj, fields["endpoint"])
    if any(v is None for k, v in fields.items() if k not in ("endpoint", "proxy_arp", "ssh", "address6")):
        return None
    if isinstance(fields["dns"], bool):  # the default `true` is the resolver as it comes; `false` is none
        fields["dns"] = Resolver() if fields["dns"] else None
    return Hub(**fields)


def _ipv6_endpoint_on_ipv4_uplink(r: Reader, path: str, obj: Any, endpoint: str | None) -> None:
    """An endpoint written as an IPv6 address is dialled over IPv6: `uplink.ipv6: false` written beside it
    contradicts it (the MTU follows the endpoint; which one did the author mean?)."""
    uplink = obj.get("uplink")
    parsed = split_endpoint(endpoint) if endpoint else None
    if isinstance(uplink, dict) and uplink.get("ipv6") is False and parsed and ":" in parsed[0]:
        r.errors.append(
            f"{path}.uplink.ipv6: false, but the endpoint {endpoint!r} is an IPv6 address, so the tunnel's outer "
            "packets travel over IPv6; write uplink.ipv6: true, or give an IPv4 address or a name as endpoint"
        )


def _spoke(r: Reader, path: str, value: Any, kind: str) -> Spoke | None:
    obj = r.mapping(path, value)
    if obj is None:
        return None
    r.unknown_keys(obj, path, names(SPOKE, f"{kind}s"))

    def get(key: str, convert: Callable[[str, Any], Any]) -> Any:
        return r.get(obj, path, key, convert, default_of(SPOKE, key))

    fields = dict(
        name=get("name", r.name),
        kind=kind,
        address=get("address", r.address),
        interface=get("interface", r.interface),
        lans=get("lans", r.networks),
        endpoint=get("endpoint", r.endpoint),
        listen_port=get("listenPort", r.integer(1, 65535)),
        keepalive=get("keepalive", r.integer(0, 65535)),
        tunnel=get("tunnel", r.choice(*choices(Tunnel))),
        dns=get("dns", lambda p, v: _spoke_dns(r, p, v)),
        public_key=get("publicKey", r.public_key),
        ssh=get("ssh", lambda p, v: _ssh(r, p, v)),
        file=get("file", _file(r)),
        uplink=get("uplink", lambda p, v: _uplink(r, p, v)),
        aliases=get("aliases", lambda p, v: _aliases(r, p, v)),
        preshared_key=get("presharedKey", r.boolean),
        address6=get("address6", lambda p, v: _address6(r, p, v)),
        expires=get("expires", lambda p, v: parse_expires(r, p, v)),
    )
    if fields["public_key"] and fields["ssh"]:
        r.errors.append(
            f"{path}.publicKey: set together with ssh; a host managed over SSH makes its own key, so remove publicKey"
        )
    if fields["dns"] == "none":
        fields["dns"], fields["no_dns"] = (), True
    _ipv6_endpoint_on_ipv4_uplink(r, path, obj, fields["endpoint"])
    optional = ("endpoint", "listen_port", "public_key", "ssh", "file", "preshared_key", "address6", "expires")
    if any(v is None for k, v in fields.items() if k not in optional):
        return None
    if fields["endpoint"] and fields["listen_port"] is None:
        port = split_endpoint(fields["endpoint"])[1]
        fields["listen_port"] = port
    return Spoke(**fields)


def _file(r: Reader) -> Callable[[str, Any], str | None]:
    def convert(path: str, value: Any) -> str | None:
        if isinstance(value, str) and value.endswith(".conf"):
            return value
        r.fail(path, value, "is not a path ending in .conf; write it like ~/wireguard/home0.conf")
        return None

    return convert


def _forward_rule(r: Reader, path: str, value: Any) -> ForwardRule | None:
    obj = r.mapping(path, value)
    if obj is None:
        return None
    r.unknown_keys(obj, path, names(FORWARD_RULE))
    protocol = r.get(obj, path, "protocol", r.choice(*choices(Protocol)), default_of(FORWARD_RULE, "protocol"))
    port = r.get(obj, path, "port", r.integer(1, 65535), default_of(FORWARD_RULE, "port"))
    action = r.get(obj, path, "action", r.choice(*choices(Action)), default_of(FORWARD_RULE, "action"))
    return ForwardRule(protocol, port, action) if protocol and port and action else None


def _list(r: Reader, path: str, value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    r.fail(path, value, "is not a list; write each entry on its own `- ` line")
    return []


def parse_vpn(raw: Any, path: str = CONFIG_KEY) -> Vpn:
    """Parse the `wgsites:vpn` object; raise ConfigError naming every mistake."""
    if errors := unsafe_strings(raw, path):
        raise ConfigError(errors)
    r = Reader()
    obj = r.mapping(path, raw)
    if obj is None:
        raise ConfigError(r.errors)
    r.unknown_keys(obj, path, names(VPN))
    network = r.get(obj, path, "network", r.network, default_of(VPN, "network"))
    port = r.get(obj, path, "listenPort", r.integer(1, 65535), default_of(VPN, "listenPort"))
    preshared = r.get(obj, path, "presharedKey", r.boolean, default_of(VPN, "presharedKey"))
    network6 = r.get(obj, path, "network6", lambda p, v: _network6(r, p, v), default_of(VPN, "network6"))
    metrics_dir = r.get(obj, path, "metricsDir", r.folder, default_of(VPN, "metricsDir"))
    domain = r.get(obj, path, "domain", lambda p, v: _domain(r, p, v), default_of(VPN, "domain"))
    hosts = r.get(obj, path, "hosts", lambda p, v: _hosts(r, p, v), default_of(VPN, "hosts"))
    hub = r.get(obj, path, "hub", lambda p, v: _hub(r, p, v, port or DEFAULT_LISTEN_PORT))
    spokes = [
        _spoke(r, f"{path}.{key}[{i}]", item, kind)
        for key, kind in (("sites", "site"), ("peers", "peer"))
        for i, item in enumerate(_list(r, f"{path}.{key}", obj.get(key) or []))
    ]
    rules = [
        _forward_rule(r, f"{path}.forwardRules[{i}]", item)
        for i, item in enumerate(_list(r, f"{path}.forwardRules", obj.get("forwardRules") or []))
    ]
    access = r.get(obj, path, "access", lambda p, v: parse_access(r, f"{path}.access", v), default_of(VPN, "access"))
    if r.errors or network is None or hub is None or None in spokes or None in rules or preshared is None or not domain:
        raise ConfigError(r.errors)
    vpn = Vpn(
        network=network,
        hub=hub,
        spokes=tuple(spokes),
        forward_rules=tuple(rules),
        preshared_key=preshared,
        network6=network6,
        metrics_dir=metrics_dir,
        access=access,
        domain=domain,
        hosts=hosts or (),
    )
    errors = [*check_vpn(vpn, path), *check_access(vpn, path)]
    if errors:
        raise ConfigError(errors)
    return vpn
