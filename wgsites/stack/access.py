"""Who may reach what, and until when: the stack's access policy, parsed, checked and shown as a matrix.

A stack that declares `access` is default-deny for traffic to, from and through the tunnel: only
what its rules allow passes (and the replies to it, statefully). A stack without one keeps the
open VPN it always had. A spoke's `expires` ends its traffic at that time with or without a
policy. The hub compiles both to nftables (nftables.nft.j2, through `firewall_policy`); the
matrix is the same policy in words, for `wgsites access`, `check` and the preview diff.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from .model import AccessPolicy, AccessRule, Hub, PortSpec, Spoke, Vpn
from .reader import Reader
from .resolver import peer_dns, serves_dns
from .schema import ACCESS, ACCESS_RULE, names

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
INTERNET = "internet"  # the destination "anything outside the VPN's networks" (a full-tunnel peer's web)
RESOLVER = "the hub's resolver"  # its VPN addresses, port 53: no name a user may give (names are [a-z0-9-])
DNS_PORTS = (PortSpec("udp", 53, 53), PortSpec("tcp", 53, 53))
EXPIRY_WARNING = dt.timedelta(days=14)  # `check` names the spokes whose access ends within this
_PORT_RE = re.compile(r"(tcp|udp)/([0-9]{1,5})(?:-([0-9]{1,5}))?|icmp")


# ---------------------------------------------------------------- parsing


def parse_expires(r: Reader, path: str, value: Any) -> dt.datetime | None:
    """A spoke's `expires`, in UTC: `2026-12-31 18:00`, `2026-12-31` (midnight), or a YAML timestamp."""
    when: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None or not 2000 <= when.year <= 2105:
        r.fail(path, value, "is not a date and time; write it like 2026-12-31 18:00 (UTC) or '2026-12-31'")
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.replace(tzinfo=dt.UTC, microsecond=0)


def _port(r: Reader, path: str, value: Any) -> PortSpec | None:
    match = _PORT_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        r.fail(path, value, "is not a port; write it like tcp/445, udp/53, tcp/8000-8080 or icmp")
        return None
    if match.group(0) == "icmp":
        return PortSpec("icmp")
    first = int(match.group(2))
    last = int(match.group(3) or first)
    if not 1 <= first <= last <= 65535:
        r.fail(path, value, "is not a port from 1 to 65535 (a range low-high); use ports in that range")
        return None
    return PortSpec(match.group(1), first, last)  # type: ignore[arg-type]


def _names(r: Reader, path: str, value: Any) -> tuple[str, ...] | None:
    """One name or a list of them (`from: staff`, `to: [nas, branch]`)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        r.fail(path, value, "is not a name or a list of names; write it like staff or [nas, branch]")
        return None
    return tuple(items)


def parse_access(r: Reader, path: str, value: Any) -> AccessPolicy | None:
    """The `access` object (schema.ACCESS); each mistake is recorded on R with its key path."""
    obj = r.mapping(path, value)
    if obj is None:
        return None
    if "hosts" in obj:  # issue 30's place for them, before the stack had one place for every host's name
        moved = obj["hosts"] if isinstance(obj["hosts"], dict) and obj["hosts"] else {None: obj["hosts"]}
        for host, address in moved.items():
            r.fail(
                f"{path}.hosts" + (f".{host}" if host is not None else ""),
                address,
                "is a host named in the access policy, which names no hosts any more; move it to wgsites:vpn.hosts "
                "(the same `name: address or network` lines, one level up), the one place a host gets its name",
            )
    r.unknown_keys({k: v for k, v in obj.items() if k != "hosts"}, path, names(ACCESS))
    groups = []
    raw_groups = r.mapping(f"{path}.groups", obj.get("groups") or {}) or {}
    for group, members in raw_groups.items():
        r.name(f"{path}.groups.{group}", group)
        listed = r.strings(f"{path}.groups.{group}", members if isinstance(members, list) else [members])
        groups.append((str(group), listed or ()))
    rules = []
    raw_rules = obj.get("rules") or []
    if not isinstance(raw_rules, list):
        r.fail(f"{path}.rules", raw_rules, "is not a list; write each rule on its own `- ` line")
        raw_rules = []
    for i, item in enumerate(raw_rules):
        rule_path = f"{path}.rules[{i}]"
        rule = r.mapping(rule_path, item)
        if rule is None:
            continue
        r.unknown_keys(rule, rule_path, names(ACCESS_RULE))
        sources = r.get(rule, rule_path, "from", lambda p, v: _names(r, p, v))
        destinations = r.get(rule, rule_path, "to", lambda p, v: _names(r, p, v))
        ports_raw = rule.get("ports") or []
        if not isinstance(ports_raw, list):
            ports_raw = [ports_raw]
        ports = [_port(r, f"{rule_path}.ports[{j}]", p) for j, p in enumerate(ports_raw)]
        if sources and destinations and None not in ports:
            rules.append(AccessRule(sources, destinations, tuple(p for p in ports if p is not None)))
    return AccessPolicy(tuple(groups), tuple(rules))


# ---------------------------------------------------------------- checks


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def check_access(vpn: Vpn, path: str) -> list[str]:
    """The policy's names against the stack: every member a spoke, every name known once (where a host lies is
    validate_dns.check_hosts's, with or without a policy)."""
    policy = vpn.access
    if policy is None:
        return []
    errors: list[str] = []
    spokes = [s.name for s in vpn.spokes]
    nodes = {n.name for n in vpn.nodes}
    where = f"{path}.access"
    seen: dict[str, str] = {INTERNET: "the internet"}
    seen.update({n.name: "a node" for n in vpn.nodes})
    for group, _ in policy.groups:
        if group in seen:
            errors.append(f"{where}.groups.{group}: '{group}' is already {seen[group]}; rule names must be unique, so rename it")
        seen.setdefault(group, "a group")
    for host, _ in vpn.hosts:  # a host named like a node is validate_dns.check_hosts's to report
        if host in seen and seen[host] != "a node":
            errors.append(f"{path}.hosts.{host}: '{host}' is already {seen[host]}; rule names must be unique, so rename it")
        seen.setdefault(host, "a host")
    for group, members in policy.groups:
        for i, member in enumerate(members):
            if member not in spokes:
                hint = _did_you_mean(member, spokes)
                what = "the hub" if member == vpn.hub.name else "not a spoke of this stack"
                errors.append(
                    f"{where}.groups.{group}[{i}]: '{member}' is {what}{hint}; a group holds spokes: use one of "
                    f"{', '.join(spokes) or '(none)'}"
                )
    sources = set(spokes) | {g for g, _ in policy.groups} | {h for h, _ in vpn.hosts} | {vpn.hub.name}
    destinations = sources | nodes | {INTERNET}
    for i, rule in enumerate(policy.rules):
        for key, given, known in (("from", rule.sources, sources), ("to", rule.destinations, destinations)):
            for name in given:
                if name in known:
                    continue
                if name == INTERNET:
                    errors.append(
                        f"{where}.rules[{i}].{key}: 'internet' cannot start traffic into the VPN; replies to allowed "
                        "flows pass on their own, so remove it from `from`"
                    )
                    continue
                errors.append(
                    f"{where}.rules[{i}].{key}: '{name}' is no spoke, group, host or node{_did_you_mean(name, known)}; "
                    f"use one of {', '.join(sorted(known))}, or declare it under access.groups or hosts (the stack's)"
                )
    return errors


# ---------------------------------------------------------------- what the names stand for


def resolver_rule(vpn: Vpn) -> AccessRule | None:
    """With a policy, the hub's resolver still answers whoever it serves names to: wgsites writes `DNS = <hub>` into
    a device's config (and a site's LAN hosts may ask it through their gateway), so a policy that forgot port 53
    would leave them without any name, the internet's included. Shown in the matrix like any rule."""
    if vpn.access is None or not serves_dns(vpn):
        return None
    asking = tuple(s.name for s in vpn.spokes if s.kind == "site" or str(vpn.hub.address) in peer_dns(vpn, s))
    return AccessRule(asking, (RESOLVER,), DNS_PORTS) if asking else None


def rules_of(vpn: Vpn) -> tuple[AccessRule, ...]:
    """The policy's rules as the hub enforces them: the stack's own, and the resolver's."""
    if vpn.access is None:
        return ()
    extra = resolver_rule(vpn)
    return (*vpn.access.rules, *((extra,) if extra else ()))


def tunnel_networks(vpn: Vpn, node: Hub | Spoke) -> list[Network]:
    """A node's own tunnel addresses (IPv4, and IPv6 in a dual-stack VPN), without the LANs behind it."""
    address6 = vpn.address6_of(node)
    return [ipaddress.ip_network(node.address), *([ipaddress.ip_network(address6)] if address6 is not None else [])]


def node_networks(vpn: Vpn, node: Hub | Spoke) -> list[Network]:
    """A node as a source or destination: its tunnel addresses and the LANs behind it (routed, never NATed)."""
    return [*tunnel_networks(vpn, node), *node.lans]


def spokes_of(vpn: Vpn, name: str) -> tuple[str, ...]:
    """The spokes NAME stands for: a group's members, a spoke itself, none for a host (Vpn.hosts) or the hub."""
    policy = vpn.access
    members = policy.group(name) if policy is not None else None
    if members is not None:
        return members
    return (name,) if name in vpn.spoke_names else ()


def networks_of(vpn: Vpn, name: str, as_source: bool = False) -> list[Network]:
    """The networks a rule's NAME covers (the internet is none: the template says "not the VPN")."""
    host = vpn.host(name)
    if host is not None:
        return [host]
    if name == RESOLVER:
        return tunnel_networks(vpn, vpn.hub)
    if name == vpn.hub.name:
        # the hub's own traffic is not filtered (output), so as a source it stands for its LANs
        return list(vpn.hub.lans) if as_source else node_networks(vpn, vpn.hub)
    return [net for spoke in spokes_of(vpn, name) for net in node_networks(vpn, vpn.node(spoke))]


# ---------------------------------------------------------------- the matrix


def spoke_expiries(vpn: Vpn) -> dict[str, dt.datetime]:
    """Each spoke with an expiry, by name (made once: a matrix line or status row per spoke looks it up)."""
    return {s.name: s.expires for s in vpn.spokes if s.expires is not None}


def _until(expiries: dict[str, dt.datetime], spoke: str) -> str:
    expires = expiries.get(spoke)
    return f" until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""


def matrix(vpn: Vpn) -> tuple[str, ...]:
    """Who reaches what, one line per source and destination: `carol -> nas tcp/445 until 2026-12-31 18:00 UTC`.

    Groups are spelt out into their spokes, so moving a spoke between groups shows as the lines it
    gains and loses; a destination a source reaches by several rules shows once, with every port.
    """
    expiries = spoke_expiries(vpn)
    if vpn.access is None:
        lines = ["every spoke -> every node and LAN of the VPN (no access policy)"]
        lines += [f"{name} -> everything{_until(expiries, name)}" for name in expiries]
        return tuple(lines)
    grants: dict[tuple[str, str], set[str] | None] = {}
    for rule in rules_of(vpn):
        # spelt out once a rule, not once a pair: at 1000 spokes a group's pairs are a million
        whos = [who for source in rule.sources for who in spokes_of(vpn, source) or (source,)]
        whats = [what for destination in rule.destinations for what in spokes_of(vpn, destination) or (destination,)]
        ports = {str(p) for p in rule.ports}
        for who in whos:
            for what in whats:
                if who == what:
                    continue
                key = (who, what)
                if not ports or grants.get(key, set()) is None:
                    grants[key] = None
                else:
                    grants.setdefault(key, set()).update(ports)  # type: ignore[union-attr]
    lines = []
    for (who, what), ports in sorted(grants.items()):
        shown = "" if ports is None else " " + ", ".join(sorted(ports, key=_port_order))
        lines.append(f"{who} -> {what}{shown}{_until(expiries, who)}")
    return tuple(lines) or ("nobody reaches anything (an access policy without rules)",)


def _port_order(text: str) -> tuple[str, int]:
    protocol, _, port = text.partition("/")
    return protocol, int(port.split("-")[0]) if port else 0


def summary(vpn: Vpn, now: dt.datetime | None = None) -> list[str]:
    """`check`'s lines about access: whether a policy applies, and the spokes whose access ends soon."""
    now = now or dt.datetime.now(dt.UTC)
    if vpn.access is None:
        lines = ["access: no policy; every spoke reaches every node and LAN (declare access: to restrict it)"]
    else:
        rules = len(vpn.access.rules)
        lines = [f"access: a policy of {rules} rule(s) applies; everything else is refused (wgsites access STACK)"]
    for spoke in vpn.spokes:
        if spoke.expires is None:
            continue
        if is_expired(spoke, now):
            lines.append(f"expired: {spoke.name} since {spoke.expires:%Y-%m-%d %H:%M} UTC; the hub refuses its traffic")
        elif spoke.expires - now <= EXPIRY_WARNING:
            days = (spoke.expires - now).days
            lines.append(f"expires soon: {spoke.name} at {spoke.expires:%Y-%m-%d %H:%M} UTC (in {days} day(s))")
    return lines


def is_expired(spoke: Spoke, now: dt.datetime | None = None) -> bool:
    return spoke.expires is not None and spoke.expires <= (now or dt.datetime.now(dt.UTC))


# ---------------------------------------------------------------- the model the lab checks the hub against


def _spoke_side(vpn: Vpn, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ADDRESS is behind the tunnel, as the hub sees it: a spoke's tunnel address or LAN."""
    return any(address in net for spoke in vpn.spokes for net in node_networks(vpn, spoke))


def _expired_at(vpn: Vpn, address: Any, now: dt.datetime | None) -> bool:
    return any(is_expired(s, now) and any(address in net for net in node_networks(vpn, s)) for s in vpn.spokes if s.expires)


def _port_allows(ports: tuple[PortSpec, ...], protocol: str, port: int | None) -> bool:
    if not ports:
        return True
    for spec in ports:
        if spec.protocol == protocol == "icmp":
            return True
        if spec.protocol == protocol and port is not None and spec.first <= port <= spec.last:  # type: ignore[operator]
            return True
    return False


def allows(
    vpn: Vpn, source: Any, destination: Any, protocol: str, port: int | None = None, now: dt.datetime | None = None
) -> bool:
    """Whether a flow from SOURCE to DESTINATION (addresses) may start, as the policy means it (the lab's oracle).

    Traffic the tunnel does not carry (the hub's LAN to the internet) is not the policy's, nor is the
    hub's own outgoing traffic; an expired spoke reaches nothing and nothing reaches it.
    """
    source, destination = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    if _expired_at(vpn, source, now) or _expired_at(vpn, destination, now):
        return False
    if vpn.access is None or any(source in net for net in tunnel_networks(vpn, vpn.hub)):
        return True
    if not (_spoke_side(vpn, source) or _spoke_side(vpn, destination)):
        return True
    for rule in rules_of(vpn):
        if not any(source in net for name in rule.sources for net in networks_of(vpn, name, as_source=True)):
            continue
        named = any(destination in net for name in rule.destinations for net in networks_of(vpn, name))
        outside = INTERNET in rule.destinations and not any(destination in net for net in vpn.own_networks)
        if (named or outside) and _port_allows(rule.ports, protocol, port):
            return True
    return False


def shown_matrix(vpn: Vpn) -> str | None:
    """The matrix as the stack's `access` output (one line each, so a preview diffs it line by line); None for a
    stack that declares neither a policy nor an expiry (its outputs stay as they were)."""
    if not declares_policy(vpn):
        return None
    return "\n".join(matrix(vpn)) + "\n"


def declares_policy(vpn: Vpn) -> bool:
    """Whether the stack restricts anyone: a policy, or a spoke whose access ends. Without either, nothing is filtered."""
    return vpn.access is not None or any(s.expires is not None for s in vpn.spokes)
