"""Day two on AWS accounts unlike the examples: a renamed node, no default VPC, a subnet of the user's own."""

from __future__ import annotations

import copy
import json

import pulumi
import pytest
import wgmocks as m
from test_pulumi_changes import failing_run

SUBNET = "subnet-0a1b2c3d4e5f60718"
VPC = "vpc-0fedcba9876543210"


def home_vpn(**aws) -> dict:
    raw = copy.deepcopy(m.stack_config("home")["wgsites:vpn"])
    raw["hub"]["aws"] = {**raw["hub"].get("aws", {}), **aws}
    return raw


def aliases_sent(run: m.Run, name: str) -> list[str]:
    return [alias.spec.name for alias in run.mocks.requests[name].aliases]


def test_renamed_hub_with_aliases_keeps_its_key_its_user_data_and_its_resources(home):
    raw = home_vpn()
    raw["hub"].update(name="skyhub", aliases=["gateway"])
    renamed = m.run_stack("home", vpn=raw)
    # the component says where it was; the engine moves its children (names prefixed by it) with it
    assert aliases_sent(renamed, "vpn-skyhub") == ["vpn-gateway"]
    before, after = (m.unwrap(r.mocks.one(m.INSTANCE).inputs) for r in (home, renamed))
    assert after["userData"] == before["userData"]  # a new user data would replace the VM
    # nothing but the mocks' ids (which follow resource names; real ids stay) differs: tags name the first name
    assert json.dumps(after, sort_keys=True).replace("skyhub", "gateway") == json.dumps(before, sort_keys=True)
    assert after["tags"]["wgsites:node"] == "gateway"
    assert renamed.exports["public_keys"].value["skyhub"] == home.exports["public_keys"].value["gateway"]
    # so every device's config is the one it has, but for the hub's name in its comments
    old, new = (r.exports["phone_config"].value for r in (home, renamed))
    assert new.replace("skyhub", "gateway") == old
    # the SSM names follow the stack and the interface, never the node's name: no collision
    names = {m.unwrap(p.inputs["name"]) for p in renamed.mocks.of_type(m.PARAMETER)}
    assert names == {m.unwrap(p.inputs["name"]) for p in home.mocks.of_type(m.PARAMETER)}


AWS_TYPES = [m.SG, m.PARAMETER, m.ROLE, m.ROLE_POLICY, m.PROFILE, m.INSTANCE, m.EIP_TYPE, m.EIP_ASSOC]


def test_a_hub_renamed_with_aliases_changes_no_description_no_tag_and_no_status_parameter(home):
    """The security group's description is ForceNew upstream (a rename would replace it), and any change of a status
    parameter but its tags puts the ignored placeholder over the agent's published status (upstream parameter.go)."""
    raw = home_vpn()
    raw["hub"].update(name="skyhub", aliases=["gateway"])
    renamed = m.run_stack("home", vpn=raw)
    before = {r.name: m.unwrap(r.inputs) for r in home.mocks.resources if r.typ in AWS_TYPES}
    after = {r.name.replace("skyhub", "gateway"): m.unwrap(r.inputs) for r in renamed.mocks.resources if r.typ in AWS_TYPES}
    assert after.keys() == before.keys()
    for name, inputs in after.items():
        assert inputs.get("description") == before[name].get("description"), name
        assert inputs.get("tags") == before[name].get("tags"), name
    status = [r.name for r in home.mocks.of_type(m.PARAMETER) if "-status" in r.name]
    assert status and all(after[name] == before[name] for name in status)  # not one input of a status parameter
    assert before["vpn-gateway-sg"] == after["vpn-gateway-sg"]  # so no replacement of the security group


def test_more_peers_change_no_status_parameter_that_exists():
    """The status takes more parts as peers are added; the parts that exist keep every input (no put over them)."""
    small = m.run_stack("home")
    raw = home_vpn()
    base = raw["peers"][0]["address"].rsplit(".", 1)[0]
    raw["peers"] += [{"name": f"tablet{i}", "address": f"{base}.{100 + i}"} for i in range(60)]
    big = m.run_stack("home", vpn=raw)
    old = {r.name: m.unwrap(r.inputs) for r in small.mocks.of_type(m.PARAMETER) if "-status" in r.name}
    new = {r.name: m.unwrap(r.inputs) for r in big.mocks.of_type(m.PARAMETER) if "-status" in r.name}
    assert len(new) > len(old)
    assert {name: new[name] for name in old} == old


def test_renamed_ssh_site_and_peer_carry_aliases_and_the_peer_its_key():
    base = m.run_stack("home")
    raw = home_vpn()
    raw["sites"][0].update(name="house", aliases=[raw["sites"][0]["name"]])
    raw["peers"][1].update(name="mobile", aliases=["phone"])
    renamed = m.run_stack("home", vpn=raw)
    assert aliases_sent(renamed, "vpn-house") == ["vpn-home"]  # the key step and the push: one component each
    assert len(renamed.mocks.requests["vpn-house"].aliases) == 1
    assert "vpn-mobile" not in renamed.mocks.requests  # a device is no resource: its config, an export, is all it gets
    assert renamed.exports["public_keys"].value["mobile"] == base.exports["public_keys"].value["phone"]
    assert renamed.exports["mobile_config"].value.replace("mobile", "phone") == base.exports["phone_config"].value


def test_rename_without_aliases_is_a_new_node(home):
    """Documented: without aliases the peer gets a key of its own (a new phone import), the push a new resource."""
    raw = home_vpn()
    raw["peers"][1]["name"] = "mobile"
    renamed = m.run_stack("home", vpn=raw)
    assert renamed.exports["public_keys"].value["mobile"] != home.exports["public_keys"].value["phone"]


def test_a_device_file_command_keeps_its_history_through_renames_and_the_component_it_had(tmp_path, monkeypatch):
    """A device's `file:` command was the child of the device's own component (before devices stopped being
    resources): its aliases name that parent, under the device's name now and each earlier one, so neither an
    upgrade nor a rename replaces it (a replace writes the file, then the old command's delete removes it)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    raw = home_vpn()
    raw["peers"][1].update(name="mobile", aliases=["phone"], file="~/mobile.conf")
    run = m.run_stack("home", vpn=raw)
    request = run.mocks.requests["vpn-mobile-file"]
    parent_type, parent_name = request.parent.rsplit("::", 2)[-2:]
    assert (parent_type.endswith("wgsites:vpn:WireGuardVpn"), parent_name) == (True, "vpn")
    component = request.parent.replace(f"::{parent_type}::vpn", f"::{parent_type}$wgsites:roaming_peer:RoamingPeer::vpn-{{}}")
    assert [(a.spec.name, a.spec.parentUrn) for a in request.aliases] == [
        ("vpn-mobile-file", component.format("mobile")),  # an upgrade: its component's child until now
        ("vpn-phone-file", component.format("phone")),  # a rename, from a release with the component
        ("vpn-phone-file", ""),  # a rename, from this one (the same parent)
    ]
    assert not [r for r in run.mocks.resources if r.typ == "wgsites:roaming_peer:RoamingPeer"]


def test_without_a_default_vpc_the_up_stops_before_anything_with_the_fix():
    error, mocks = failing_run("home", default_vpc=False)
    assert str(error).startswith("wgsites:vpn.hub.aws: region eu-central-1 has no default VPC for the gateway;")
    assert "hub.aws.subnetId: subnet-..." in str(error)
    assert mocks.resources == []  # not even the SSH host's key command ran


def test_default_vpc_leaves_the_instance_and_group_as_before(home):
    instance, sg = (m.unwrap(home.mocks.one(t).inputs) for t in (m.INSTANCE, m.SG))
    assert "subnetId" not in instance and "associatePublicIpAddress" not in instance
    assert "vpcId" not in sg
    assert [c.token for c in home.mocks.calls].count("aws:ec2/getVpc:getVpc") == 1


def test_a_named_subnet_places_instance_and_group_in_its_vpc():
    run = m.run_stack("home", vpn=home_vpn(subnetId=SUBNET, vpcId=VPC), subnets={SUBNET: VPC}, default_vpc=False)
    instance, sg = (m.unwrap(run.mocks.one(t).inputs) for t in (m.INSTANCE, m.SG))
    assert instance["subnetId"] == SUBNET
    assert instance["associatePublicIpAddress"] is True  # the bootstrap needs the internet before the EIP
    assert sg["vpcId"] == VPC


def test_a_subnet_alone_finds_its_vpc():
    run = m.run_stack("home", vpn=home_vpn(subnetId=SUBNET), subnets={SUBNET: VPC})
    assert m.unwrap(run.mocks.one(m.SG).inputs)["vpcId"] == VPC


@pytest.mark.parametrize(
    ("aws", "subnets", "message"),
    [
        (
            {"subnetId": SUBNET},
            {},
            f"wgsites:vpn.hub.aws.subnetId (eu-central-1): '{SUBNET}' is not a subnet this account can see in "
            "eu-central-1; check the id and the region (pulumi config get aws:region)",
        ),
        (
            {"subnetId": SUBNET, "vpcId": "vpc-01234567"},
            {SUBNET: VPC},
            f"wgsites:vpn.hub.aws.subnetId (eu-central-1): '{SUBNET}' is in {VPC}, not in hub.aws.vpcId "
            "'vpc-01234567'; fix one of the two",
        ),
    ],
)
def test_a_wrong_subnet_stops_before_anything(aws, subnets, message):
    error, mocks = failing_run("home", vpn=home_vpn(**aws), subnets=subnets)
    assert isinstance(error, pulumi.RunError)
    assert str(error) == message
    assert mocks.resources == []
