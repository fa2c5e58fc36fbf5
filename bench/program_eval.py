"""Program evaluation under Pulumi's mocks: wgsites against a floor program, side by side, as ratios.

    .venv/bin/python bench/program_eval.py [--peers 1,10,100,1000] [--repeats 3] [--hub aws|ssh]

For each size (an aws hub, or with `--hub ssh` a hub managed over SSH; one SSH site; PEERS roaming peers:
bench/scale_stack.py) it runs, each in a
fresh process (bench/mocked_run.py): wgsites once first ("cold": the first run of a new stack, or on a
new operator's machine; it made every QR code until the program stopped making them, `wgsites qr`
makes one on demand), then the floor and wgsites in turn REPEATS times ("warm": no config changed,
what every later `preview` and `up` costs).
The floor (bench/floor_program.py) registers the same resources and exports, of the same sizes, and
computes nothing. Medians; on a shared machine read the ratios, not the seconds. An aws hub takes at most
4400 peers here (its bundle's SSM parameters, `wgsites check`); 5000 are measured with `--hub ssh`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RUNNER = BENCH / "mocked_run.py"


def timed(args: list[str], environment: dict[str, str]) -> dict:
    """One mocked_run.py in a fresh Python; its JSON line."""
    done = subprocess.run(
        [sys.executable, str(RUNNER), *args], env=environment, capture_output=True, text=True, check=False, timeout=3600
    )
    if done.returncode != 0:
        raise SystemExit(f"mocked_run.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(peers: int, repeats: int, workdir: Path, hub: str = "aws") -> dict:
    environment = dict(os.environ)
    spec = str(workdir / f"spec-{hub}-{peers}.json")
    cold = timed(["wgsites", str(peers), spec, hub], environment)
    floor, warm = [], []
    counts = ("custom", "components", "exports")
    for _ in range(repeats):
        floor_run = timed(["floor", spec], environment)
        # the floor's own root component aside, it registers exactly what wgsites did
        registered = {k: floor_run[k] - (k == "components") for k in counts}
        expected = {k: cold[k] for k in counts}
        if registered != expected:
            raise SystemExit(f"the floor registered {registered}, wgsites {expected}")
        floor.append(floor_run["seconds"])
        warm.append(timed(["wgsites", str(peers), spec, hub], environment)["seconds"])
    return {
        "hub": hub,
        "peers": peers,
        "resources": cold["custom"] + cold["components"],
        "exports": cold["exports"],
        "floor": statistics.median(floor),
        "cold": cold["seconds"],
        "warm": statistics.median(warm),
    }


def report(rows: list[dict]) -> list[str]:
    lines = [
        "| peers | resources | exports | floor s | wgsites warm s | warm / floor | wgsites cold s | cold / floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['peers']} | {r['resources']} | {r['exports']} | {r['floor']:.2f} | {r['warm']:.2f} | "
            f"{r['warm'] / r['floor']:.2f} | {r['cold']:.2f} | {r['cold'] / r['floor']:.2f} |"
        )
    for s, b in zip(rows, rows[1:], strict=False):  # each size against the one before it
        if b["peers"] > s["peers"]:
            lines.append(
                f"growth {b['peers']}/{s['peers']} peers (x{b['peers'] / s['peers']:g}): wgsites warm "
                f"{b['warm'] / s['warm']:.1f}, floor {b['floor'] / s['floor']:.1f}, wgsites cold {b['cold'] / s['cold']:.1f}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peers", default="1,10,100,1000", help="comma-separated sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hub", choices=("aws", "ssh"), default="aws", help="the stack's hub (aws: at most 4400 peers)")
    args = parser.parse_args(argv)
    sizes = [int(p) for p in args.peers.split(",")]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"# program_eval {started}, {args.hub} hub, {machine}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="wgsites-bench-") as tmp:
        for peers in sizes:
            rows.append(measure(peers, args.repeats, Path(tmp), args.hub))
            print(json.dumps(rows[-1]), flush=True)
    print("\n".join(report(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
