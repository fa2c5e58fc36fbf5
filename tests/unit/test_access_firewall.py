"""The access policy compiled to the hub's nftables: the rows, their order, and where they go (ssh hub, aws bundle)."""

from __future__ import annotations

import copy
import json

from tests.unit.bad_stacks import AWS
from tests.unit.test_access_policy import OFFICE
from wgsites.rendering.access_firewall import firewall_policy
from wgsites.rendering.render import has_firewall, render_gateway_bundle, render_install_script, render_nftables
from wgsites.stack.parse import parse_vpn

KEY = "ccoBvlR+TqgVW9QgONvVmH5ErbYYrvDfk4OeTFdNgUU="


def chain(text: str, name: str) -> list[str]:
    body = text[text.index(f"chain {name} {{") :]
    return [line.strip() for line in body[: body.index("\n\t}")].splitlines()[2:]]


def test_the_hub_refuses_what_no_rule_allows_and_lets_replies_pass():
    text = render_nftables(parse_vpn(copy.deepcopy(OFFICE)), "router", "office")
    assert chain(text, "forward") == [
        "# carol: access ends 2026-12-15 18:00 UTC",
        "ip saddr { 10.10.11.12 } meta time >= 1797357600 reject with icmpx admin-prohibited",
        "ip daddr { 10.10.11.12 } meta time >= 1797357600 reject with icmpx admin-prohibited",
        "# the access policy: what its rules allow starts, replies pass, the rest touching the tunnel is refused",
        'iifname != "wg0" oifname != "wg0" accept',
        "ct state established,related accept",
        "ip saddr { 10.10.11.10/31 } ip daddr { 10.10.10.0/24, 10.10.11.3, 10.20.0.0/24 } accept",
        "ip saddr { 10.10.11.12 } ip daddr { 10.10.10.20 } tcp dport { 445 } accept",
        "ip saddr { 10.10.11.12 } ip daddr { 10.10.10.20 } meta l4proto icmp accept",
        "ip saddr { 10.10.11.12 } ip daddr { 10.10.10.20 } udp dport { 137-138 } accept",
        "ip saddr { 10.10.11.3, 10.20.0.0/24 } ip daddr { 10.10.10.20 } accept",
        "ip saddr { 10.10.11.3, 10.10.11.10/31, 10.10.11.12, 10.20.0.0/24 } ip daddr { 10.10.11.1 } tcp dport { 53 } accept",
        "ip saddr { 10.10.11.3, 10.10.11.10/31, 10.10.11.12, 10.20.0.0/24 } ip daddr { 10.10.11.1 } udp dport { 53 } accept",
        "reject with icmpx admin-prohibited",
    ]
    # the hub itself is a destination like any other: the same rows guard its input from the tunnel
    assert chain(text, "input")[3:5] == ['iifname != "wg0" accept', "ct state established,related accept"]
    assert chain(text, "input")[-1] == "reject with icmpx admin-prohibited"


def test_without_a_policy_or_expiry_the_hub_keeps_todays_rules():
    raw = copy.deepcopy(OFFICE)
    del raw["access"]
    del raw["peers"][2]["expires"]
    vpn = parse_vpn(raw)
    assert firewall_policy(vpn, "router") is None
    assert not has_firewall(vpn, "router")  # the base stack has neither masquerade nor forward rules


def test_an_expiry_without_a_policy_refuses_only_that_spoke():
    raw = copy.deepcopy(OFFICE)
    del raw["access"]
    text = render_nftables(parse_vpn(raw), "router", "office")
    assert "ct state" not in text and "\t\treject" not in text  # no policy: no default deny
    assert chain(text, "input") == [
        "# carol: access ends 2026-12-15 18:00 UTC",
        "ip saddr { 10.10.11.12 } meta time >= 1797357600 reject with icmpx admin-prohibited",
    ]


def test_spokes_get_no_policy_rows_the_hub_is_the_one_every_flow_crosses():
    vpn = parse_vpn(copy.deepcopy(OFFICE))
    assert firewall_policy(vpn, "office") is None
    assert firewall_policy(vpn, "alice") is None


def test_the_internet_is_anything_outside_the_vpn_in_both_families():
    raw = copy.deepcopy(AWS)
    raw["network6"] = "fd10:99::/64"
    raw["hub"]["ipv6Egress"] = True
    raw["hub"]["aws"] = {"subnetId": "subnet-0123456789abcdef0"}
    raw["access"] = {"rules": [{"from": "phone", "to": ["internet", "gateway"], "ports": ["tcp/443", "udp/53"]}]}
    text = render_nftables(parse_vpn(raw), "gateway", "travel")
    rows = [line for line in chain(text, "forward") if line.endswith(" accept") and "saddr" in line]
    assert rows == [
        "ip saddr { 10.99.0.11 } ip daddr { 10.99.0.1 } tcp dport { 443 } accept",
        "ip saddr { 10.99.0.11 } ip daddr { 10.99.0.1 } udp dport { 53 } accept",
        "ip saddr { 10.99.0.11 } ip daddr != { 10.99.0.0/24 } tcp dport { 443 } accept",
        "ip saddr { 10.99.0.11 } ip daddr != { 10.99.0.0/24 } udp dport { 53 } accept",
        "ip6 saddr { fd10:99::b } ip6 daddr { fd10:99::1 } tcp dport { 443 } accept",
        "ip6 saddr { fd10:99::b } ip6 daddr { fd10:99::1 } udp dport { 53 } accept",
        "ip6 saddr { fd10:99::b } ip6 daddr != { fd10:99::/64 } tcp dport { 443 } accept",
        "ip6 saddr { fd10:99::b } ip6 daddr != { fd10:99::/64 } udp dport { 53 } accept",
    ]


def test_the_aws_hub_gets_the_policy_in_its_bundle():
    raw = copy.deepcopy(AWS)
    raw["access"] = {"rules": [{"from": "phone", "to": "internet"}]}
    vpn = parse_vpn(raw)
    script = render_install_script(vpn, "gateway", "travel")
    bundle = json.loads(render_gateway_bundle(vpn, "travel", "[Interface]\n", script, 0, public_key=KEY))
    assert "ip saddr { 10.99.0.11 } ip daddr != { 10.99.0.0/24 } accept" in json.dumps(bundle)
