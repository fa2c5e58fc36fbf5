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


def test_without_ipv6_egress_the_instance_gets_no_ipv6_address():
    run = m.run_stack("home", vpn=dual_stack_home(egress=False))
    assert "ipv6AddressCount" not in m.unwrap(run.mocks.one(m.INSTANCE).inputs)


def test_a_subnet_without_ipv6_stops_the_up_before_anything_with_the_fix():
    error, mocks = failing_run("home", vpn=dual_stack_home(subnetId=SUBNET), subnets={SUBNET: VPC})
    assert isinstance(error, pulumi.RunError)
    assert str(error).startswith(
        f"wgsites:vpn.hub.aws.subnetId (eu-central-1): '{SUBNET}' has no IPv6 CIDR block, so the gateway can get no "
        "IPv6 address for hub.ipv6Egress; make the subnet dual-stack"
    )
    assert mocks.resources == []
