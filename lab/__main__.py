"""`python -m lab STACK_FILE [--keep] [--pulumi]`: the stack in network namespaces, checked (root)."""

from __future__ import annotations

import argparse
import sys

from .run import run_lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument("stack_file")
    parser.add_argument("--keep", action="store_true", help="leave the lab running to look around")
    parser.add_argument("--pulumi", action="store_true", help="deploy with the real `pulumi up` over SSH")
    args = parser.parse_args(argv)
    return run_lab(args.stack_file, keep=args.keep, pulumi=args.pulumi)


if __name__ == "__main__":
    sys.exit(main())
