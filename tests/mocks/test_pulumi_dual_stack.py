"""The aws hub of a dual-stack VPN with IPv6 egress: an IPv6 address of a dual-stack subnet, asked of AWS first.

Why: a full-tunnel phone's IPv6 leaves through the gateway only if the instance has an IPv6 address,
which EC2 gives only in a subnet with an IPv6 CIDR block; a subnet without one must stop the up with
the fix before anything is created, not end in a gateway that silently has no IPv6.
"""

from __future__ import annotations

import copy

import pulumi
import wgmocks as m
from test_pulumi_changes import failing_run

SUBNET = "subnet-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"
SUBNET6 = "2001:db8:1234:5600::/64"


def dual_stack_home(egress: bool = True, **aws) -> dict:
    raw = copy.deepcopy(m.stack_config("home")["wgsites:vpn"])
    raw["network6"] = "fd10:99::/64"
    raw["hub"]["ipv6Egress"] = egress
    raw["hub"]["aws"] = {**raw["hub"].get("aws", {}), **aws}
    return raw


def test_ipv6_egress_gives_the_instance_an_ipv6_address_in_the_dual_stack_subnet():
    run = m.run_stack("home", vpn=dual_stack_home(subnetId=SUBNET), subnets={SUBNET: VPC}, subnet_ipv6={SUBNET: SUBNET6})
    instance = m.unwrap(run.mocks.one(m.INSTANCE).inputs)
    assert instance["ipv6AddressCount"] == 1
    assert instance["subnetId"] == SUBNET
    phone = run.exports["phone_config"].value  # derived from network6 + its IPv4 offset (10.99.0.11)
    assert "Address = 10.99.0.11/24, fd10:99::b/64" in phone
    assert "AllowedIPs = 0.0.0.0/0, ::/0" in phone
    calls = [c for c in run.mocks.calls if c.token == "aws:ec2/getSubnet:getSubnet"]
    assert len(calls) == 1


def test_without_ipv6_egress_in_the_default_vpc_the_count_is_left_as_it_was():
    """ipv6Egress needs a subnet of the user's, so a default-VPC gateway never had it: its inputs stay as before."""
    run = m.run_stack("home", vpn=dual_stack_home(egress=False))
    assert "ipv6AddressCount" not in m.unwrap(run.mocks.one(m.INSTANCE).inputs)


def test_turning_ipv6_egress_off_asks_for_no_address_and_changes_nothing_else():
    """0, not nothing: upstream an Optional+Computed count left out shows no diff, so the address would stay;
    0 unassigns it in place (and is what Read recorded for a gateway that never had one: no diff there)."""
    on, off = (
        m.run_stack("home", vpn=dual_stack_home(egress, subnetId=SUBNET), subnets={SUBNET: VPC}, subnet_ipv6={SUBNET: SUBNET6})
        for egress in (True, False)
    )
    before, after = (m.unwrap(r.mocks.one(m.INSTANCE).inputs) for r in (on, off))
    assert (before["ipv6AddressCount"], after["ipv6AddressCount"]) == (1, 0)
    del before["ipv6AddressCount"], after["ipv6AddressCount"]
    assert before == after  # the same user data, image and type: an update of the count alone, in place


def test_a_subnet_that_assigns_ipv6_itself_keeps_its_address_without_egress():
    """Upstream #20025: such a subnet gives the address whatever the count; asking 0 would unassign it at each up."""
    run = m.run_stack(
        "home",
        vpn=dual_stack_home(False, subnetId=SUBNET),
        subnets={SUBNET: VPC},
        subnet_ipv6={SUBNET: SUBNET6},
        auto_ipv6=[SUBNET],
    )
    assert "ipv6AddressCount" not in m.unwrap(run.mocks.one(m.INSTANCE).inputs)


def test_a_subnet_without_ipv6_stops_the_up_before_anything_with_the_fix():
    error, mocks = failing_run("home", vpn=dual_stack_home(subnetId=SUBNET), subnets={SUBNET: VPC})
    assert isinstance(error, pulumi.RunError)
    assert str(error).startswith(
        f"wgsites:vpn.hub.aws.subnetId (eu-central-1): '{SUBNET}' has no IPv6 CIDR block, so the gateway can get no "
        "IPv6 address for hub.ipv6Egress; make the subnet dual-stack"
    )
    assert mocks.resources == []
