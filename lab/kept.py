"""A lab kept running (`--keep`): the commands that look around in it, and a copy of the stack `status` can read.

Why: a node's WireGuard sockets and files live in its private mount namespace (docs/lab-notes.md 2), so
`ip netns exec` alone sees no interface; and the stack file a user gave names hosts and endpoints the lab
replaced by its own. The copy names the lab's, and the operator node (the one that reaches every host's sshd
on the management bridge) is given an ssh_config in its own /etc for the lab's key.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import yaml

from wgsites.stack.check import stack_name
from wgsites.stack.parse import CONFIG_KEY
from wgsites.stack.yaml_file import read_stack_document

from .deploy import LAB_CREDENTIALS, ssm_endpoint
from .netns import Lab
from .world import World, lab_rewrite

ROOT = Path(__file__).resolve().parents[1]
LAB_COMMAND = ROOT / "scripts" / "lab"
SSH_CONFIG = "/etc/ssh/ssh_config.d/wgsites-lab.conf"  # in the operator node's own /etc (an overlay)


def write_kept_stack(world: World, stack_file: str | Path, run_dir: Path) -> Path:
    """run_dir/Pulumi.<stack>.yaml: the user's stack file as the lab runs it, for `wgsites status`."""
    document = read_stack_document(Path(stack_file))  # as Pulumi reads it
    document["config"][CONFIG_KEY] = lab_rewrite(document["config"][CONFIG_KEY], world.vpn)
    copy_path = run_dir / f"Pulumi.{stack_name(stack_file)}.yaml"
    header = f"# {stack_file} as lab {run_dir.name} runs it: its hosts, endpoints and keys are the lab's\n"
    copy_path.write_text(header + yaml.safe_dump(document, sort_keys=False))
    return copy_path


def wait_kept(lab: Lab, world: World | None, stack_copy: Path | None, until: str = "tear down") -> None:
    """Say what to type, give the operator node the lab's SSH key for `status`, wait for Enter."""
    if world is not None and world.operator is not None and world.ssh_key is not None:
        world.operator.run(  # the node's /etc is an overlay of its own (netns.Lab._mount_script): this machine's is untouched
            ["sh", "-c", f"mkdir -p {os.path.dirname(SSH_CONFIG)} && cat > {SSH_CONFIG}"],
            input="# the lab's hosts: its key; their host keys are new each run\n"
            f"IdentityFile {world.ssh_key}\nStrictHostKeyChecking no\nUserKnownHostsFile /dev/null\nLogLevel ERROR\n",
        )
    print(kept_message(lab, world, stack_copy, until), flush=True)
    try:
        input()
    except EOFError:
        pass


def kept_message(lab: Lab, world: World | None, stack_copy: Path | None, until: str = "tear down") -> str:
    """What to type, as root, while the lab waits for Enter."""
    shell = f"sudo {LAB_COMMAND} --shell"
    vpn_nodes = [n.name for n in world.vpn.nodes if n.name in lab.nodes] if world is not None else []
    some = next(iter(vpn_nodes[1:] or vpn_nodes), "NODE")  # a spoke, else the hub
    others = sorted(set(lab.nodes) - set(vpn_nodes))
    lines = [
        f"kept running; lab {lab.prefix}, nodes: {', '.join(vpn_nodes) or '-'} (the VPN's), {', '.join(others)} (the lab's)."
        " From another terminal:",
        f"  a shell on a node:     {shell} {lab.prefix}-{some}",
        f"  a command on a node:   {shell} {lab.prefix}-{some} -c 'wg show'",
    ]
    if stack_copy is not None and world is not None and world.operator is not None:
        status = f"cd {shlex.quote(str(ROOT))} && .venv/bin/python -m wgsites status {stack_copy}"
        if world.vpn.hub.kind == "aws":  # its view is in the lab's SSM stand-in
            env = {**LAB_CREDENTIALS, "AWS_ENDPOINT_URL_SSM": ssm_endpoint()}
            status = status.replace(" && ", " && env " + " ".join(f"{k}={v}" for k, v in env.items()) + " ")
        lines += [
            f"  the stack as the lab runs it: {stack_copy}",
            f"  status, from the operator node: {shell} {lab.prefix}-operator -c {shlex.quote(status)}",
        ]
    lines.append(f"Press Enter to {until}.")
    return "\n".join(lines)
