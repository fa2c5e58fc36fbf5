"""The real engine's `pulumi preview` of a stack with many peers, against an empty program's (root).

    sudo .venv/bin/python bench/engine_preview.py [--peers 1000] [--source OTHER_TREE]

The router stack (its hub an SSH host in the lab, lab.pulumi_lab) with its VPN widened to a /20:
`pulumi up` of the stack as it is (hub and laptop), then PEERS roaming peers added to the stack file
and `pulumi preview` run three times (the first made every QR code until the program stopped making
them: `wgsites qr` makes one on demand). Beside it, a project whose program registers nothing, on its own
stack, previewed three times on the same CLI and backend. Seconds as the CLI's wall time.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from hub_reload import NETWORK, wide_router_stack  # noqa: E402

from lab.netns import Lab  # noqa: E402
from lab.pulumi_lab import PulumiLab  # noqa: E402


def with_peers(raw: dict, count: int) -> dict:
    """The stack's `wgsites:vpn` with COUNT roaming peers more (split tunnel: the router does not masquerade)."""
    grown = copy.deepcopy(raw)
    grown["peers"] += [{"name": f"p{i:04d}", "address": str(NETWORK[3 + i])} for i in range(count)]
    return grown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peers", type=int, default=1000)
    parser.add_argument("--source", type=Path, default=ROOT, help="the wgsites tree to run (another release, to compare)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("error: the lab creates network namespaces: run it as root (sudo)", file=sys.stderr)
        return 2
    print(f"# engine_preview {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().nodename}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="wgsites-bench-") as tmp, Lab() as lab:
        pl = PulumiLab(lab, wide_router_stack(Path(tmp)), source=args.source)
        up = pl.up()
        print(f"pulumi up of the stack as it is (hub, laptop): {up.seconds:.1f} s", flush=True)
        pl.set_vpn(with_peers(pl.raw, args.peers))
        runs = [pl.pulumi("preview", "--stack", pl.stack, timeout=1800).seconds for _ in range(3)]
        print(f"preview with {args.peers} peers more: {', '.join(f'{s:.1f}' for s in runs)} s (the first on a cold disk cache)")

        # the empty program: the same CLI, backend and runtime, a program that registers nothing
        empty = lab.run_dir / "empty"
        empty.mkdir()
        (empty / "Pulumi.yaml").write_text("name: empty\nruntime:\n  name: python\n  options:\n    virtualenv: .venv\n")
        (empty / "__main__.py").write_text('"""Registers nothing: the floor of a preview."""\n')
        (empty / ".venv").symlink_to(ROOT / ".venv")
        pl.project = empty
        pl.pulumi("stack", "init", "lab-empty")
        floor = [pl.pulumi("preview", "--stack", "lab-empty").seconds for _ in range(3)]
        print(f"preview of an empty program: {', '.join(f'{s:.1f}' for s in floor)} s")
        warm = statistics.median(runs[1:])
        print(
            f"{args.peers} peers: warm preview {warm:.1f} s = {warm / statistics.median(floor):.1f} x the empty program's; "
            f"cold {runs[0]:.1f} s = {runs[0] / statistics.median(floor):.1f} x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
