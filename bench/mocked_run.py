"""Run one Pulumi program under Pulumi's mocks and print how long it took, as JSON on one line.

`python bench/mocked_run.py wgsites PEERS SPEC [HUB]` runs the real `__main__.py` on a scale_stack of
PEERS peers (an aws hub, or with HUB `ssh` a hub managed over SSH) and writes to SPEC what it registered:
every resource's type, kind and input size,
every component's registered outputs, every export's size and secrecy.
`python bench/mocked_run.py floor SPEC` runs floor_program.py, which registers exactly that and
computes nothing. `--profile FILE` after either writes cProfile's statistics of the timed span
to FILE (read them with `python -m pstats FILE`). One fresh process per run, as the language host starts one per `pulumi up`: the
program's own imports count, Python's start and the harness's do not. The mocks answer with what
the program reads back (an SSH host's public key, the Elastic IP, an AMI) and only keep references
while the clock runs, so the harness costs both programs the same.
"""

from __future__ import annotations

import base64
import cProfile
import hashlib
import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.settings
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from scale_stack import scale_vpn  # noqa: E402

SEED = "c2VlZCBvZiB0aGUgd2dzaXRlcyBiZW5jaG1hcmtzLi4="  # 32 bytes, base64: a benchmark's own, no real stack's
SSH_HUB = "203.0.113.10"  # an SSH hub's endpoint and host (a documentation address: the mocks reach nothing)
NAMED = ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile", "aws:ssm/parameter:Parameter")


def host_key(command: str) -> str:
    """What an SSH host's key command prints: a public key of its own (the program refuses two hosts with one key)."""
    return base64.b64encode(hashlib.sha256(command.encode()).digest()).decode()


class ReplyingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.registered.append(args)
        outs = dict(args.inputs)
        if args.typ == "command:remote:Command":
            outs.update(stdout=host_key(args.name) + "\n", stderr="")
        elif args.typ == "aws:ec2/eip:Eip":
            outs.update(public_ip="203.0.113.10", allocation_id="eipalloc-bench")
        elif args.typ in NAMED:
            outs.update(name=f"{args.name}-1", arn=f"arn:aws:iam::123456789012:{args.name}")
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {"id": "ami-0123456789abcdef0", "imageId": "ami-0123456789abcdef0", "name": "ubuntu-noble"}, []


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, keeping each component's registered outputs (for the floor to register as many)."""

    def __init__(self, mocks: ReplyingMocks) -> None:
        super().__init__(mocks)
        self.component_outputs: dict[str, Any] = {}  # resource name -> its RegisterResourceOutputs struct

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        if not request.urn.split("::")[-2].endswith("pulumi:pulumi:Stack"):
            self.component_outputs[request.urn.rsplit("::", 1)[-1]] = request.outputs
        return super().RegisterResourceOutputs(request)


def _outputs_spec(struct: Any) -> list[list[Any]]:
    """[name, size, secret] of each output a component registered."""
    if struct is None:
        return []
    values = rpc.deserialize_properties(struct)
    return [[key, _size(value), rpc.is_rpc_secret(value)] for key, value in values.items()]


def _size(value: Any) -> int:
    """Characters of VALUE as the engine would store it (secret wrappers off)."""
    while rpc.is_rpc_secret(value):
        value = rpc.unwrap_rpc_secret(value)
    return len(value) if isinstance(value, str) else len(json.dumps(value, default=str))


def run(
    program: Path, config: dict[str, Any], secret_keys: list[str], profile: Path | None = None
) -> tuple[float, dict[str, Any]]:
    """Seconds PROGRAM took, from its first line to its last export resolved, and what it registered;
    with PROFILE, cProfile's statistics of that span written there (pstats, `python -m pstats PROFILE`)."""
    mocks = ReplyingMocks()
    exports: dict[str, Any] = {}
    os.environ["PULUMI_CONFIG"] = json.dumps({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secret_keys)
    monitor = RecordingMonitor(mocks)
    # a fresh root stack: set_mocks makes one only when there is none, and an earlier run's (in the same
    # process: tests/unit/test_bench_program_eval.py) would hand its exports to this one
    pulumi.runtime.settings.reset_options(project="wgsites", stack="bench", preview=False)
    pulumi.runtime.set_mocks(mocks, project="wgsites", stack="bench", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())

    @pulumi.runtime.test
    def evaluate():
        runpy.run_path(str(program), run_name="__main__")
        outputs = dict(pulumi.runtime.settings.get_root_resource().outputs)

        async def resolve() -> None:  # as the engine waits for every export before the update ends
            for name, value in outputs.items():
                output = pulumi.Output.from_input(value)
                exports[name] = (await output.future(), await output.is_secret())

        return pulumi.Output.from_input(resolve())

    profiler = cProfile.Profile() if profile is not None else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.runcall(evaluate)
    else:
        evaluate()
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.dump_stats(profile)
    spec = {
        "resources": [
            [r.typ, bool(r.custom), _size(r.inputs), _outputs_spec(monitor.component_outputs.get(r.name))]
            for r in mocks.registered
        ],
        "exports": [[name, _size(value), secret] for name, (value, secret) in exports.items()],
    }
    return seconds, spec


def main(argv: list[str]) -> int:
    profile = None
    if len(argv) >= 2 and argv[-2] == "--profile":
        profile, argv = Path(argv[-1]), argv[:-2]
    if len(argv) in (3, 4) and argv[0] == "wgsites" and argv[3:] in ([], ["aws"], ["ssh"]):
        peers, spec_path, hub = int(argv[1]), Path(argv[2]), (argv[3:] or ["aws"])[0]
        # no drift check: the mocks' SSH site does not exist, and a read would send SSH packets to its address
        config = {
            "aws:region": "eu-central-1",
            "wgsites:vpn": scale_vpn(peers, hub, SSH_HUB if hub == "ssh" else None),
            "wgsites:keySeed": SEED,
            "wgsites:driftCheck": "false",
        }
        seconds, spec = run(ROOT / "__main__.py", config, ["wgsites:keySeed"], profile)
        spec_path.write_text(json.dumps(spec))
    elif len(argv) == 2 and argv[0] == "floor":
        seconds, spec = run(ROOT / "bench" / "floor_program.py", {"bench:spec": argv[1]}, [], profile)
    else:
        print("usage: mocked_run.py wgsites PEERS SPEC [aws|ssh] | mocked_run.py floor SPEC [--profile FILE]", file=sys.stderr)
        return 2
    resources = spec["resources"]
    custom = sum(1 for r in resources if r[1])
    counts = {"custom": custom, "components": len(resources) - custom, "exports": len(spec["exports"])}
    print(json.dumps({"program": argv[0], "seconds": round(seconds, 4), **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
