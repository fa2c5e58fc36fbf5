"""The real engine's `pulumi up` of many roaming peers added to a running stack, against a floor program's (root).

    sudo .venv/bin/python bench/engine_up.py [--peers 1000] [--source OTHER_TREE] [--env NAME=VALUE ...]

The router stack (its hub an SSH host in the lab, lab.pulumi_lab; the file backend) with its VPN
widened to a /20: `pulumi up` of the stack as it is, then PEERS roaming peers added (`up`), an `up`
with nothing changed, and an `up` where one peer's address changed. Beside it, bench/floor_program.py
on the same CLI and backend: it registers what the stack's state holds (each resource's type, a
component's outputs of the same sizes and secrecy, the stack's exports) and computes nothing, through
the same three steps. For every `up`: the CLI's wall time and the bytes the backend wrote.

Bytes written: the CLI runs under `strace -ff -e trace=write,pwrite64 -y` (seccomp-filtered, so only
those calls stop it) and every write whose file descriptor is a file under the backend's folder
counts, by its return value: every checkpoint, its backups and the history, as the kernel took them.
/proc/PID/io's write_bytes counts only what reaches a disk (page cache and tmpfs hide the rest) and
its wchar counts the gRPC and terminal traffic too; watching the folder misses a temporary file
renamed before it is read. Both programs pay strace's cost alike.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from engine_preview import with_peers  # noqa: E402
from hub_reload import NETWORK, wide_router_stack  # noqa: E402

WRITE = re.compile(r"^p?write(?:64)?\(\d+<(?P<path>[^>]*)>.*\)\s+=\s+(?P<bytes>\d+)")
STATE_FOLDERS = ("stacks", "history", "backups", "locks")
SECRET_SIG, SECRET_TOKEN = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's secret marker


@dataclass(frozen=True)
class UpFigures:
    """One `up`: the CLI's wall time, the bytes the backend wrote by folder, and the checkpoint's size after it."""

    step: str
    seconds: float
    written: dict[str, int]
    writes: int
    state_bytes: int

    def row(self, program: str) -> str:
        total = sum(self.written.values())
        parts = ", ".join(f"{k} {v / 1e6:.1f}" for k, v in sorted(self.written.items()))
        return (
            f"| {program} | {self.step} | {self.seconds:.1f} | {total / 1e6:.1f} ({parts}) | {self.writes} "
            f"| {self.state_bytes / 1e6:.2f} |"
        )


def backend_writes(trace_folder: Path, state: Path) -> tuple[dict[str, int], int]:
    """Bytes written to files under STATE by every process traced into TRACE_FOLDER (strace -ff), by top folder."""
    written: Counter[str] = Counter()
    calls = 0
    prefix = f"{state}/.pulumi/"
    for trace in trace_folder.iterdir():
        for line in trace.read_text(errors="replace").splitlines():
            match = WRITE.match(line)
            if match and match["path"].startswith(prefix):
                folder = match["path"][len(prefix) :].split("/", 1)[0]
                written[folder if folder in STATE_FOLDERS else "other"] += int(match["bytes"])
                calls += 1
    return dict(written), calls


def traced_up(pl, stack: str, step: str, env: dict[str, str], timeout: float = 3600) -> UpFigures:
    """`pulumi up` of STACK under strace, on the operator node, as PulumiLab.pulumi runs the CLI."""
    state = pl.lab.run_dir / "state"
    with tempfile.TemporaryDirectory(prefix="strace-", dir=pl.lab.run_dir) as traces:
        argv = ["pulumi", "up", "--yes", "--skip-preview", "--stack", stack, "--non-interactive"]
        strace = ["strace", "-ff", "--seccomp-bpf", "-qq", "-y", "-s", "0", "-e", "trace=write,pwrite64", "-o", f"{traces}/t"]
        command = f"cd {shlex.quote(str(pl.project))} && exec {shlex.join(strace + argv)}"
        start = time.monotonic()
        done = pl.operator.run(command, env=pl.env() | env, check=False, timeout=timeout)
        seconds = time.monotonic() - start
        if done.returncode != 0:
            raise RuntimeError(f"{step}: pulumi up exited {done.returncode}:\n{(done.stdout + done.stderr)[-4000:]}")
        written, calls = backend_writes(Path(traces), state)
    checkpoint = next((state / ".pulumi" / "stacks").rglob(f"{stack}.json"))
    return UpFigures(step, seconds, written, calls, checkpoint.stat().st_size)


def export(pl, stack: str, *flags: str) -> dict:
    return json.loads(pl.pulumi("stack", "export", "--stack", stack, *flags).output)


def floor_entries(deployment: dict, before: dict | None = None) -> tuple[dict[str, list], dict[str, list]]:
    """What floor_program.py registers to hold what DEPLOYMENT holds (`stack export --show-secrets`):
    its resources by URN and the stack's exports by name.

    A custom resource becomes a command:local:Command with nothing to run (the floor creates nothing);
    a component keeps its type and its registered outputs' sizes and secrecy. What differs from
    BEFORE (another deployment of the same stack) gets another fill, so the floor changes as much."""
    old = {r["urn"]: r for r in (before or {"deployment": {"resources": []}})["deployment"]["resources"]}
    resources, exports = {}, {}
    for resource in deployment["deployment"]["resources"]:
        typ, previous = resource["type"], old.get(resource["urn"], {})
        if typ.startswith("pulumi:providers:"):
            continue
        outputs = [
            [k, plain_size(v), is_secret(v), "y" if before and previous.get("outputs", {}).get(k) != v else "x"]
            for k, v in resource.get("outputs", {}).items()
        ]
        if typ == "pulumi:pulumi:Stack":
            exports = {k: rest for k, *rest in outputs}
        elif resource.get("custom", False):
            fill = "y" if before and previous.get("inputs") != resource.get("inputs") else "x"
            resources[resource["urn"]] = ["command:local:Command", True, len(json.dumps(resource.get("inputs", {}))), [], fill]
        else:
            resources[resource["urn"]] = [typ, False, 0, outputs]
    return resources, exports


def floor_spec(entries: tuple[dict[str, list], dict[str, list]], order: list[str]) -> dict:
    """The floor's spec file: resources in ORDER (URNs; the floor names a resource by its place) and exports."""
    resources, exports = entries
    return {"resources": [resources[u] for u in order if u in resources], "exports": [[k, *v] for k, v in exports.items()]}


def plain_size(value) -> int:
    """Characters of an output as `stack export --show-secrets` gives it (a string's own length)."""
    value = json.loads(value["plaintext"]) if is_secret(value) else value
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def is_secret(value) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_TOKEN


def state_breakdown(deployment: dict) -> dict[str, int]:
    """Bytes of the checkpoint's JSON by what holds them (as `stack export` prints it, secrets encrypted)."""
    parts: Counter[str] = Counter()
    for resource in deployment["deployment"]["resources"]:
        typ = resource["type"]
        kind = "stack exports" if typ == "pulumi:pulumi:Stack" else ("custom" if resource.get("custom") else "components")
        size = len(json.dumps(resource))
        outputs = len(json.dumps(resource.get("outputs", {})))
        parts[f"{kind}: outputs"] += outputs
        parts[f"{kind}: the rest"] += size - outputs
    return dict(parts)


def peer_configs_bytes(pl) -> int:
    """The plaintext bytes the stack must keep: every peer's config, once."""
    outputs = pl.outputs()
    return sum(len(v) for k, v in outputs.items() if isinstance(v, str) and k.endswith("_config"))


def floor_project(pl) -> Path:
    floor = pl.lab.run_dir / "floor"
    floor.mkdir()
    (floor / "Pulumi.yaml").write_text("name: floor\nruntime:\n  name: python\n  options:\n    virtualenv: .venv\n")
    (floor / "__main__.py").write_text((ROOT / "bench" / "floor_program.py").read_text())
    (floor / ".venv").symlink_to(ROOT / ".venv")
    return floor


def moved_peer(raw: dict, peers: int) -> dict:
    """RAW with its first added peer at a free address: one peer's config changes (and the hub's)."""
    changed = json.loads(json.dumps(raw))
    first = next(p for p in changed["peers"] if p["name"] == "p0000")
    first["address"] = str(NETWORK[3 + peers])
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peers", type=int, default=1000)
    parser.add_argument("--source", type=Path, default=ROOT, help="the wgsites tree to run (another release, to compare)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set for every `up` of both programs, e.g. PULUMI_SKIP_CHECKPOINTS=true (with PULUMI_EXPERIMENTAL=1)",
    )
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    if os.geteuid() != 0:
        print("error: the lab creates network namespaces: run it as root (sudo)", file=sys.stderr)
        return 2
    from lab.netns import Lab
    from lab.pulumi_lab import PulumiLab

    load = os.getloadavg()
    print(
        f"# engine_up {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().nodename}, "
        f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
        *(["with", shlex.join(args.env)] if env else []),
        flush=True,
    )
    header = "| program | step | s | MB written (by folder) | write calls | checkpoint MB |\n|---|---|---|---|---|---|"
    with tempfile.TemporaryDirectory(prefix="wgsites-bench-") as tmp, Lab() as lab:
        pl = PulumiLab(lab, wide_router_stack(Path(tmp)), source=args.source)
        rows = [traced_up(pl, pl.stack, "the stack as it is", env)]
        base_plain = export(pl, pl.stack, "--show-secrets")
        print(rows[-1].row("wgsites"), flush=True)
        grown = with_peers(pl.raw, args.peers)
        pl.set_vpn(grown)
        rows.append(traced_up(pl, pl.stack, f"{args.peers} peers added", env))
        print(rows[-1].row("wgsites"), flush=True)
        grown_deployment, grown_plain = export(pl, pl.stack), export(pl, pl.stack, "--show-secrets")
        configs = peer_configs_bytes(pl)
        rows.append(traced_up(pl, pl.stack, "nothing changed", env))
        print(rows[-1].row("wgsites"), flush=True)
        pl.set_vpn(moved_peer(grown, args.peers))
        rows.append(traced_up(pl, pl.stack, "one peer changed", env))
        print(rows[-1].row("wgsites"), flush=True)

        moved_plain = export(pl, pl.stack, "--show-secrets")

        # the floor: as many resources and exports of the same sizes, on the same CLI and backend
        base, grown_entries = floor_entries(base_plain), floor_entries(grown_plain)
        order = list(base[0]) + [u for u in grown_entries[0] if u not in base[0]]  # the added ones after
        specs = {}
        for name, entries in (("base", base), ("grown", grown_entries), ("moved", floor_entries(moved_plain, grown_plain))):
            specs[name] = Path(tmp) / f"{name}.json"
            specs[name].write_text(json.dumps(floor_spec(entries, order)))
        pl.project = floor_project(pl)
        pl.pulumi("stack", "init", "lab-floor")
        floor_rows = []
        for step, path in (
            ("the stack as it is", specs["base"]),
            (f"{args.peers} peers added", specs["grown"]),
            ("nothing changed", specs["grown"]),
            ("one peer changed", specs["moved"]),
        ):
            pl.pulumi("config", "set", "bench:spec", str(path), "--stack", "lab-floor")
            floor_rows.append(traced_up(pl, "lab-floor", step, env))
            print(floor_rows[-1].row("floor"), flush=True)

        print(header)
        for mine, floor in zip(rows, floor_rows, strict=True):
            print(mine.row("wgsites"))
            print(floor.row("floor"))
        for mine, floor in zip(rows[1:], floor_rows[1:], strict=True):
            print(f"{mine.step}: {mine.seconds / floor.seconds:.2f} x the floor's time")
        print(f"the peers' configs, plaintext, once: {configs / 1e3:.1f} kB; the checkpoint: {rows[1].state_bytes / 1e6:.2f} MB")
        for part, size in sorted(state_breakdown(grown_deployment).items()):
            print(f"  checkpoint {part}: {size / 1e3:.1f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
