"""Every resource and invoke the program registers conforms to the providers' own typed Python SDK classes.

Why: mocks accept any property name and any shape; the real provider rejects an unknown property or a missing
required one only at `pulumi up`, against a real account. The SDK's `...Args` classes are generated from the
provider's schema (pulumi-aws 7.51.1, pulumi-command as installed), so checking against them catches a misspelt
name, a list where an object goes, a missing required input, a value outside an enum the SDK names, and an
`ignore_changes` path that names nothing (the engine ignores those in silence: nothing would be ignored); the
validators' length limits are read upstream (LIMITS).
"""

from __future__ import annotations

import copy
import enum
import importlib
import inspect
import re
from typing import Any

import pytest
import wgmocks as m

from tests.stacks import STACKS

SUBNET, VPC, SUBNET6 = "subnet-0123456789abcdef0", "vpc-0123456789abcdef0", "2001:db8:1234:5600::/64"
PINNED = "ami-0aaaaaaaaaaaaaaa1"
PACKAGES = {"aws": "pulumi_aws", "command": "pulumi_command"}


def args_class(token: str) -> type | None:
    """`aws:ec2/instance:Instance` -> pulumi_aws.ec2.InstanceArgs; None for component resources."""
    package, module, name = token.split(":")
    if package not in PACKAGES:
        return None
    return getattr(importlib.import_module(f"{PACKAGES[package]}.{module.split('/')[0]}"), f"{name}Args")


def properties(cls: type) -> dict[str, property]:
    """The class's inputs by their wire names (camelCase), as the SDK serialises them."""
    return {
        getattr(p.fget, "_pulumi_name", n): p for klass in cls.__mro__ for n, p in vars(klass).items() if isinstance(p, property)
    }


def required(cls: type) -> set[str]:
    wire = {n: w for w, p in properties(cls).items() for n in [p.fget.__name__]}
    params = inspect.signature(cls.__init__).parameters.values()
    return {wire.get(p.name, p.name) for p in params if p.name != "__self__" and p.default is inspect.Parameter.empty}


def nested(cls: type, prop: property) -> tuple[type | None, bool]:
    """The Args class a property holds (alone or in a list), if any, and whether a string goes there too (a policy
    document is an object or its JSON text)."""
    annotation = str(inspect.signature(prop.fget).return_annotation)
    found = re.search(r"ForwardRef\('(\w+Args)'\)", annotation)
    if not found:
        return None, True
    takes_text = re.search(r"Union\[str,", annotation) is not None
    return getattr(importlib.import_module(cls.__module__.rsplit(".", 1)[0]), found.group(1), None), takes_text


def enum_values(cls: type, prop: property) -> set[str] | None:
    """The values of the enum a property takes (ParameterType, InstanceType, ...), if the SDK names one."""
    module = importlib.import_module(cls.__module__.rsplit(".", 1)[0])
    for name in re.findall(r"ForwardRef\('(\w+)'\)", str(inspect.signature(prop.fget).return_annotation)):
        kind = getattr(module, name, None)
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return {member.value for member in kind}
    return None


def conformance(cls: type, value: dict[str, Any], path: str) -> list[str]:
    problems = []
    props = properties(cls)
    problems += [f"{path}.{k}: no such input of {cls.__name__}" for k in value if k not in props]
    problems += [f"{path}.{k}: required by {cls.__name__}, missing" for k in required(cls) if k not in value]
    for key, item in value.items():
        allowed = enum_values(cls, props[key]) if key in props else None
        if allowed is not None and isinstance(item, str) and item not in allowed:
            problems.append(f"{path}.{key}: '{item}' is none of the provider's values")
        inner, takes_text = nested(cls, props[key]) if key in props else (None, True)
        if inner is None:
            continue
        items = item if isinstance(item, list) else [item]
        for i, element in enumerate(items):
            if isinstance(element, str) and takes_text:
                continue
            if not isinstance(element, dict):
                problems.append(f"{path}.{key}[{i}]: {type(element).__name__} where {inner.__name__} goes")
            else:
                problems += conformance(inner, element, f"{path}.{key}[{i}]")
    return problems


def aws_variants() -> dict[str, m.Run]:
    """The aws stacks beside the examples: a subnet of the user's, dual stack with egress, a pinned image, amd64."""

    def home(**aws) -> dict:
        raw = copy.deepcopy(m.stack_config("home")["wgsites:vpn"])
        raw["hub"]["aws"] = {**raw["hub"].get("aws", {}), **aws}
        return raw

    dual = home(subnetId=SUBNET, adminCidrs=["198.51.100.7/32", "2001:db8::/64"])
    dual.update(network6="fd10:99::/64")
    dual["hub"]["ipv6Egress"] = True
    return {
        "subnet": m.run_stack("home", vpn=home(subnetId=SUBNET, vpcId=VPC), subnets={SUBNET: VPC}),
        "dual-stack": m.run_stack("home", vpn=dual, subnets={SUBNET: VPC}, subnet_ipv6={SUBNET: SUBNET6}),
        "pinned": m.run_stack("home", vpn=home(ami=PINNED), images={PINNED: "arm64"}),
        "amd64": m.run_stack("home", vpn=home(instanceType="t3.micro")),
    }


RUNS: dict[str, m.Run] = {}


def run_of(name: str) -> m.Run:
    if not RUNS:
        RUNS.update({stack: m.run_stack(stack) for stack in STACKS})
        RUNS.update(aws_variants())
    return RUNS[name]


@pytest.mark.parametrize("name", [*STACKS, "subnet", "dual-stack", "pinned", "amd64"])
def test_every_resource_conforms_to_its_sdk_class(name):
    run = run_of(name)
    problems, checked = [], 0
    for resource in run.mocks.resources:
        cls = args_class(resource.typ)
        if cls is None:
            continue
        checked += 1
        problems += conformance(cls, m.unwrap(resource.inputs), f"{resource.typ} {resource.name}")
        wire = properties(cls)
        for path in run.mocks.requests[resource.name].ignoreChanges:
            if path.split(".", 1)[0].split("[", 1)[0] not in wire:
                problems.append(f"{resource.name}: ignore_changes '{path}' names no input of {cls.__name__}")
        for path in run.mocks.requests[resource.name].replaceOnChanges:
            if path.split(".", 1)[0].split("[", 1)[0] not in wire:
                problems.append(f"{resource.name}: replace_on_changes '{path}' names no input of {cls.__name__}")
    assert checked and problems == []


@pytest.mark.parametrize("name", ["home", "travel", "subnet", "dual-stack", "pinned", "amd64"])
def test_every_invoke_conforms_to_its_sdk_function(name):
    import pulumi_aws

    run = run_of(name)
    assert run.mocks.calls
    for call in run.mocks.calls:
        package, module, function = call.token.split(":")
        assert package in ("aws", "command"), call.token  # command: the drift check's local.run
        fn = getattr(
            importlib.import_module(f"pulumi_{package}.{module.split('/')[0]}"),
            re.sub(r"(?<!^)([A-Z])", r"_\1", function).lower(),
        )
        params = inspect.signature(fn).parameters
        for key, value in call.args.items():
            snake = re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
            assert snake in params, f"{call.token}: {key}"
            if key == "filters":
                for item in value:
                    assert conformance(pulumi_aws.ec2.GetAmiFilterArgs, item, f"{call.token}.filters") == []


def test_the_checker_finds_what_it_must():
    """A misspelt input, a missing required one, a scalar where an object goes: each named."""
    import pulumi_aws

    cls = pulumi_aws.ec2.InstanceArgs
    assert conformance(cls, {"amiId": "x", "rootBlockDevice": "gp3"}, "i") == [
        "i.amiId: no such input of InstanceArgs",
        "i.rootBlockDevice[0]: str where InstanceRootBlockDeviceArgs goes",
    ]
    assert conformance(pulumi_aws.ssm.ParameterArgs, {"name": "/x"}, "p") == ["p.type: required by ParameterArgs, missing"]
    assert conformance(pulumi_aws.ssm.ParameterArgs, {"name": "/x", "type": "Text"}, "p") == [
        "p.type: 'Text' is none of the provider's values"
    ]
    ingress = {"ingress": [{"protocol": "udp", "fromPort": 1, "toPort": 1, "cidrs": []}]}
    assert conformance(pulumi_aws.ec2.SecurityGroupArgs, ingress, "sg") == [
        "sg.ingress[0].cidrs: no such input of SecurityGroupIngressArgs"
    ]


# Length limits of the provider's validators, read upstream (terraform-provider-aws): (type, input, most characters)
LIMITS = [
    # internal/service/ssm/parameter.go: description StringLenBetween(0, 1024), name StringLenBetween(1, 2048)
    (m.PARAMETER, "description", 1024),
    (m.PARAMETER, "name", 2048),
    # internal/service/ec2/vpc_security_group.go: description StringLenBetween(0, 255) (index id 496502761)
    (m.SG, "description", 255),
]


def test_the_longest_names_a_stack_may_have_stay_within_the_validators_limits():
    """A 100-character stack name (Pulumi's most) and a 32-character hub name (the stack file's most)."""
    stack = "s" * 100
    raw = copy.deepcopy(m.stack_config("home")["wgsites:vpn"])
    raw["hub"].update(name="h" * 32, interface="wg-" + "i" * 12)
    run = m.run_stack(stack, vpn=raw, config={"aws:region": "eu-central-1"})
    checked = 0
    for typ, key, most in LIMITS:
        for resource in run.mocks.of_type(typ):
            value = m.unwrap(resource.inputs).get(key)
            if value is not None:
                checked += 1
                assert len(value) <= most, f"{resource.name}.{key}: {len(value)} characters"
    assert checked > 3
