"""`python -m lab STACK_FILE`: build the stack's world, deploy it, check it, tear it down.

Why a row and never a traceback: a stack that passes `check` must either run here or
say, in the table, which step of the lab could not be done and why.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from wgsites.stack.check import load_stack_file, stack_name
from wgsites.stack.errors import ConfigError

from .check_run import Check, crash_detail
from .checks import Checker, table
from .deploy import deploy
from .faults import run_faults
from .kept import wait_kept, write_kept_stack
from .names_checks import name_added_under_lookups
from .netns import Lab
from .scenarios import add_peer_through_ssm, wan_address_change
from .world import World, build_world

LAB_SYNC_SECONDS = 10  # the aws hub's timer period in the lab (the stack's default is 30 s)


def run_stack(
    lab: Lab, stack_file: str | Path, *, faults: bool = True, changes: bool = True, built: list[World] | None = None
) -> list[Check]:
    """Everything between an empty lab and the result table.

    `faults`: also the fault scenarios; `changes`: also the changes a running VPN must
    survive (a new WAN address, a peer added through SSM). A step that fails is a FAIL row.
    `built` receives the stack's world once it exists (a kept lab shows it).
    """
    step = "read the stack"
    try:
        vpn = load_stack_file(stack_file)
        stack = stack_name(stack_file)
        if vpn.hub.kind == "aws":
            vpn = dataclasses.replace(
                vpn, hub=dataclasses.replace(vpn.hub, aws=dataclasses.replace(vpn.hub.aws, sync_seconds=LAB_SYNC_SECONDS))
            )
        step = "build the stack's world"
        world = build_world(lab, stack, vpn, lab.run_dir)
        if built is not None:
            built.append(world)
        step = "deploy the stack"
        dep = deploy(world)
    except ConfigError as exc:
        return [Check(f"lab: {step}", "-", False, "; ".join(exc.messages))]
    except Exception as exc:
        return [Check(f"lab: {step}", "-", False, crash_detail(exc))]
    checker = Checker(dep)
    checker.run_all()
    if changes:
        checker.guard("WAN address change", "-", lambda: wan_address_change(checker))
        checker.guard("peer added via SSM", vpn.hub.name, lambda: add_peer_through_ssm(checker))
        checker.guard("name added under lookups", vpn.hub.name, lambda: name_added_under_lookups(checker))
    if faults:
        checker.guard("fault scenarios", "-", lambda: run_faults(checker))
    return checker.results


def run_lab(stack_file: str | Path, keep: bool = False, pulumi: bool = False) -> int:
    if os.geteuid() != 0:
        print("error: the lab creates network namespaces: run it as root (sudo)", file=sys.stderr)
        return 2
    if pulumi:
        from .pulumi_lab import run_pulumi_lab

        return run_pulumi_lab(stack_file, keep=keep)
    start = time.monotonic()
    results: list[Check] = []
    try:
        with Lab() as lab:
            print(f"lab {lab.prefix}: {stack_name(stack_file)} stack in network namespaces {lab.prefix}-*", flush=True)
            built: list[World] = []
            results = run_stack(lab, stack_file, built=built)
            print(table(results))
            print(f"lab took {time.monotonic() - start:.0f} s")
            if keep:
                world = built[0] if built else None
                copy = write_kept_stack(world, stack_file, lab.run_dir) if world else None
                wait_kept(lab, world, copy)
    except Exception as exc:  # the lab itself (namespaces, mounts, teardown): a row, not a traceback
        row = Check("lab: set up or tear down the namespaces", "-", False, crash_detail(exc))
        print(table([row]))
        return 1
    return 0 if results and all(c.passed for c in results) else 1
