"""Every fact about upstream that the docs and the AWS gateway rely on, with where it was read, and what the program
sends for it under Pulumi's mocks.

Upstream is terraform-provider-aws (which the pinned pulumi-aws 7.51.1 bridges; its v6 line), the Pulumi engine,
and the Python SDK installed here. The AWS part never runs against AWS in this repository, so these readings are
what the day-two claims rest on (docs/day-two.md, "What a change does on AWS"). Sources:

- ENGINE: pulumi/pulumi pkg/resource/deploy/step_generator.go at 1b5949891b3cefcb9974752b24a5ecef0acc86c8.
- EC2_NEW: terraform-provider-aws internal/service/ec2/ec2_instance.go as the code index stores it after #36308 and
  #36590 and before #43158 (aws-sdk-go-v2; index id 1794561789; the index gives no commit for it). The index's
  copy by path is older (commit 5c58e0c2b9ff434d647f71c6b505f655b561ae21, aws-sdk-go v1, where
  ipv6_address_count is still ForceNew): it is cited only for what did not change.
- A fact marked NOT_READ was not read from upstream: the row says what the program does without relying on it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pytest
import wgmocks as m
from test_pulumi_changes import failing_run

from components.aws_answers import aws_answer
from wgsites.rendering.gateway_programs import agent_source

ROOT = Path(__file__).resolve().parents[2]
ENGINE = "pulumi/pulumi pkg/resource/deploy/step_generator.go@1b5949891b3c"
EC2_NEW = "terraform-provider-aws internal/service/ec2/ec2_instance.go (index id 1794561789, after #36308/#36590)"
EC2_OLD = "terraform-provider-aws internal/service/ec2/ec2_instance.go@5c58e0c2b9ff"
SUBNET, VPC, SUBNET6 = "subnet-0123456789abcdef0", "vpc-0123456789abcdef0", "2001:db8:1234:5600::/64"
PINNED, PINNED_2 = "ami-0aaaaaaaaaaaaaaa1", "ami-0aaaaaaaaaaaaaaa2"
IMAGES = {PINNED: "arm64", PINNED_2: "arm64"}
NOT_READ = "not read upstream"


@dataclass(frozen=True)
class Fact:
    claim: str
    source: str  # file and line at a commit, a PR or a changelog entry; NOT_READ when it could not be read


FACTS = {
    "an_ignored_input_is_no_change_but_every_replacement_takes_the_program_value": Fact(
        "an ignored input takes its old value for the diff, but a replacement (--replace, or forced by another "
        "input) is checked afresh with the program's values: it is created with the new one",
        f"{ENGINE}:1265-1269 (`if old != nil` -> processIgnoreChanges), :1321-1331 (a targeted replace is checked with "
        "goal.Properties), :2003-2022 (a replacement re-runs Check with goal.Properties); measured with the real "
        "engine (v3.274.1 built here): tests/engine/test_engine_ignore_changes.py",
    ),
    "engine_finds_old_state_by_urn_then_aliases": Fact(
        "state is found by URN, then by aliases", f"{ENGINE}:670-700 (generateSteps: Olds()[urnOrAlias])"
    ),
    "ami_is_force_new": Fact("`ami` is ForceNew", f'{EC2_NEW}: schema "ami" ForceNew: true; same in {EC2_OLD}'),
    "ipv6_address_count_is_updated_in_place": Fact(
        "`ipv6_address_count` is Optional+Computed, not ForceNew; Update calls Assign/UnassignIpv6Addresses",
        "PR #36308 (merged 2024-03-12), .changelog/36308.txt@b984df62 'Don't force an instance rebuild when "
        f"modifying ipv6_address_count'; {EC2_NEW}: schema, and resourceInstanceUpdate "
        '`d.HasChange("ipv6_address_count") && !d.IsNewResource()`',
    ),
    "an_omitted_optional_computed_value_shows_no_diff": Fact(
        "a Computed attribute removed from the config makes no diff",
        "hashicorp/terraform-plugin-sdk helper/schema/schema.go diffString: `if removed && schema.Computed "
        "{ return nil }` (index id 57785011)",
    ),
    "read_records_the_interface_count_so_zero_makes_no_diff_where_there_was_no_address": Fact(
        "Read sets ipv6_address_count to the primary interface's count, 0 without IPv6",
        f'{EC2_NEW}: resourceInstanceRead `d.Set("ipv6_address_count", len(primaryNetworkInterface.Ipv6Addresses))`;'
        f" same in {EC2_OLD}",
    ),
    "a_subnet_that_assigns_ipv6_gives_an_address_whatever_the_count": Fact(
        "ipv6_address_count = 0 does not prevent a subnet's automatic IPv6 assignment", "issue #20025 (open)"
    ),
    "ipv6_addresses_follow_the_count": Fact(
        "ipv6_addresses are recomputed when the count changes; ForceNew only when set explicitly",
        "PR #43158 (2025-06), .changelog/43158.txt@25dca6bf",
    ),
    "instance_type_within_an_architecture_stops_and_starts": Fact(
        "a changed instance_type is applied by stop, ModifyInstanceAttribute, start; a failed modify returns its error "
        "without starting the instance again",
        f"{EC2_NEW}: resourceInstanceUpdate -> modifyInstanceAttributeWithStopStart (stopInstance, "
        "ModifyInstanceAttribute, startInstance; `return fmt.Errorf(...)` before the start)",
    ),
    "instance_type_across_architectures_is_a_replacement_with_its_image": Fact(
        "instance types with no common architecture force a replacement (before #36590: an in-place stop, a refused "
        "modify, the instance left stopped); if DescribeInstanceTypes fails during the plan it is an update in place",
        f"PR #36590 (merged 2024-03, closes #36376); {EC2_NEW}: CustomizeDiff `customdiff.ForceNewIf("
        "names.AttrInstanceType, ...)`: false on a lookup error, true unless `hasCommonElement(...SupportedArchitectures"
        "...)`; the replacement's image: the engine row above",
    ),
    "user_data_change_replaces_the_instance": Fact(
        "with user_data_replace_on_change a changed user_data forces a replacement (else stop, modify, start)",
        f'{EC2_NEW}: CustomizeDiff `customdiff.ForceNewIf("user_data", ... user_data_replace_on_change)`',
    ),
    "subnet_is_force_new": Fact("`subnet_id` is ForceNew", f"{EC2_NEW}: schema names.AttrSubnetID ForceNew: true"),
    "eip_association_follows_a_new_instance": Fact(
        "aws_eip_association's instance_id change re-associates the address (ForceNew or update)",
        NOT_READ + ": the program relies only on the association naming the current instance",
    ),
    "an_address_added_after_boot_is_used_without_a_reboot": Fact(
        "the running gateway configures an IPv6 address assigned after its boot, and removes it when unassigned",
        "AWS EC2 User Guide, instance-metadata-v2-how-it-works (PUT /latest/api/token with "
        "X-aws-ec2-metadata-token-ttl-seconds, then GETs with X-aws-ec2-metadata-token); the categories "
        "network/interfaces/macs/<mac>/ipv6s and .../subnet-ipv6-cidr-blocks, one a line, 404 when the interface has "
        "none, as the ec2-metadata Python package and amazon-vpc-cni-k8s read them (code index; the AWS category "
        "page itself not read). Proven against an IMDS stand-in, not against AWS: the agent "
        "(wgsites/rendering/templates/gateway/wgsites-sync.py.j2, sync_uplink_ipv6) adds it without a reboot and the "
        "phone's IPv6 leaves from it, "
        "tests/lab/test_gateway_ipv6_after_boot.py; hostile answers: tests/unit/test_sync_agent_imds.py",
    ),
    "security_group_description_is_force_new": Fact(
        "a security group's description is ForceNew (EC2 has no API to change it)",
        'terraform-provider-aws internal/service/ec2/vpc_security_group.go: "description" ForceNew: true '
        "(index id 496502761); pulumi_aws 7.51.1 ec2/security_group.py:36 'for which there is no Update API'",
    ),
    "security_group_rules_change_in_place_and_its_vpc_replaces_it": Fact(
        "inline ingress/egress rules are not ForceNew (Update revokes and authorizes them); vpc_id is ForceNew",
        'terraform-provider-aws internal/service/ec2/vpc_security_group.go: schema "ingress"/"egress" without '
        'ForceNew, resourceSecurityGroupUpdate -> resourceSecurityGroupUpdateRules; "vpc_id" ForceNew: true '
        "(index id 496502761, an aws-sdk-go v1 version)",
    ),
    "a_parameter_update_puts_the_value_for_anything_but_tags": Fact(
        "SSM Parameter Update calls PutParameter with the configured value for any change but overwrite and tags",
        "terraform-provider-aws internal/service/ssm/parameter.go resourceParameterUpdate "
        '`d.HasChangesExcept("overwrite", names.AttrTags, names.AttrTagsAll)` (index id 2216969039)',
    ),
    "a_data_source_says_not_found_in_its_own_words": Fact(
        "singular data sources say 'no matching X found' when nothing matched, 'reading X: <error>' otherwise",
        "terraform-provider-aws internal/tfresource/errors.go SingularDataSourceFindError (index id 1116748143)",
    ),
    "sdk_errors_end_in_the_api_code_and_message": Fact(
        "aws-sdk-go-v2 API errors print `api error CODE: MESSAGE`", "aws/smithy-go errors.go@4e34e639 GenericAPIError"
    ),
    "the_python_sdk_raises_a_failed_invoke_to_the_program": Fact(
        "a provider's invoke error reaches the program as Exception('invoke of TOKEN failed: TEXT')",
        "pulumi 3.272.0 pulumi/runtime/invoke.py do_invoke (grpc.RpcError -> grpc_error_to_exception)",
    ),
    "the_api_calls_of_the_gateway_and_of_status_are_the_ones_its_role_allows": Fact(
        "the gateway calls ssm GetParameter(s) and PutParameter; status calls ssm GetParameter(s)", "this repository"
    ),
    "the_ami_data_source_not_found_words": Fact(
        "aws_ami says 'no matching EC2 AMI found' (newer) or 'Your query returned no results' (older)", NOT_READ
    ),
}


def raw(**changes) -> dict:
    vpn = copy.deepcopy(m.stack_config("home")["wgsites:vpn"])
    aws = changes.pop("aws", {})
    vpn["hub"].update(changes)
    vpn["hub"]["aws"] = {**vpn["hub"].get("aws", {}), **aws}
    return vpn


def dual(egress: bool, **aws) -> dict:
    vpn = raw(ipv6Egress=egress, aws={"subnetId": SUBNET, **aws})
    vpn["network6"] = "fd10:99::/64"
    return vpn


def instance(run: m.Run) -> dict:
    return m.unwrap(run.mocks.one(m.INSTANCE).inputs)


def options(run: m.Run):
    return run.mocks.requests[run.mocks.one(m.INSTANCE).name]


def dual_run(egress: bool, **kwargs) -> m.Run:
    return m.run_stack("home", vpn=dual(egress), subnets={SUBNET: VPC}, subnet_ipv6={SUBNET: SUBNET6}, **kwargs)


# --- the engine -------------------------------------------------------------------------------------------------


def test_an_ignored_input_is_no_change_but_every_replacement_takes_the_program_value():
    """So the program always sends the image it wants a replacement to use: the newest for the type, or the pin."""
    assert FACTS["an_ignored_input_is_no_change_but_every_replacement_takes_the_program_value"].source
    unpinned = m.run_stack("home")
    assert list(options(unpinned).ignoreChanges) == ["ami"]
    [lookup] = [c for c in unpinned.mocks.calls if c.token == "aws:ec2/getAmi:getAmi"]
    assert lookup.args["mostRecent"] is True and instance(unpinned)["ami"] == m.AMI_ID
    pinned = m.run_stack("home", vpn=raw(aws={"ami": PINNED}), images=IMAGES)
    assert list(options(pinned).ignoreChanges) == [] and instance(pinned)["ami"] == PINNED


def test_engine_finds_old_state_by_urn_then_aliases():
    """Fact: the old state is looked up by the URN first, then by each alias; a new name without aliases is new."""
    assert FACTS["engine_finds_old_state_by_urn_then_aliases"].source
    renamed = m.run_stack("home", vpn=raw(name="skyhub", aliases=["gateway"]))
    assert [a.spec.name for a in renamed.mocks.requests["vpn-skyhub"].aliases] == ["vpn-gateway"]


# --- the instance -----------------------------------------------------------------------------------------------


def test_ami_is_force_new():
    assert FACTS["ami_is_force_new"].source
    old, new = (m.run_stack("home", vpn=raw(aws={"ami": a}), images=IMAGES) for a in (PINNED, PINNED_2))
    assert {k for k in instance(new) if instance(new)[k] != instance(old)[k]} == {"ami"}  # a planned replacement


def test_ipv6_address_count_is_updated_in_place():
    """Fact: not ForceNew since v5.41.0; Update assigns (count up) or unassigns (count down) on the primary ENI."""
    assert FACTS["ipv6_address_count_is_updated_in_place"].source
    on, off = dual_run(True), dual_run(False)
    assert (instance(on)["ipv6AddressCount"], instance(off)["ipv6AddressCount"]) == (1, 0)
    assert {k for k in instance(on) if instance(on)[k] != instance(off).get(k)} == {"ipv6AddressCount"}


def test_an_omitted_optional_computed_value_shows_no_diff():
    """Fact: SDKv2 skips a Computed attribute missing from the config; so "off" must send 0, not nothing."""
    assert FACTS["an_omitted_optional_computed_value_shows_no_diff"].source
    assert "ipv6AddressCount" in instance(dual_run(False))


def test_read_records_the_interface_count_so_zero_makes_no_diff_where_there_was_no_address():
    assert FACTS["read_records_the_interface_count_so_zero_makes_no_diff_where_there_was_no_address"].source
    run = m.run_stack("home", vpn=raw(aws={"subnetId": SUBNET}), subnets={SUBNET: VPC})
    assert instance(run)["ipv6AddressCount"] == 0
    assert "ipv6AddressCount" not in instance(m.run_stack("home"))  # the default VPC's gateways: inputs unchanged


def test_a_subnet_that_assigns_ipv6_gives_an_address_whatever_the_count():
    assert FACTS["a_subnet_that_assigns_ipv6_gives_an_address_whatever_the_count"].source
    run = dual_run(False, auto_ipv6=[SUBNET])
    assert "ipv6AddressCount" not in instance(run)


def test_ipv6_addresses_follow_the_count():
    assert FACTS["ipv6_addresses_follow_the_count"].source
    assert "ipv6Addresses" not in instance(dual_run(True))  # the program sets the count only


def test_instance_type_within_an_architecture_stops_and_starts():
    assert FACTS["instance_type_within_an_architecture_stops_and_starts"].source
    small, bigger = m.run_stack("home"), m.run_stack("home", vpn=raw(aws={"instanceType": "t4g.small"}))
    assert m.unwrap(bigger.mocks.one(m.INSTANCE).inputs)["instanceType"] == "t4g.small"
    assert bigger.mocks.one(m.INSTANCE).name == small.mocks.one(m.INSTANCE).name  # an update: stop and start


def test_instance_type_across_architectures_is_a_replacement_with_its_image():
    assert FACTS["instance_type_across_architectures_is_a_replacement_with_its_image"].source
    run = m.run_stack("home", vpn=raw(aws={"instanceType": "t3.micro"}))
    assert run.mocks.one(m.INSTANCE).name == "vpn-gateway-instance"  # the same resource, no URN moves
    [lookup] = [c for c in run.mocks.calls if c.token == "aws:ec2/getAmi:getAmi"]
    assert "amd64" in json.dumps(lookup.args["filters"])  # the image the replacement is created with


def test_user_data_change_replaces_the_instance():
    assert FACTS["user_data_change_replaces_the_instance"].source
    assert instance(m.run_stack("home"))["userDataReplaceOnChange"] is True


def test_subnet_is_force_new():
    assert FACTS["subnet_is_force_new"].source
    run = m.run_stack("home", vpn=raw(aws={"subnetId": SUBNET}), subnets={SUBNET: VPC})
    assert instance(run)["subnetId"] == SUBNET


def test_eip_association_follows_a_new_instance():
    assert FACTS["eip_association_follows_a_new_instance"].source
    run = m.run_stack("home")
    assert m.unwrap(run.mocks.one(m.EIP_ASSOC).inputs)["instanceId"] == "vpn-gateway-instance-id"


def test_an_address_added_after_boot_is_used_without_a_reboot():
    assert FACTS["an_address_added_after_boot_is_used_without_a_reboot"].source
    readme = (ROOT / "README.md").read_text() + (ROOT / "docs" / "dual-stack.md").read_text()
    assert not re.search(r"reboot\s+the instance once", readme)  # no unproven advice left
    assert "tests/lab/test_gateway_ipv6_after_boot.py" in readme
    agent = agent_source()
    assert "/ipv6s" in agent and "/subnet-ipv6-cidr-blocks" in agent and "sync_uplink_ipv6(iface)" in agent
    assert (ROOT / "tests" / "lab" / "test_gateway_ipv6_after_boot.py").is_file()


# --- the security group and the parameters -----------------------------------------------------------------------


def test_security_group_description_is_force_new():
    assert FACTS["security_group_description_is_force_new"].source
    sdk = Path(pulumi.__file__).parents[1] / "pulumi_aws" / "ec2" / "security_group.py"
    assert "no Update API" in sdk.read_text().splitlines()[35]
    base, renamed = m.run_stack("home"), m.run_stack("home", vpn=raw(name="skyhub", aliases=["gateway"]))
    assert m.unwrap(renamed.mocks.one(m.SG).inputs) == m.unwrap(base.mocks.one(m.SG).inputs)


def test_security_group_rules_change_in_place_and_its_vpc_replaces_it():
    assert FACTS["security_group_rules_change_in_place_and_its_vpc_replaces_it"].source
    base, moved = m.run_stack("home"), m.run_stack("home", vpn=raw(aws={"adminCidrs": ["198.51.100.7/32"]}))
    before, after = (m.unwrap(r.mocks.one(m.SG).inputs) for r in (base, moved))
    assert {k for k in after if after[k] != before.get(k)} == {"ingress"}  # the rules alone: an update in place
    placed = m.run_stack("home", vpn=raw(aws={"subnetId": SUBNET}), subnets={SUBNET: VPC})
    assert m.unwrap(placed.mocks.one(m.SG).inputs)["vpcId"] == VPC


def test_a_parameter_update_puts_the_value_for_anything_but_tags():
    assert FACTS["a_parameter_update_puts_the_value_for_anything_but_tags"].source
    run = m.run_stack("home")
    for resource in (r for r in run.mocks.of_type(m.PARAMETER) if "-status" in r.name):
        assert list(run.mocks.requests[resource.name].ignoreChanges) == ["insecureValue", "description"]
        assert not re.search(r"\d+ at most|of \d+", resource.inputs["description"])  # no count that grows


# --- what AWS answers, and which calls are made ------------------------------------------------------------------


def test_a_data_source_says_not_found_in_its_own_words():
    assert FACTS["a_data_source_says_not_found_in_its_own_words"].source
    error, _ = failing_run("home", aws_errors={"aws:ec2/getVpc:getVpc": "no matching EC2 VPC found"})
    assert "has no default VPC" in str(error)


def test_sdk_errors_end_in_the_api_code_and_message():
    assert FACTS["sdk_errors_end_in_the_api_code_and_message"].source
    answer = aws_answer(Exception("reading EC2 VPC: operation error EC2: DescribeVpcs, api error ExpiredToken: gone"))
    assert (answer.code, answer.message) == ("ExpiredToken", "gone")


def test_the_python_sdk_raises_a_failed_invoke_to_the_program():
    assert FACTS["the_python_sdk_raises_a_failed_invoke_to_the_program"].source
    source = (Path(pulumi.__file__).parent / "runtime" / "invoke.py").read_text()
    assert 'Exception(f"invoke of {tok} failed: {error}")' in source
    error, _ = failing_run("home", aws_errors={"aws:ec2/getVpc:getVpc": "api error AuthFailure: no"})
    assert "AuthFailure: no" in str(error)


def test_the_api_calls_of_the_gateway_and_of_status_are_the_ones_its_role_allows():
    """Which SSM calls the bootstrap, the agent and `status` make (read from their source), against the policies the
    program gives the gateway's role: reads by exact ARN, writes only under its status."""
    assert FACTS["the_api_calls_of_the_gateway_and_of_status_are_the_ones_its_role_allows"].source
    calls = {
        path: set(re.findall(r"ssm\.(get_parameters?|put_parameter)\(", (ROOT / path).read_text()))
        for path in (
            "wgsites/rendering/templates/gateway/wgsites-bootstrap.py.j2",
            "wgsites/rendering/templates/gateway/wgsites-sync.py.j2",
            "wgsites/operations/gateway_status.py",
        )
    }
    assert calls == {
        "wgsites/rendering/templates/gateway/wgsites-bootstrap.py.j2": {"get_parameter", "get_parameters"},
        "wgsites/rendering/templates/gateway/wgsites-sync.py.j2": {"get_parameter", "get_parameters", "put_parameter"},
        "wgsites/operations/gateway_status.py": {"get_parameter", "get_parameters"},
    }
    run = m.run_stack("home")
    actions = {
        a for r in run.mocks.of_type(m.ROLE_POLICY) for s in json.loads(r.inputs["policy"])["Statement"] for a in s["Action"]
    }
    assert actions == {"ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter"}


@pytest.mark.parametrize(
    "text", ["no matching EC2 AMI found", "Your query returned no results. Please change your search criteria"]
)
def test_the_ami_data_source_not_found_words(text):
    assert FACTS["the_ami_data_source_not_found_words"].source
    assert aws_answer(Exception(text)).not_found  # so the program accepts both


def test_every_fact_is_a_row_with_a_source_and_a_test():
    """The table above is the whole list: each row cites where it was read (or says it was not) and has its test."""
    source = Path(__file__).read_text()
    for key, fact in FACTS.items():
        assert fact.source.strip() and fact.claim.strip(), key
        assert f"def test_{key}(" in source, key
