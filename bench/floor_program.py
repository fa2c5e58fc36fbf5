"""The floor: a Pulumi program that registers what wgsites registers and computes nothing.

Run by mocked_run.py with `bench:spec`, the file a wgsites run of the same size wrote: the same
resources (type, custom or component, one input of the same size; a component's registered outputs,
of the same sizes and secrecy) under one parent component, and
the same exports (same size, secret where wgsites's are). It imports the SDK modules that
wgsites's resource types come from, as any program registering them must. What is left between the
two programs' times is wgsites's own work: parsing, rendering, keys, QR codes.
"""

import json
from pathlib import Path

import pulumi
import pulumi_aws.ec2
import pulumi_aws.iam
import pulumi_aws.ssm
import pulumi_command.local
import pulumi_command.remote

SDK_MODULES = (pulumi_aws.ec2, pulumi_aws.iam, pulumi_aws.ssm, pulumi_command.local, pulumi_command.remote)

spec = json.loads(Path(pulumi.Config("bench").require("spec")).read_text())
root = pulumi.ComponentResource("bench:floor:Root", "floor")
child = pulumi.ResourceOptions(parent=root)


def value(size: int, secret: bool) -> pulumi.Input[str]:
    return pulumi.Output.secret("x" * size) if secret else "x" * size


for i, (typ, custom, size, outputs) in enumerate(spec["resources"]):
    if custom:
        pulumi.CustomResource(typ, f"resource-{i}", {"value": "x" * size}, child)
    else:
        component = pulumi.ComponentResource(typ, f"component-{i}", None, child)
        component.register_outputs({key: value(size, secret) for key, size, secret in outputs})
for name, size, secret in spec["exports"]:
    pulumi.export(name, value(size, secret))
