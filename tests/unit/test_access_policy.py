"""The access policy: parsed from the stack file, refused with one clear message per mistake, shown as a matrix."""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress

import pytest

from tests.unit.bad_stacks import BASE, P
from wgsites.operations.status_row import mark_expired
from wgsites.stack import access
from wgsites.stack.parse import ConfigError, parse_vpn
from wgsites.stack.resolver import records

OFFICE = copy.deepcopy(BASE)
OFFICE["peers"] = [
    {"name": "alice", "address": "10.10.11.10"},
    {"name": "bob", "address": "10.10.11.11"},
    {"name": "carol", "address": "10.10.11.12", "expires": "2026-12-15 18:00"},
]
OFFICE["hosts"] = {"nas": "10.10.10.20", "home-lan": "10.10.10.0/24", "files": "10.20.0.10"}
OFFICE["access"] = {
    "groups": {"staff": ["alice", "bob"], "guests": ["carol"]},
    "rules": [
        {"from": "staff", "to": ["home-lan", "office"]},
        {"from": "guests", "to": "nas", "ports": ["tcp/445", "icmp"]},
        {"from": "guests", "to": "nas", "ports": ["udp/137-138"]},
        {"from": "office", "to": "nas"},
    ],
}


def broken(change) -> list[str]:
    raw = copy.deepcopy(OFFICE)
    change(raw)
    with pytest.raises(ConfigError) as info:
        parse_vpn(raw)
    return info.value.messages


def test_the_policy_is_parsed_into_the_model():
    vpn = parse_vpn(copy.deepcopy(OFFICE))
    assert vpn.access.group("staff") == ("alice", "bob")
    assert str(vpn.host("nas")) == "10.10.10.20/32"
    assert [str(p) for p in vpn.access.rules[1].ports] == ["tcp/445", "icmp"]
    assert vpn.node("carol").expires == dt.datetime(2026, 12, 15, 18, 0, tzinfo=dt.UTC)


def test_the_matrix_spells_out_groups_and_merges_ports():
    assert access.matrix(parse_vpn(copy.deepcopy(OFFICE))) == (
        "alice -> home-lan",
        "alice -> office",
        "alice -> the hub's resolver tcp/53, udp/53",
        "bob -> home-lan",
        "bob -> office",
        "bob -> the hub's resolver tcp/53, udp/53",
        "carol -> nas icmp, tcp/445, udp/137-138 until 2026-12-15 18:00 UTC",
        "carol -> the hub's resolver tcp/53, udp/53 until 2026-12-15 18:00 UTC",
        "office -> nas",
        "office -> the hub's resolver tcp/53, udp/53",
    )


def test_the_hubs_resolver_answers_whoever_it_serves_names_to_and_no_one_without_it():
    # wgsites writes DNS = <hub> into a device's config: a policy that forgot port 53 must not leave it nameless
    vpn = parse_vpn(copy.deepcopy(OFFICE))
    hub = str(vpn.hub.address)
    for spoke in vpn.spokes:
        address = str(spoke.address)
        assert access.allows(vpn, address, hub, "udp", 53) and access.allows(vpn, address, hub, "tcp", 53)
        assert not access.allows(vpn, address, hub, "tcp", 22)  # the resolver, not the hub
    raw = copy.deepcopy(OFFICE)
    raw["hub"]["dns"] = False
    quiet = parse_vpn(raw)
    assert access.resolver_rule(quiet) is None
    assert not any("resolver" in line for line in access.matrix(quiet))
    assert not access.allows(quiet, str(quiet.spokes[0].address), hub, "udp", 53)


def test_a_rule_without_ports_wins_over_one_with_ports():
    raw = copy.deepcopy(OFFICE)
    raw["access"]["rules"].append({"from": "carol", "to": "nas"})
    assert "carol -> nas until 2026-12-15 18:00 UTC" in access.matrix(parse_vpn(raw))


def test_without_a_policy_everyone_reaches_everything_and_check_says_so():
    raw = copy.deepcopy(OFFICE)
    del raw["access"]
    vpn = parse_vpn(raw)
    assert vpn.access is None
    assert access.matrix(vpn)[0] == "every spoke -> every node and LAN of the VPN (no access policy)"
    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    assert access.summary(vpn, now) == [
        "access: no policy; every spoke reaches every node and LAN (declare access: to restrict it)",
        "expires soon: carol at 2026-12-15 18:00 UTC (in 8 day(s))",
    ]


def test_check_names_expiring_and_expired_spokes_only():
    vpn = parse_vpn(copy.deepcopy(OFFICE))
    policy = "access: a policy of 4 rule(s) applies; everything else is refused (wgsites access STACK)"
    assert access.summary(vpn, dt.datetime(2026, 11, 1, tzinfo=dt.UTC)) == [policy]  # 44 days ahead: not named
    assert access.summary(vpn, dt.datetime(2026, 12, 16, tzinfo=dt.UTC))[1] == (
        "expired: carol since 2026-12-15 18:00 UTC; the hub refuses its traffic"
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2027-01-01", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
        ("2027-01-01T10:30:00Z", dt.datetime(2027, 1, 1, 10, 30, tzinfo=dt.UTC)),
        ("2027-01-01 12:30+02:00", dt.datetime(2027, 1, 1, 10, 30, tzinfo=dt.UTC)),
        (dt.date(2027, 1, 1), dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),  # YAML's own date
    ],
)
def test_expires_takes_the_forms_yaml_and_people_write(value, expected):
    raw = copy.deepcopy(OFFICE)
    raw["peers"][2]["expires"] = value
    assert parse_vpn(raw).node("carol").expires == expected


CASES = [
    (
        lambda raw: raw["access"]["groups"]["staff"].append("bobb"),
        f"{P}.access.groups.staff[2]: 'bobb' is not a spoke of this stack (did you mean bob?); a group holds spokes: "
        "use one of office, alice, bob, carol",
    ),
    (
        lambda raw: raw["access"]["groups"]["staff"].append("router"),
        f"{P}.access.groups.staff[2]: 'router' is the hub; a group holds spokes: use one of office, alice, bob, carol",
    ),
    (
        lambda raw: raw["access"]["rules"].append({"from": "staf", "to": "nas"}),
        f"{P}.access.rules[4].from: 'staf' is no spoke, group, host or node (did you mean staff?); use one of alice, bob, "
        "carol, files, guests, home-lan, nas, office, router, staff, or declare it under access.groups or hosts (the stack's)",
    ),
    (
        lambda raw: raw["access"]["rules"].append({"from": "internet", "to": "nas"}),
        f"{P}.access.rules[4].from: 'internet' cannot start traffic into the VPN; replies to allowed flows pass on "
        "their own, so remove it from `from`",
    ),
    (
        lambda raw: raw["access"]["rules"].append({"from": "bob", "to": "nas", "ports": ["tcp/70000"]}),
        f"{P}.access.rules[4].ports[0]: 'tcp/70000' is not a port from 1 to 65535 (a range low-high); use ports in that range",
    ),
    (
        lambda raw: raw["access"]["rules"].append({"from": "bob", "to": "nas", "ports": ["tcp/90-80"]}),
        f"{P}.access.rules[4].ports[0]: 'tcp/90-80' is not a port from 1 to 65535 (a range low-high); use ports in that range",
    ),
    (
        lambda raw: raw["access"]["rules"].append({"from": "bob", "to": "nas", "ports": ["smb"]}),
        f"{P}.access.rules[4].ports[0]: 'smb' is not a port; write it like tcp/445, udp/53, tcp/8000-8080 or icmp",
    ),
    (
        lambda raw: raw["access"]["rules"].append({"from": "bob"}),
        f"{P}.access.rules[4].to: missing; set it",
    ),
    (
        lambda raw: raw["access"]["rules"].append({"from": "bob", "to": "nas", "port": 445}),
        f"{P}.access.rules[4].port: unknown key; did you mean ports? use one of: from, ports, to",
    ),
    (
        lambda raw: raw["hosts"].update(printer="192.0.2.9"),
        f"{P}.hosts.printer: '192.0.2.9' is on no LAN of the VPN (10.10.11.0/24, 10.10.10.0/24, 10.20.0.0/24), so no "
        "spoke reaches it through the tunnel; fix the address, or add its LAN to the `lans` of the hub or site it is behind",
    ),
    (
        lambda raw: raw["hosts"].update(printer="192.0.2.0/24"),
        f"{P}.hosts.printer: '192.0.2.0/24' is on no LAN of the VPN (10.10.11.0/24, 10.10.10.0/24, 10.20.0.0/24), so no "
        "spoke reaches it through the tunnel; fix the address, or add its LAN to the `lans` of the hub or site it is behind",
    ),
    (
        lambda raw: raw["hosts"].update(printer="10.10.10.300"),
        f"{P}.hosts.printer: '10.10.10.300' is not an address or a network; write it like 192.168.1.20 or 192.168.1.0/24",
    ),
    (
        lambda raw: raw["access"]["groups"].update(bob=["alice"]),
        f"{P}.access.groups.bob: 'bob' is already a node; rule names must be unique, so rename it",
    ),
    (
        lambda raw: raw["hosts"].update(staff="10.10.10.21"),
        f"{P}.hosts.staff: 'staff' is already a group; rule names must be unique, so rename it",
    ),
    (
        lambda raw: raw["access"].update(users={}),
        f"{P}.access.users: unknown key; use one of: groups, rules",
    ),
    (
        lambda raw: raw["peers"][0].update(expires="next friday"),
        f"{P}.peers[0].expires: 'next friday' is not a date and time; write it like 2026-12-31 18:00 (UTC) or '2026-12-31'",
    ),
]


@pytest.mark.parametrize("change, message", CASES)
def test_each_mistake_names_key_value_and_fix(change, message):
    assert broken(change) == [message]


def test_status_says_expired_for_a_spoke_past_its_expiry_and_leaves_the_others():
    from wgsites.operations.status_row import StatusRow

    vpn = parse_vpn(copy.deepcopy(OFFICE))
    rows = [
        StatusRow("router", "carol", "ok", "handshake 3 s ago"),
        StatusRow("router", "alice", "ok", "handshake 3 s ago"),
        StatusRow("router", "-", "drift", "a peer added by hand"),
    ]
    before = mark_expired(vpn, rows, dt.datetime(2026, 12, 15, 17, 59, tzinfo=dt.UTC))
    assert before == rows
    after = mark_expired(vpn, rows, dt.datetime(2026, 12, 15, 18, 0, tzinfo=dt.UTC))
    assert [r.state for r in after] == ["expired", "ok", "drift"]
    assert after[0].detail == (
        "access ended 2026-12-15 18:00 UTC: the hub refuses its traffic (tunnel: ok); remove carol from the stack, "
        "or move its expires"
    )


@pytest.mark.parametrize(
    "source, destination, protocol, port, allowed",
    [
        ("10.10.11.10", "10.10.10.7", "tcp", 22, True),  # alice (staff) -> home-lan, any port
        ("10.10.10.7", "10.10.11.10", "icmp", None, False),  # home-lan -> alice: no rule from the hub's LAN
        ("10.10.11.12", "10.10.10.20", "tcp", 445, True),  # carol (guest) -> the NAS's SMB
        ("10.10.11.12", "10.10.10.20", "tcp", 80, False),
        ("10.10.11.12", "10.10.10.20", "udp", 138, True),
        ("10.10.11.12", "10.10.10.20", "icmp", None, True),
        ("10.10.11.12", "10.10.10.21", "icmp", None, False),
        ("10.20.0.9", "10.10.10.20", "tcp", 80, True),  # a host on office's LAN keeps its own source
        ("10.10.11.10", "10.10.11.11", "icmp", None, False),  # alice -> bob: no rule
        ("10.10.11.1", "10.10.11.10", "icmp", None, True),  # the hub's own traffic is not filtered
        ("10.10.10.7", "10.10.10.1", "tcp", 22, True),  # a LAN host to its own hub: not the tunnel's
    ],
)
def test_the_model_says_which_flow_may_start(source, destination, protocol, port, allowed):
    vpn = parse_vpn(copy.deepcopy(OFFICE))
    before = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert access.allows(vpn, source, destination, protocol, port, before) is allowed


def test_the_model_refuses_an_expired_spoke_both_ways():
    vpn = parse_vpn(copy.deepcopy(OFFICE))
    after = dt.datetime(2026, 12, 16, tzinfo=dt.UTC)
    assert not access.allows(vpn, "10.10.11.12", "10.10.10.20", "tcp", 445, after)
    assert not access.allows(vpn, "10.10.11.1", "10.10.11.12", "icmp", None, after)


def test_the_cli_prints_the_matrix_and_checks_summary(capsys):
    from tests.stacks import stack_file
    from wgsites.operations.cli import main

    assert main(["access", str(stack_file("office"))]) == 0
    assert "carol -> nas tcp/445 until 2029-12-31 18:00 UTC" in capsys.readouterr().out.splitlines()
    assert main(["check", str(stack_file("office"))]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "access: a policy of 3 rule(s) applies; everything else is refused (wgsites access STACK)"
    )


def test_the_diagram_says_a_policy_applies_and_until_when():
    from tests.stacks import stack_file
    from wgsites.rendering.diagram import dot_source
    from wgsites.stack.check import load_stack_file

    dot = dot_source(load_stack_file(stack_file("office")), "office")
    assert "access policy: 3 rule(s), the rest refused by the hub (wgsites access)" in dot
    assert "access until 2029-12-31 18:00 UTC" in dot


def test_a_host_named_once_is_a_dns_name_and_a_rule_destination_both():
    """`hosts` is the one place a host gets its name: the resolver serves it and the rules reach it, from the same entry."""
    vpn = parse_vpn(copy.deepcopy(OFFICE))
    assert ("10.10.10.20", "nas.home.arpa") in records(vpn)
    assert access.networks_of(vpn, "nas") == [ipaddress.ip_network("10.10.10.20/32")]
    assert access.allows(vpn, "10.10.11.12", "10.10.10.20", "tcp", 445)  # carol (guests) -> nas
    moved = copy.deepcopy(OFFICE)
    moved["hosts"]["nas"] = "10.10.10.30"  # one edit moves both the name and what the rule reaches
    vpn = parse_vpn(moved)
    assert ("10.10.10.30", "nas.home.arpa") in records(vpn) and ("10.10.10.20", "nas.home.arpa") not in records(vpn)
    assert access.allows(vpn, "10.10.11.12", "10.10.10.30", "tcp", 445)
    assert not access.allows(vpn, "10.10.11.12", "10.10.10.20", "tcp", 445)
    assert "home-lan.home.arpa" not in {name for _, name in records(vpn)}  # a named network: a rule's name, no DNS name


def test_access_hosts_is_refused_with_where_they_go_now():
    raw = copy.deepcopy(OFFICE)
    raw["access"]["hosts"] = raw.pop("hosts")
    with pytest.raises(ConfigError) as info:
        parse_vpn(raw)
    assert info.value.messages == [
        f"{P}.access.hosts.{name}: {address!r} is a host named in the access policy, which names no hosts any more; "
        "move it to wgsites:vpn.hosts (the same `name: address or network` lines, one level up), the one place a host "
        "gets its name"
        for name, address in OFFICE["hosts"].items()
    ]
