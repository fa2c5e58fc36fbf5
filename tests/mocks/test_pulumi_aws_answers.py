"""An AWS lookup that fails for any reason but "not found" says what AWS answered, never "there is none"."""

from __future__ import annotations

import copy

import pulumi
import pytest
import wgmocks as m
from test_pulumi_changes import failing_run

from components.aws_answers import aws_answer

SUBNET = "subnet-0a1b2c3d4e5f60718"
VPC = "vpc-0fedcba9876543210"
GET_VPC = "aws:ec2/getVpc:getVpc"
GET_SUBNET = "aws:ec2/getSubnet:getSubnet"


def sdk_error(operation: str, status: int, code: str, message: str) -> str:
    """The provider's text for a failed read: `reading ...: ` and aws-sdk-go-v2's operation error around smithy's."""
    return (
        f"operation error EC2: {operation}, https response error StatusCode: {status}, "
        f"RequestID: 0a1b2c3d-0000-4000-8000-000000000000, api error {code}: {message}"
    )


# (what AWS answered, the code and message the user must see)
REFUSALS = {
    "expired credentials": ("ExpiredToken", "The security token included in the request is expired", 400),
    "access denied": ("UnauthorizedOperation", "You are not authorized to perform this operation.", 403),
    "bad credentials": ("AuthFailure", "AWS was not able to validate the provided access credentials", 401),
    "throttled": ("RequestLimitExceeded", "Request limit exceeded.", 503),
}


def home_vpn(**aws) -> dict:
    raw = copy.deepcopy(m.stack_config("home")["wgsites:vpn"])
    raw["hub"]["aws"] = {**raw["hub"].get("aws", {}), **aws}
    return raw


@pytest.mark.parametrize("kind", REFUSALS)
def test_default_vpc_lookup_refused_is_not_a_missing_vpc(kind):
    code, message, status = REFUSALS[kind]
    error = f"reading EC2 VPC: {sdk_error('DescribeVpcs', status, code, message)}"
    caught, mocks = failing_run("home", aws_errors={GET_VPC: error})
    assert str(caught) == (
        "wgsites:vpn.hub.aws (eu-central-1): AWS refused to say whether the region has a default VPC "
        f"(ec2:DescribeVpcs): {code}: {message}; fix the credentials or the permission and run again"
    )
    assert "no default VPC" not in str(caught)
    assert mocks.resources == []


@pytest.mark.parametrize("kind", REFUSALS)
def test_subnet_lookup_refused_is_not_an_unknown_subnet(kind):
    code, message, status = REFUSALS[kind]
    error = f"reading EC2 Subnet: {sdk_error('DescribeSubnets', status, code, message)}"
    caught, mocks = failing_run("home", vpn=home_vpn(subnetId=SUBNET), subnets={SUBNET: VPC}, aws_errors={GET_SUBNET: error})
    assert str(caught) == (
        f"wgsites:vpn.hub.aws.subnetId (eu-central-1): AWS refused to describe '{SUBNET}' (ec2:DescribeSubnets): "
        f"{code}: {message}; fix the credentials or the permission and run again"
    )
    assert "not a subnet this account can see" not in str(caught)
    assert mocks.resources == []


def test_not_found_still_reads_as_missing():
    """The data sources' own "not found" words (tfresource.SingularDataSourceFindError), raised as an error."""
    caught, _ = failing_run("home", aws_errors={GET_VPC: "no matching EC2 VPC found"})
    assert str(caught).startswith("wgsites:vpn.hub.aws: region eu-central-1 has no default VPC for the gateway;")
    caught, _ = failing_run("home", vpn=home_vpn(subnetId=SUBNET), aws_errors={GET_SUBNET: "no matching EC2 Subnet found"})
    assert str(caught).startswith(f"wgsites:vpn.hub.aws.subnetId (eu-central-1): '{SUBNET}' is not a subnet this account")


def test_an_answer_without_a_code_passes_through_on_one_printable_line():
    text = "1 error occurred:\n\t* no valid credential sources found\x1b[2J"
    caught, _ = failing_run("home", aws_errors={GET_VPC: text})
    assert isinstance(caught, pulumi.RunError)
    assert "no valid credential sources found\\x1b[2J; fix the credentials" in str(caught)
    assert "\x1b" not in str(caught) and "\n" not in str(caught)


@pytest.mark.parametrize(
    ("text", "not_found", "code"),
    [
        ("no matching EC2 VPC found", True, None),
        ("reading EC2 Subnet: " + sdk_error("DescribeSubnets", 400, "InvalidSubnetID.NotFound", "does not exist"), True, None),
        ("reading EC2 VPC: " + sdk_error("DescribeVpcs", 403, "UnauthorizedOperation", "no"), False, "UnauthorizedOperation"),
        ("something else entirely", False, None),
    ],
)
def test_aws_answer(text, not_found, code):
    answer = aws_answer(Exception(text))
    assert (answer.not_found, answer.code) == (not_found, code)
    assert len(str(aws_answer(Exception("x" * 5000)))) == 300
