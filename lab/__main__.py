"""`python -m lab STACK_FILE [--keep] [--pulumi]`: the stack in network namespaces, checked (root).
`python -m lab --shell NODE [-c COMMAND]`: a shell (or one command) inside a node of a lab kept with --keep."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .netns import LabError, node_env, running_node
from .run import run_lab


def shell(name: str, command: str | None) -> int:
    """Enter the node's network and mount namespaces, as the lab's own commands do (Node.enter_argv)."""
    try:
        mount_ns, netns = running_node(name)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    inside = ["sh", "-c", command] if command is not None else ["bash", "--norc", "-i"]
    env = node_env({"PS1": f"[lab {netns.name}] \\w# "})
    # --wd: entering a mount namespace starts in its /; stay in this folder (the clone, as scripts/lab runs this)
    os.execvpe("nsenter", ["nsenter", f"--mount={mount_ns}", f"--net={netns}", f"--wd={os.getcwd()}", "--", *inside], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument("stack_file", nargs="?")
    parser.add_argument("--keep", action="store_true", help="leave the lab running to look around")
    parser.add_argument("--pulumi", action="store_true", help="deploy with the real `pulumi up` over SSH")
    parser.add_argument("--shell", metavar="NODE", help="enter a kept lab's node: wglXXXX-NODE, or NODE while one lab runs")
    parser.add_argument("-c", dest="command", metavar="COMMAND", help="with --shell: run COMMAND there instead of a shell")
    args = parser.parse_args(argv)
    if args.shell is not None:
        if args.stack_file or args.keep or args.pulumi:
            parser.error("--shell enters a running lab: give no stack file, --keep or --pulumi with it")
        if os.geteuid() != 0:
            parser.error("--shell enters network namespaces: run it as root (sudo)")
        return shell(args.shell, args.command)
    if args.command is not None:
        parser.error("-c goes with --shell NODE")
    if args.stack_file is None:
        parser.error("give a stack file (e.g. Pulumi.home.yaml), or --shell NODE")
    if not Path(args.stack_file).is_file():  # before any namespace exists
        parser.error(f"{args.stack_file}: no such stack file; give a path from {os.getcwd()} or an absolute one")
    return run_lab(args.stack_file, keep=args.keep, pulumi=args.pulumi)


if __name__ == "__main__":
    sys.exit(main())
