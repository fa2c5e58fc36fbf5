"""Run the whole Pulumi program (`__main__.py`) under Pulumi's mocks, and record everything.

Config reaches the program the way the language host hands it over: the
`PULUMI_CONFIG` JSON (object values as JSON text) and `PULUMI_CONFIG_SECRET_KEYS`
in the environment, loaded with `set_all_config` before the program runs
(docs/pulumi-notes.md 16). Each run gets fresh mocks, a fresh root stack and its own
config, so several stacks run in one process.

Every run gets a key seed as secret config (`wgsites:keySeed`, TEST_SEED unless
told otherwise); tests recompute the keys the program derives from it with the
core's `derive_private_key`. The mocks answer with real values: SSH hosts'
commands print a real public key derived from the resource name, the Elastic IP
is 203.0.113.10.

The drift check's read of each SSH host (an invoke of the command provider's `local.run`) is
answered by the mocks' `call` as wgsites.operations.ssh_read's read script would print it: a host in
`drift_answers` (its ssh.host -> the bytes its install script prints, or (exit code, stdout, stderr),
or ("raw", the invoke's whole stdout)) answers with them, any other one as a host that refuses the
connection. No run reaches the network.

With `preview=True` the mocks answer as the engine does in `pulumi preview`: a
resource that is not yet in the stack (not in `existing`) gets back only its
inputs and no id, so its computed outputs (a command's stdout, the Elastic IP)
are unknown; resources in `existing` answer with their full outputs, as from state.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import os
import runpy
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pulumi.runtime.settings
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from wgsites.stack.keys import derive_private_key, key_label, public_key_of

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "__main__.py"
EXAMPLES = ROOT / "examples"  # the example stacks (tests.stacks.EXAMPLES)
EIP = "203.0.113.10"
ACCOUNT = "123456789012"
AMI_ID = "ami-0123456789abcdef0"
DEFAULT_VPC = "vpc-0d0d0d0d0d0d0d0d0"
BUNDLE_SERIAL = "1764547200"  # what the bundle-serial command prints: `date +%s` on 2025-12-01

REMOTE = "command:remote:Command"
LOCAL = "command:local:Command"
INSTANCE = "aws:ec2/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
PARAMETER = "aws:ssm/parameter:Parameter"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PROFILE = "aws:iam/instanceProfile:InstanceProfile"
EIP_TYPE = "aws:ec2/eip:Eip"
EIP_ASSOC = "aws:ec2/eipAssociation:EipAssociation"
LOCAL_RUN = "command:local:run"


def seeded_private_key(seed: str) -> str:
    """Any 32 bytes are a Curve25519 private key (clamped when used), as `wg genkey` makes them."""
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


KEY_SEED = "wgsites:keySeed"
TEST_SEED = seeded_private_key("wgsites test key seed")  # 32 bytes, base64: what `head -c 32 /dev/urandom | base64` gives


def ssh_host_public_key(host_component: str) -> str:
    """What an SSH host's commands print: the public key of a key that never leaves the host."""
    return public_key_of(seeded_private_key(f"ssh-host:{host_component}"))


def stack_config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"Pulumi.{stack}.yaml").read_text())["config"]


class ProviderError(grpc.RpcError):
    """A provider's failed invoke as the engine hands it to the SDK: a gRPC error whose details are the provider's text.

    The SDK turns it into `Exception("invoke of TOKEN failed: TEXT")` for the program (pulumi/runtime/invoke.py,
    do_invoke, and settings.grpc_error_to_exception); a plain exception from `call` would instead crash the run."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self.text


class EngineLikeMonitor(MockMonitor):
    """Pulumi's mock monitor, plus what the engine does with `additional_secret_outputs`: mark them secret.

    Without this, mocks would show stdout or a private key as plain where the real
    engine stores and shows them as secrets, and the secrecy tests would prove nothing.
    """

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks
        self.lock = threading.Lock()  # the SDK registers from several threads

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        with self.lock:
            self.recording.requests[request.name] = request
            self.recording.pending_secret_outputs = list(request.additionalSecretOutputs)
            return super().RegisterResource(request)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(
        self,
        region: str,
        preview: bool = False,
        existing: Collection[str] = (),
        host_answers: Mapping[str, str] | None = None,
        default_vpc: bool = True,
        subnets: Mapping[str, str] | None = None,
        subnet_ipv6: Mapping[str, str] | None = None,
        drift_answers: Mapping[str, Any] | None = None,
        aws_errors: Mapping[str, str] | None = None,
        auto_ipv6: Collection[str] = (),
        images: Mapping[str, str] | None = None,
    ) -> None:
        self.region = region
        self.aws_errors = dict(aws_errors or {})  # invoke token -> the text of the provider's error for it
        self.auto_ipv6 = set(auto_ipv6)  # subnets that assign IPv6 on creation
        self.images = dict(images or {})  # AMI id -> its architecture (arm64, x86_64): the images the account sees
        self.drift_answers = dict(drift_answers or {})  # ssh.host -> what its `state` action prints (module doc)
        self.default_vpc = default_vpc  # False: an account whose default VPC was deleted
        self.subnets = dict(subnets or {})  # subnet id -> its VPC id: the subnets the account has
        self.subnet_ipv6 = dict(subnet_ipv6 or {})  # subnet id -> its IPv6 CIDR block: the dual-stack ones
        self.host_answers = dict(host_answers or {})  # remote command name -> its stdout, instead of a public key
        self.preview = preview
        self.existing = set(existing)  # in preview: resources already in the stack
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []
        self.secret_outputs: dict[str, list[str]] = {}  # resource name -> its additional_secret_outputs
        self.pending_secret_outputs: list[str] = []
        self.requests: dict[str, Any] = {}  # resource name -> RegisterResourceRequest (options, dependencies)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.resources.append(args)
        self.secret_outputs[args.name] = self.pending_secret_outputs
        if self.preview and args.name not in self.existing:
            return None, dict(args.inputs)  # a create in preview: inputs echoed, computed outputs unknown
        outs = self._outputs(args)
        for key in self.pending_secret_outputs:
            if key in outs:
                outs[key] = rpc.wrap_rpc_secret(outs[key])
        return f"{args.name}-id", outs

    def _outputs(self, args: pulumi.runtime.MockResourceArgs) -> dict:
        outs = dict(args.inputs)
        name, typ = args.name, args.typ
        if typ == REMOTE:
            default = ssh_host_public_key(name.rsplit("-", 1)[0]) + "\n"
            outs.update(stdout=self.host_answers.get(name, default), stderr="")
        elif typ == LOCAL:  # the aws gateway's bundle serial prints a number (components/aws_gateway.py)
            outs.update(stdout=BUNDLE_SERIAL if name.endswith("-bundle-serial") else "", stderr="")
        elif typ == EIP_TYPE:
            outs.update(public_ip=EIP, allocation_id=f"eipalloc-{name}")
        elif typ == PARAMETER:
            outs["arn"] = f"arn:aws:ssm:{self.region}:{ACCOUNT}:parameter{unwrap(args.inputs['name'])}"
        elif typ in (ROLE, PROFILE):
            kind = "role" if typ == ROLE else "instance-profile"
            outs.update(name=f"{name}-1234", arn=f"arn:aws:iam::{ACCOUNT}:{kind}/{name}-1234")
        return outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        self.calls.append(args)
        if args.token in self.aws_errors:
            raise ProviderError(self.aws_errors[args.token])
        if args.token == "aws:ec2/getAmi:getAmi":
            pinned = [f["values"][0] for f in args.args.get("filters", []) if f["name"] == "image-id"]
            if pinned:  # hub.aws.ami: the image the stack names, if the account has it
                if pinned[0] not in self.images:
                    raise ProviderError("no matching EC2 AMI found")
                return {"id": pinned[0], "imageId": pinned[0], "architecture": self.images[pinned[0]]}, []
            return {"id": AMI_ID, "imageId": AMI_ID, "name": "ubuntu-noble"}, []
        if args.token == "aws:ec2/getVpc:getVpc":  # the provider's error, as the data source gives it
            if self.default_vpc:
                return {"id": DEFAULT_VPC, "default": True}, []
            return {}, [("id", "no matching EC2 VPC found")]
        if args.token == "aws:ec2/getSubnet:getSubnet":
            subnet = args.args.get("id")
            if subnet in self.subnets:
                return {
                    "id": subnet,
                    "vpcId": self.subnets[subnet],
                    "ipv6CidrBlock": self.subnet_ipv6.get(subnet, ""),
                    "assignIpv6AddressOnCreation": subnet in self.auto_ipv6,
                }, []
            return {}, [("id", "no matching EC2 Subnet found")]
        if args.token == LOCAL_RUN:
            return {**args.args, "stdout": self._read(args.args), "stderr": ""}, []
        return {}, []

    def _read(self, args: Mapping[str, Any]) -> str:
        """What wgsites.operations.ssh_read's read script prints for the host its environment names."""
        environment = unwrap(args.get("environment") or {})
        host = environment.get("WGSITES_SSH_TARGET", "").rpartition("@")[2]
        refused = f"ssh: connect to host {host} port {environment.get('WGSITES_SSH_PORT')}: Connection refused\n"
        answer = self.drift_answers.get(host, (255, b"", refused.encode()))
        if isinstance(answer, tuple) and answer[0] == "raw":
            return answer[1]
        code, out, err = answer if isinstance(answer, tuple) else (0, answer, b"")
        out = out.encode() if isinstance(out, str) else out
        return f"wgsites-read {code} {base64.b64encode(out).decode()} {base64.b64encode(err).decode()}"

    def reads(self) -> list[pulumi.runtime.MockCallArgs]:
        """The drift check's reads, one per SSH host asked."""
        return [c for c in self.calls if c.token == LOCAL_RUN]

    # lookups

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str) -> pulumi.runtime.MockResourceArgs:
        found = self.of_type(typ)
        assert len(found) == 1, f"{len(found)} resources of {typ}"
        return found[0]

    def named(self, name: str) -> pulumi.runtime.MockResourceArgs:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"{len(found)} resources named {name}"
        return found[0]


def unwrap(value: Any) -> Any:
    """An input value with every secret wrapper removed."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def is_secret_input(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def plain_parts(value: Any) -> Iterator[str]:
    """Every string inside VALUE that is not under a secret wrapper."""
    if rpc.is_rpc_secret(value):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from plain_parts(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from plain_parts(v)
    elif value is not None:
        yield str(value)


@dataclass
class Observed:
    """An Output's resolved value, whether it is secret and whether it is known."""

    value: Any
    secret: bool
    owner: str  # resource or export name, for messages
    known: bool = True
    resource: str = ""  # the resource's name ("" for exports)
    attr: str = ""  # its attribute, `attr[key]` for a dict of Outputs


@dataclass
class Run:
    stack: str
    vpn_raw: dict[str, Any]
    mocks: RecordingMocks
    components: list[pulumi.Resource]
    key_seed: str | None = None
    rotations: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Observed] = field(default_factory=dict)
    outputs: list[Observed] = field(default_factory=list)  # every Output (or dict of Outputs) attribute of every resource
    program: dict[str, Any] = field(default_factory=dict)  # __main__.py's globals

    @property
    def vpn_component(self):
        return self.program["vpn"]

    def observed(self, resource: str, attr: str) -> Observed:
        found = [o for o in self.outputs if (o.resource, o.attr) == (resource, attr)]
        assert len(found) == 1, f"{len(found)} outputs {resource}.{attr}"
        return found[0]

    @property
    def private_keys(self) -> dict[str, str]:
        """The keys the program must have derived: node -> private key."""
        return expected_private_keys(model(self), self.rotations, self.key_seed)


@contextlib.contextmanager
def _track_resources(created: list[pulumi.Resource]) -> Iterator[None]:
    original = pulumi.Resource.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        created.append(self)

    pulumi.Resource.__init__ = init
    try:
        yield
    finally:
        pulumi.Resource.__init__ = original


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def _observe(output: pulumi.Output, owner: str, resource: str = "", attr: str = "") -> Observed:
    value = await output.future(with_unknowns=True)
    secret, known = await output.is_secret(), await output.is_known()
    return Observed(value=value, secret=secret, owner=owner, known=known, resource=resource, attr=attr)


def run_stack(
    stack: str,
    vpn: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = False,
    existing: Collection[str] = (),
    key_seed: str | None = TEST_SEED,
    host_answers: Mapping[str, str] | None = None,
    default_vpc: bool = True,
    subnets: Mapping[str, str] | None = None,
    subnet_ipv6: Mapping[str, str] | None = None,
    drift_answers: Mapping[str, Any] | None = None,
    aws_errors: Mapping[str, str] | None = None,
    auto_ipv6: Collection[str] = (),
    images: Mapping[str, str] | None = None,
) -> Run:
    """Run __main__.py for STACK (its Pulumi.<stack>.yaml, or VPN instead of its wgsites:vpn).

    KEY_SEED is set as the secret `wgsites:keySeed` (None: not set); EXISTING only matters with PREVIEW.
    """
    base = stack_config(stack) if (EXAMPLES / f"Pulumi.{stack}.yaml").exists() else {}
    values = {**base, **(config or {})}  # the drift check on, as by default: the mocks' call answers its reads
    secret_keys = list(secret_keys or [])
    if key_seed is not None and KEY_SEED not in values:  # a seed in CONFIG wins, secret only if in SECRET_KEYS
        values[KEY_SEED] = key_seed
        secret_keys.append(KEY_SEED)
    if vpn is not None:
        values["wgsites:vpn"] = vpn
    env = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    mocks = RecordingMocks(
        region=str(values.get("aws:region", "us-east-1")),
        preview=preview,
        existing=existing,
        host_answers=host_answers,
        default_vpc=default_vpc,
        subnets=subnets,
        subnet_ipv6=subnet_ipv6,
        drift_answers=drift_answers,
        aws_errors=aws_errors,
        auto_ipv6=auto_ipv6,
        images=images,
    )
    created: list[pulumi.Resource] = []
    run = Run(
        stack=stack,
        vpn_raw=copy.deepcopy(values.get("wgsites:vpn")),
        mocks=mocks,
        components=created,
        key_seed=values.get(KEY_SEED),
        rotations=rotations if isinstance(rotations := values.get("wgsites:keyRotations"), dict) else {},
    )

    pulumi.runtime.settings.ROOT.set(None)  # a fresh root stack: exports of earlier runs are gone
    pulumi.runtime.set_mocks(mocks, project="wgsites", stack=stack, preview=preview, monitor=EngineLikeMonitor(mocks))

    @pulumi.runtime.test
    def program():
        run.program = runpy.run_path(str(MAIN), run_name="__main__")
        root = pulumi.runtime.settings.get_root_resource()
        exports = dict(root.outputs)

        async def collect() -> None:
            for name, value in exports.items():
                run.exports[name] = await _observe(pulumi.Output.from_input(value), name)
            for resource in list(created):
                rname = getattr(resource, "_name", "")
                for attr, value in list(vars(resource).items()):
                    owner = f"{type(resource).__name__}.{attr}"
                    if isinstance(value, pulumi.Output):
                        run.outputs.append(await _observe(value, owner, rname, attr))
                    elif isinstance(value, Mapping) and value and all(isinstance(v, pulumi.Output) for v in value.values()):
                        for key, item in value.items():
                            run.outputs.append(await _observe(item, f"{owner}[{key}]", rname, f"{attr}[{key}]"))

        return asyncio.ensure_future(collect())

    env_vars = {"PULUMI_CONFIG": json.dumps(env), "PULUMI_CONFIG_SECRET_KEYS": json.dumps(secret_keys)}
    with _environment(env_vars), _track_resources(created):
        # as the language host does before it runs the program (pulumi-language-python-exec)
        pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
        program()
    return run


# What the program must produce, computed from the model and the mocks' rules, not from components/.


def model(run: Run):
    from wgsites.stack.parse import parse_vpn

    return parse_vpn(run.vpn_raw)


def expected_private_keys(vpn, rotations: dict[str, Any] | None = None, seed: str | None = TEST_SEED) -> dict[str, str]:
    """The keys the program derives from SEED: the aws hub's and those of peers without ssh or publicKey."""
    rotations = rotations or {}
    return {
        node.name: derive_private_key(seed, key_label(node.first_name, rotations.get(node.name, 0)))
        for node in vpn.nodes
        if node.key_source == "derived"
    }


def expected_public_keys(vpn, rotations: dict[str, Any] | None = None, seed: str | None = TEST_SEED) -> dict[str, str]:
    """Every node's public key: brought by the user, made on an SSH host, or derived from the seed."""
    derived = expected_private_keys(vpn, rotations, seed)
    keys = {}
    for node in vpn.nodes:
        if getattr(node, "public_key", None):
            keys[node.name] = node.public_key
        elif node.delivery == "ssh":
            keys[node.name] = ssh_host_public_key(f"vpn-{node.name}")
        else:
            keys[node.name] = public_key_of(derived[node.name])
    return keys


def hub_endpoint(vpn) -> str | None:
    return EIP if vpn.hub.kind == "aws" and vpn.hub.endpoint is None else None


def secret_outputs_of(run: Run, resource_name: str) -> set[str]:
    """The `additional_secret_outputs` the program asked for on that resource."""
    return set(run.mocks.secret_outputs[resource_name])


def gateway_bundle(mocks: RecordingMocks) -> dict[str, Any]:
    """The aws hub's bundle as the VM assembles it: the manifest's chunks in order, checked by its hash."""
    meta = json.loads(unwrap(mocks.named("vpn-gateway-bundle").inputs["insecureValue"]))
    pieces = [unwrap(mocks.named(f"vpn-gateway-bundle-{i:04d}").inputs["insecureValue"]) for i in range(meta["chunks"])]
    text = "".join(pieces)[: meta["length"]]
    assert hashlib.sha256(text.encode()).hexdigest() == meta["sha256"], "the chunks do not assemble to the manifest's hash"
    return json.loads(text)


def gateway_config(mocks: RecordingMocks) -> str:
    """The aws hub's wg-quick config as its SSM bundle carries it."""
    return gateway_bundle(mocks)["config"]
