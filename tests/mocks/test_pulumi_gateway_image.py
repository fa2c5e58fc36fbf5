"""The gateway's image: kept while running, moved by any replacement or a pinned hub.aws.ami, of the type's architecture.

Why: `ami` is ignored, so a newer Ubuntu never replaces a running gateway; a replacement (upstream replaces an
instance type of the other architecture, #36590) takes the image the program asks for then, so that image must be the
one for the type's architecture; and a pinned image must run on the type, checked before anything exists.
"""

from __future__ import annotations

import copy

import pytest
import wgmocks as m
from test_pulumi_changes import failing_run

ARM_IMAGE = "ami-0aaaaaaaaaaaaaaa1"
ARM_IMAGE_2 = "ami-0aaaaaaaaaaaaaaa2"
X86_IMAGE = "ami-0bbbbbbbbbbbbbbb1"
IMAGES = {ARM_IMAGE: "arm64", ARM_IMAGE_2: "arm64", X86_IMAGE: "x86_64"}
GET_AMI = "aws:ec2/getAmi:getAmi"


def home_with(**aws) -> dict:
    raw = copy.deepcopy(m.stack_config("home")["wgsites:vpn"])
    raw["hub"]["aws"] = {**raw["hub"].get("aws", {}), **aws}
    return raw


def instance_of(run: m.Run):
    return run.mocks.one(m.INSTANCE)


def test_an_unpinned_image_is_ignored_once_launched(home):
    instance = instance_of(home)
    assert instance.name == "vpn-gateway-instance"
    assert list(home.mocks.requests[instance.name].ignoreChanges) == ["ami"]


def test_another_architecture_asks_for_its_own_image(home):
    """t4g -> t3: upstream plans a replacement (no common architecture), which the engine creates with the inputs the
    program sends: the newest Ubuntu for amd64, the same resource (no URN moves), the Elastic IP and keys as they were."""
    run = m.run_stack("home", vpn=home_with(instanceType="t3.micro"))
    instance = instance_of(run)
    assert instance.name == instance_of(home).name
    [lookup] = [c for c in run.mocks.calls if c.token == GET_AMI]
    assert [f["values"] for f in lookup.args["filters"] if f["name"] == "name"] == [
        ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"]
    ]
    assert m.unwrap(instance.inputs)["ami"] == m.AMI_ID  # that lookup's answer
    assert m.unwrap(run.mocks.one(m.EIP_TYPE).inputs) == m.unwrap(home.mocks.one(m.EIP_TYPE).inputs)
    assert m.unwrap(instance.inputs)["userData"] == m.unwrap(instance_of(home).inputs)["userData"]
    key = "vpn-gateway-private-key"
    assert m.unwrap(run.mocks.named(key).inputs) == m.unwrap(home.mocks.named(key).inputs)


def test_a_pinned_image_is_the_instance_image_and_is_not_ignored(home):
    run = m.run_stack("home", vpn=home_with(ami=ARM_IMAGE), images=IMAGES)
    instance = instance_of(run)
    assert m.unwrap(instance.inputs)["ami"] == ARM_IMAGE
    assert list(run.mocks.requests[instance.name].ignoreChanges) == []  # so a new pin is a planned replacement
    assert instance.name == "vpn-gateway-instance"
    [check] = [c for c in run.mocks.calls if c.token == GET_AMI]  # no lookup of the newest Ubuntu
    assert check.args["filters"] == [{"name": "image-id", "values": [ARM_IMAGE]}]


def test_a_new_pinned_image_changes_the_image_alone():
    """ami is ForceNew upstream: the preview shows the instance replaced; the Elastic IP, the keys, the bundle and the
    status stay exactly as they were (only the instance's image differs)."""
    old, new = (m.run_stack("home", vpn=home_with(ami=image), images=IMAGES) for image in (ARM_IMAGE, ARM_IMAGE_2))
    before = {(r.typ, r.name): m.unwrap(r.inputs) for r in old.mocks.resources}
    differ = [r.name for r in new.mocks.resources if m.unwrap(r.inputs) != before[(r.typ, r.name)]]
    assert differ == ["vpn-gateway-instance"]
    assert m.unwrap(instance_of(new).inputs)["ami"] == ARM_IMAGE_2


@pytest.mark.parametrize(
    ("aws", "message"),
    [
        (
            {"ami": X86_IMAGE},
            f"wgsites:vpn.hub.aws.ami (eu-central-1): '{X86_IMAGE}' is an image for x86_64, and hub.aws.instanceType "
            "'t4g.nano' needs one for arm64; pin an image for arm64 (Ubuntu 24.04: "
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*) or choose an instance type of its architecture",
        ),
        (
            {"ami": ARM_IMAGE, "instanceType": "t3.micro"},
            f"wgsites:vpn.hub.aws.ami (eu-central-1): '{ARM_IMAGE}' is an image for arm64, and hub.aws.instanceType "
            "'t3.micro' needs one for x86_64; pin an image for x86_64 (Ubuntu 24.04: "
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*) or choose an instance type of its architecture",
        ),
        (
            {"ami": "ami-0123456789abcdef0"},
            "wgsites:vpn.hub.aws.ami (eu-central-1): 'ami-0123456789abcdef0' is not an image this account can see in "
            "eu-central-1; check the id and the region (an image's id differs in each region)",
        ),
    ],
)
def test_a_wrong_pinned_image_stops_before_anything(aws, message):
    error, mocks = failing_run("home", vpn=home_with(**aws), images=IMAGES)
    assert str(error) == message
    assert mocks.resources == []


def test_a_refused_image_lookup_says_what_aws_answered():
    refusal = (
        "reading EC2 AMIs: operation error EC2: DescribeImages, https response error StatusCode: 403, "
        "api error UnauthorizedOperation: no"
    )
    error, mocks = failing_run("home", vpn=home_with(ami=ARM_IMAGE), images=IMAGES, aws_errors={GET_AMI: refusal})
    assert str(error) == (
        f"wgsites:vpn.hub.aws.ami (eu-central-1): AWS refused to describe '{ARM_IMAGE}' (ec2:DescribeImages): "
        "UnauthorizedOperation: no; fix the credentials or the permission and run again"
    )
    assert mocks.resources == []
