"""The floor: a Pulumi program that registers what wgsites registers and computes nothing.

Run by mocked_run.py with `bench:spec`, the file a wgsites run of the same size wrote: the same
resources (type, custom or component, one input of the same size; a component's registered outputs,
of the same sizes and secrecy) under one parent component, and
the same exports (same size, secret where wgsites's are). It loads the SDK classes of those
resource types, as any program registering them must. What is left between the
two programs' times is wgsites's own work: parsing, rendering, keys, QR codes.
"""

import importlib
import json
from pathlib import Path

import pulumi


def sdk_class(token: str) -> type:
    """The SDK class of a resource type, e.g. aws:ec2/instance:Instance -> pulumi_aws.ec2.Instance.

    Loaded as any program that registers one loads it (the SDKs load a class's module on first use)."""
    package, module, name = token.split(":")
    return getattr(importlib.import_module(f"pulumi_{package}.{module.split('/')[0]}"), name)


spec = json.loads(Path(pulumi.Config("bench").require("spec")).read_text())
SDK_CLASSES = {typ: sdk_class(typ) for typ, custom, *_ in spec["resources"] if custom}
root = pulumi.ComponentResource("bench:floor:Root", "floor")
child = pulumi.ResourceOptions(parent=root)


def value(size: int, secret: bool, fill: str = "x") -> pulumi.Input[str]:
    """SIZE characters; another FILL is another value of the same size (a change, for the real-engine bench)."""
    return pulumi.Output.secret(fill * size) if secret else fill * size


for i, (typ, custom, size, outputs, *fill) in enumerate(spec["resources"]):
    if custom:
        pulumi.CustomResource(typ, f"resource-{i}", {"value": "".join(fill or "x") * size}, child)
    else:
        component = pulumi.ComponentResource(typ, f"component-{i}", None, child)
        component.register_outputs({key: value(*output) for key, *output in outputs})
for name, *export in spec["exports"]:
    pulumi.export(name, value(*export))
