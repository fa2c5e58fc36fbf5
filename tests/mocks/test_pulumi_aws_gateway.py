"""The aws hub: only WireGuard open, IMDSv2, encrypted disk, least-privilege role, user data from the core."""

from __future__ import annotations

import base64
import copy
import json
import re

import pytest
import wgmocks as m
from nacl.signing import VerifyKey

from components.aws_gateway import SERIAL_CREATE, SERIAL_UPDATE, architecture
from wgsites.rendering.bundle import gateway_parameters, signed_text
from wgsites.rendering.delivery import DeliveryPlan
from wgsites.rendering.render import (
    KeyRing,
    render_gateway_bundle,
    render_install_script,
    render_user_data,
    render_wg_quick,
)
from wgsites.rendering.status_slots import PLACEHOLDER_CHUNK, PLACEHOLDER_MANIFEST, status_slots
from wgsites.stack.keys import bundle_signing_key, public_key_of, verify_key_text

TAGGABLE = [m.SG, m.PARAMETER, m.ROLE, m.PROFILE, m.INSTANCE, m.EIP_TYPE]


def home_with(**hub_aws) -> dict:
    vpn = copy.deepcopy(m.stack_config("home")["wgsites:vpn"])
    vpn["hub"]["aws"] = {**vpn["hub"].get("aws", {}), **hub_aws}
    return vpn


def test_security_group_opens_only_the_wireguard_port(home):
    sg = m.unwrap(home.mocks.one(m.SG).inputs)
    assert sg["ingress"] == [
        {
            "description": "WireGuard",
            "protocol": "udp",
            "fromPort": 51820,
            "toPort": 51820,
            "cidrBlocks": ["0.0.0.0/0"],
            "ipv6CidrBlocks": ["::/0"],
        }
    ]
    assert sg["egress"] == [
        {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"], "ipv6CidrBlocks": ["::/0"]}
    ]


def test_travel_opens_its_own_listen_port():
    [rule] = m.unwrap(m.run_stack("travel").mocks.one(m.SG).inputs)["ingress"]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("udp", 51000, 51000)


def test_ssh_only_from_admin_cidrs():
    run = m.run_stack("home", vpn=home_with(adminCidrs=["198.51.100.7/32", "2001:db8::/64"]))
    wireguard, ssh = m.unwrap(run.mocks.one(m.SG).inputs)["ingress"]
    assert wireguard["protocol"] == "udp"
    assert ssh == {
        "description": "SSH from wgsites:vpn.hub.aws.adminCidrs",
        "protocol": "tcp",
        "fromPort": 22,
        "toPort": 22,
        "cidrBlocks": ["198.51.100.7/32"],
        "ipv6CidrBlocks": ["2001:db8::/64"],
    }


def test_instance_hardening_and_wiring(home):
    instance = m.unwrap(home.mocks.one(m.INSTANCE).inputs)
    assert instance["metadataOptions"]["httpTokens"] == "required"
    assert instance["metadataOptions"]["httpEndpoint"] == "enabled"
    assert instance["rootBlockDevice"]["encrypted"] is True
    assert instance["rootBlockDevice"]["volumeType"] == "gp3"
    assert instance["instanceType"] == "t4g.nano"
    assert instance["ami"] == m.AMI_ID
    assert instance["vpcSecurityGroupIds"] == ["vpn-gateway-sg-id"]
    assert instance["iamInstanceProfile"] == "vpn-gateway-profile-1234"
    assert "keyName" not in instance and "associatePublicIpAddress" not in instance
    eip = m.unwrap(home.mocks.one(m.EIP_TYPE).inputs)
    assert eip["domain"] == "vpc"
    association = m.unwrap(home.mocks.one(m.EIP_ASSOC).inputs)
    assert association == {"allocationId": "eipalloc-vpn-gateway-eip", "instanceId": "vpn-gateway-instance-id"}


@pytest.mark.parametrize("stack", ["home", "travel"])
def test_user_data_is_the_core_render(stack):
    run = m.run_stack(stack)
    vpn = m.model(run)
    bundle_key = verify_key_text(bundle_signing_key(m.TEST_SEED))  # derived from the stack's seed
    expected = render_user_data(vpn.hub, stack, gateway_parameters(stack, vpn.hub.interface, "eu-central-1"), bundle_key)
    instance = run.mocks.one(m.INSTANCE).inputs
    assert instance["userData"] == expected  # plain, so a preview shows its diff
    assert "userDataBase64" not in instance
    assert instance["userDataReplaceOnChange"] is True  # cloud-init runs user data once per instance
    assert len(expected.encode()) < 8000 and "PrivateKey" not in expected and "[Peer]" not in expected


def test_ubuntu_noble_ami_for_the_instance_architecture():
    for instance_type, arch in [("t4g.nano", "arm64"), ("t3.micro", "amd64")]:
        run = m.run_stack("home", vpn=home_with(instanceType=instance_type))
        [call] = [c for c in run.mocks.calls if c.token == "aws:ec2/getAmi:getAmi"]
        assert call.args["owners"] == ["099720109477"]
        assert call.args["mostRecent"] is True
        names = [f["values"] for f in call.args["filters"] if f["name"] == "name"]
        assert names == [[f"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{arch}-server-*"]]
        assert m.unwrap(run.mocks.one(m.INSTANCE).inputs)["instanceType"] == instance_type


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("t4g.nano", "arm64"),
        ("c7g.large", "arm64"),
        ("m7gd.xlarge", "arm64"),
        ("c6gn.medium", "arm64"),
        ("a1.medium", "arm64"),
        ("t3.micro", "amd64"),
        ("t3a.nano", "amd64"),
        ("g5.xlarge", "amd64"),
        ("m7i.large", "amd64"),
    ],
)
def test_architecture(instance_type, arch):
    assert architecture(instance_type) == arch


def test_parameters_hold_the_core_bundle_and_the_hub_key(home):
    vpn = m.model(home)
    names = gateway_parameters("home", "wg0", "eu-central-1")
    keys = KeyRing(public=m.expected_public_keys(vpn))
    config = render_wg_quick(vpn, "gateway", "home", keys)
    bundle = m.gateway_bundle(home.mocks)
    hub_key = m.expected_public_keys(vpn)["gateway"]
    assert bundle == json.loads(render_gateway_bundle(vpn, "home", config, public_key=hub_key))
    assert bundle["public_key"] == public_key_of(home.private_keys["gateway"])  # the one key the agent takes
    assert bundle["config"] == config and not re.search(r"PrivateKey = [A-Za-z0-9+/]{43}=", json.dumps(bundle))
    assert bundle["install"] == render_install_script(vpn, "gateway", "home") and bundle["sync_seconds"] == 30
    chunks = [r for r in home.mocks.of_type(m.PARAMETER) if r.name.startswith("vpn-gateway-bundle-")]
    assert len(chunks) == DeliveryPlan(vpn, "home").gateway.bundle_chunks > 1
    for chunk in chunks:
        inputs = m.unwrap(chunk.inputs)
        assert inputs["type"] == "String" and inputs["tier"] == "Standard" and len(inputs["insecureValue"]) <= 4000
        assert inputs["name"].startswith(names.manifest + "/") and not m.is_secret_input(chunk.inputs["insecureValue"])
    manifest = m.unwrap(home.mocks.named("vpn-gateway-bundle").inputs)
    assert (manifest["name"], manifest["type"]) == (names.manifest, "String")
    meta = json.loads(manifest["insecureValue"])  # signed with the stack's key, checkable with the user data's public half
    # every field signed: whose bundle it is, its serial (the bundle-serial command's stdout), count and length
    assert (meta["stack"], meta["interface"], meta["serial"]) == ("home", "wg0", int(m.BUNDLE_SERIAL))
    assert (meta["chunks"], meta["format"]) == (len(chunks), 2)
    VerifyKey(bundle_signing_key(m.TEST_SEED).verify_key.encode()).verify(
        signed_text(meta).encode(), base64.b64decode(meta["signature"])
    )
    serial = m.unwrap(home.mocks.named("vpn-gateway-bundle-serial").inputs)
    assert (serial["create"], serial["update"]) == (SERIAL_CREATE, SERIAL_UPDATE)
    assert serial["environment"] == {"WGSITES_BUNDLE_SHA256": meta["sha256"]}  # a change of the bundle updates it
    assert not m.is_secret_input(home.mocks.named("vpn-gateway-bundle").inputs["insecureValue"])
    assert any(dep.endswith("::vpn-gateway-bundle-0000") for dep in home.mocks.requests["vpn-gateway-bundle"].dependencies)
    key = home.mocks.named("vpn-gateway-private-key").inputs
    assert m.is_secret_input(key["value"])
    assert m.unwrap(key["value"]) == home.private_keys["gateway"]
    assert (key["name"], key["type"]) == (names.key, "SecureString")


def test_role_reads_exactly_its_parameters_and_writes_only_its_status(home):
    names = [r.name for r in home.mocks.of_type(m.PARAMETER)]
    ssm_names = [m.unwrap(home.mocks.named(n).inputs)["name"] for n in names]
    status = [n for n in ssm_names if n == "/wgsites/home/wg0/status" or n.startswith("/wgsites/home/wg0/status/")]
    read = [n for n in ssm_names if n not in status]
    assert "/wgsites/home/wg0/private-key" in read and "/wgsites/home/wg0/bundle" in read

    def arns(names):
        return sorted(f"arn:aws:ssm:eu-central-1:{m.ACCOUNT}:parameter{n}" for n in names)

    policies = {r.name: json.loads(r.inputs["policy"]) for r in home.mocks.of_type(m.ROLE_POLICY)}
    (manifest,) = arns(["/wgsites/home/wg0/status"])  # and the chunks under it, whatever their number
    assert policies == {
        "vpn-gateway-read-parameters": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": arns(read)}],
        },
        "vpn-gateway-publish-status": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["ssm:PutParameter"], "Resource": [manifest, f"{manifest}/*"]}],
        },
    }
    assert all(r.inputs["role"] == "vpn-gateway-role-id" for r in home.mocks.of_type(m.ROLE_POLICY))
    # as many chunk slots as the stack's largest status takes, and the manifest; Pulumi writes a placeholder once
    vpn = m.model(home)
    assert len(status) == 1 + status_slots(vpn)
    for name in (n for n in names if "-status" in n):
        # the agent's value stays, and no change of description makes the provider put the placeholder again
        assert list(home.mocks.requests[name].ignoreChanges) == ["insecureValue", "description"], name
        value = home.mocks.named(name).inputs["insecureValue"]
        assert value in (PLACEHOLDER_CHUNK, PLACEHOLDER_MANIFEST) and home.mocks.named(name).inputs["tier"] == "Standard"
    trust = json.loads(home.mocks.one(m.ROLE).inputs["assumeRolePolicy"])
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    assert "managedPolicyArns" not in home.mocks.one(m.ROLE).inputs
    assert home.mocks.one(m.PROFILE).inputs["role"] == "vpn-gateway-role-1234"


def test_everything_taggable_carries_the_stack(run):
    for resource in (r for r in run.mocks.resources if r.typ in TAGGABLE):
        assert m.unwrap(resource.inputs)["tags"]["wgsites:stack"] == run.stack, resource.name
    for resource in run.mocks.of_type(m.INSTANCE):
        assert m.unwrap(resource.inputs)["rootBlockDevice"]["tags"]["wgsites:stack"] == run.stack


def test_adding_a_peer_changes_parameters_and_pushes_never_the_instance(home):
    vpn_raw = copy.deepcopy(home.vpn_raw)
    vpn_raw["peers"].append({"name": "tablet", "address": "10.99.0.12"})
    bigger = m.run_stack("home", vpn=vpn_raw)
    before, after = home.mocks, bigger.mocks
    assert m.unwrap(after.one(m.INSTANCE).inputs) == m.unwrap(before.one(m.INSTANCE).inputs)
    vpn = m.model(bigger)
    keys = KeyRing(public=m.expected_public_keys(vpn))
    new_config = m.gateway_config(after)
    assert new_config != m.gateway_config(before)
    assert new_config == render_wg_quick(vpn, "gateway", "home", keys)
    assert "# tablet\n" in new_config
    home_push = after.named("vpn-home-install").inputs["stdin"]
    assert home_push == render_wg_quick(vpn, "home", "home", keys, hub_endpoint=m.EIP)
    assert m.unwrap(after.one(m.SG).inputs) == m.unwrap(before.one(m.SG).inputs)
    read = "vpn-gateway-read-parameters"
    # the gateway may read what it must: the same parameters, unless the bundle grew by a chunk
    if len(after.of_type(m.PARAMETER)) == len(before.of_type(m.PARAMETER)):
        assert after.named(read).inputs == before.named(read).inputs
    else:
        assert len(after.of_type(m.PARAMETER)) == len(before.of_type(m.PARAMETER)) + 1
    assert "tablet_config" in bigger.exports


# Every setting of the stack a user may change on a running gateway, and the instance-level ones.
SETTINGS = {
    "masquerade": lambda v: v["hub"].update(masquerade=True),
    "forward rules": lambda v: v.update(forwardRules=[{"protocol": "tcp", "port": 25, "action": "drop"}]),
    "sync period": lambda v: v["hub"].setdefault("aws", {}).update(syncSeconds=60),
    "listen port": lambda v: v.update(listenPort=443),
    "network": lambda v: renumber(v, "10.98.0"),
    "a peer": lambda v: v["peers"].append({"name": "tablet", "address": v["peers"][0]["address"].rsplit(".", 1)[0] + ".77"}),
    "uplink": lambda v: v["hub"].update(uplink={"type": "ethernet", "mtu": 1300}),
    "admin networks": lambda v: v["hub"].setdefault("aws", {}).update(adminCidrs=["198.51.100.7/32"]),
}


def renumber(raw: dict, prefix: str) -> None:
    """The VPN network moved to PREFIX.0/24, every node keeping its host number."""
    raw["network"] = f"{prefix}.0/24"
    for node in [raw["hub"], *raw.get("sites", []), *raw.get("peers", [])]:
        node["address"] = f"{prefix}.{node['address'].rsplit('.', 1)[1]}"


@pytest.mark.parametrize("stack", ["home", "travel"])
@pytest.mark.parametrize("setting", SETTINGS, ids=SETTINGS.keys())
def test_no_setting_of_a_running_gateway_touches_its_instance(stack, setting):
    """The setting reaches the VM in the bundle (applied in place by its agent); the instance's inputs stay identical."""
    before = m.run_stack(stack)
    raw = copy.deepcopy(before.vpn_raw)
    SETTINGS[setting](raw)
    after = m.run_stack(stack, vpn=raw)
    assert m.unwrap(after.mocks.one(m.INSTANCE).inputs) == m.unwrap(before.mocks.one(m.INSTANCE).inputs), setting
    if setting not in ("admin networks", "listen port"):  # those change the security group instead
        assert m.gateway_bundle(after.mocks) != m.gateway_bundle(before.mocks), setting
