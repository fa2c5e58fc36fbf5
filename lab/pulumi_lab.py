"""The lab driven by the real engine: `pulumi up` from an operator namespace, over real SSH.

The hosts start bare (sshd, no WireGuard); an operator node on the lab's networks
runs the Pulumi CLI on a copy of this project with a stack file whose SSH
targets and endpoints point into the lab, then the lab's checks run on the
result. Roaming peers get their config from `pulumi stack output --show-secrets`,
as a user would. Only stacks without an aws hub can run here: the AWS provider
cannot be built on this machine (its part is tested under mocks).
"""

from __future__ import annotations

import base64
import json
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wgsites.rendering.render import KeyRing
from wgsites.stack.check import load_stack_file, stack_name
from wgsites.stack.parse import CONFIG_KEY, parse_vpn
from wgsites.stack.yaml_file import read_stack_document

from .check_run import Check, crash_detail
from .checks import Checker, table
from .deploy import Deployment, install_file_peer, paste_private_key
from .kept import wait_kept
from .netns import Lab, Node
from .services import start_sshd
from .world import World, add_device, build_world, lab_rewrite, manage_node

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "wgsites", "requirements.txt")
PASSPHRASE = "wgsites-lab"  # encrypts this throwaway stack's secrets; never a real secret


class PulumiError(RuntimeError):
    pass


def engine_bin() -> str:
    """The engine's bin directory (scripts/pulumi-engine builds it once, then answers at once)."""
    done = subprocess.run([str(ROOT / "scripts/pulumi-engine")], capture_output=True, text=True)
    if done.returncode != 0:
        raise PulumiError(f"scripts/pulumi-engine failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


@dataclass
class PulumiRun:
    """One CLI call's outcome, kept so the tests can look for leaks in everything it printed."""

    args: list[str]
    returncode: int
    output: str
    seconds: float


@dataclass
class PulumiLab:
    lab: Lab
    stack_file: Path
    world: World = field(init=False)
    raw: dict[str, Any] = field(init=False)  # the stack's `wgsites:vpn` object, lab-rewritten
    stack: str = field(init=False)
    project: Path = field(init=False)
    runs: list[PulumiRun] = field(default_factory=list)
    source: Path = ROOT  # the wgsites tree the project is copied from (an older release, for upgrade tests)
    ssh_key: Path | None = field(init=False)  # the stack's wgsites:sshPrivateKeyPath; None: the SSH agent
    # the operator's SSH agent socket: none unless a test gives one (not the tester's own agent)
    ssh_auth_sock: str = ""

    def __post_init__(self) -> None:
        vpn = load_stack_file(self.stack_file)
        if vpn.hub.kind == "aws":
            raise PulumiError("an aws hub needs the AWS provider, which cannot be built here: run it under mocks")
        self.stack = f"lab-{stack_name(self.stack_file)}"
        self.world = build_world(self.lab, self.stack, vpn, self.lab.run_dir)
        document = read_stack_document(self.stack_file)  # as Pulumi reads it: `14:20` stays text
        self.raw = lab_rewrite(document["config"][CONFIG_KEY], self.world.vpn)
        self.project = self.lab.run_dir / "project"
        self.project.mkdir()
        self.copy_program(self.source)
        (self.project / ".venv").symlink_to(ROOT / ".venv")
        self.bin = engine_bin()
        self.ssh_key = self.world.ssh_key
        self.write_stack_file()
        (self.lab.run_dir / "state").mkdir()
        self.pulumi("login", f"file://{self.lab.run_dir / 'state'}")
        self.pulumi("stack", "init", self.stack)
        # what a user does once per stack; the seed goes on stdin, never on a command line
        seed = base64.b64encode(secrets.token_bytes(32)).decode()
        self.pulumi("config", "set", "--secret", "wgsites:keySeed", "--stack", self.stack, stdin=seed)

    def copy_program(self, source: Path) -> None:
        """The program's files from SOURCE into the project, replacing what was there (an upgrade of wgsites)."""
        for name in PROJECT_FILES:
            target = self.project / name
            if target.is_dir():
                shutil.rmtree(target)
            if (source / name).is_dir():
                shutil.copytree(source / name, target, ignore=shutil.ignore_patterns("__pycache__"))
            elif (source / name).exists():
                shutil.copy2(source / name, target)

    # the CLI --------------------------------------------------------------------------------

    @property
    def operator(self) -> Node:
        assert self.world.operator is not None
        return self.world.operator

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:{ROOT / '.venv/bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PULUMI_HOME": str(self.lab.run_dir / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{self.lab.run_dir / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "SSH_AUTH_SOCK": self.ssh_auth_sock,  # empty is no agent, for pulumi-command too
        }

    def pulumi(self, *args: str, check: bool = True, timeout: float = 300, stdin: str | None = None) -> PulumiRun:
        """Run the CLI on the operator node, in the project copy."""
        argv = ["pulumi", *args, "--non-interactive"]
        start = time.monotonic()
        command = f"cd {shlex.quote(str(self.project))} && exec {shlex.join(argv)}"
        done = self.operator.run(command, env=self.env(), check=False, timeout=timeout, input=stdin)
        run = PulumiRun(argv, done.returncode, done.stdout + done.stderr, time.monotonic() - start)
        self.runs.append(run)
        if check and done.returncode != 0:
            raise PulumiError(f"{' '.join(argv)} exited {done.returncode}:\n{run.output[-4000:]}")
        return run

    def spawn(self, *args: str, log: Path) -> int:
        """Start the CLI without waiting for it (to interrupt it, or run two at once); returns its PID.

        `exec` makes the PID the CLI's own, so a signal sent to it reaches the CLI and nothing else.
        """
        argv = ["pulumi", *args, "--non-interactive"]
        command = f"cd {shlex.quote(str(self.project))} && exec {shlex.join(argv)}"
        return self.operator.spawn(command, log=log, env=self.env())

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        """The spawned CLI's exit code, or None if it still runs after `timeout` seconds."""
        entry = self.lab._procs[pid][0]
        try:
            return entry.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def lock_files(self) -> list[Path]:
        """The DIY backend's lock files of this stack (one per CLI holding it)."""
        return sorted((self.lab.run_dir / "state" / ".pulumi" / "locks").rglob("*.json"))

    def up(self, *extra: str) -> PulumiRun:
        return self.pulumi("up", "--yes", "--skip-preview", "--stack", self.stack, *extra)

    def destroy(self) -> PulumiRun:
        return self.pulumi("destroy", "--yes", "--stack", self.stack)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json", "--show-secrets", "--stack", self.stack).output)

    def write_stack_file(self) -> None:
        assert self.world.ssh_key
        path = self.project / f"Pulumi.{self.stack}.yaml"
        document = yaml.safe_load(path.read_text()) if path.exists() else {}
        document = document or {}
        config = document.setdefault("config", {})  # keeps what `pulumi config set` put there (the seed)
        config[CONFIG_KEY] = self.raw
        if self.ssh_key is None:
            config.pop("wgsites:sshPrivateKeyPath", None)
        else:
            config["wgsites:sshPrivateKeyPath"] = str(self.ssh_key)
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def set_vpn(self, raw: dict[str, Any]) -> None:
        """Edit the stack file as a user would (the world must already have nodes for new spokes)."""
        self.raw = raw
        self.world.vpn = parse_vpn(raw)
        self.write_stack_file()

    def add_roaming_node(self, name: str, public: str, index: int) -> Node:
        """A new device behind its own NAT, for a peer about to be added to the stack (INDEX: the caller's numbering;
        its inside network is a /24 the stack leaves free)."""
        return add_device(self.world, name, public)

    def add_ssh_node(self, name: str, public: str, index: int) -> tuple[Node, str, int]:
        """A new host behind its own NAT with sshd on the management network: (node, its SSH address, sshd PID).

        For a site about to be added to the stack; it is host INDEX of the management network.
        """
        node = add_device(self.world, name, public)
        address = manage_node(self.world, node, index)
        return node, address, start_sshd(node, self.world.ssh_public_key, address, 22)

    # after an up -----------------------------------------------------------------------------

    def deliver_peers(self, outputs: dict[str, Any]) -> None:
        """Roaming peers: the user saves `<name>_config` and brings it up."""
        for spoke in self.world.vpn.spokes:
            if spoke.delivery == "file":
                node = self.world.nodes[spoke.name]
                node.run(["sh", "-c", f"wg-quick down {spoke.interface} 2>/dev/null || true"])
                config = outputs[f"{spoke.name}_config"]
                if spoke.name in self.world.own_keys:  # the lab plays this device: it pastes its own key
                    config = paste_private_key(config, self.world.own_keys[spoke.name][1], spoke.name)
                install_file_peer(node, spoke.interface, config)

    def deployment(self, outputs: dict[str, Any]) -> Deployment:
        keys = KeyRing(public=dict(outputs["public_keys"]))
        configs = {s.name: outputs[f"{s.name}_config"] for s in self.world.vpn.spokes if s.delivery == "file"}
        return Deployment(self.world, keys, configs)

    def check(self) -> list[Check]:
        outputs = self.outputs()
        self.deliver_peers(outputs)
        return Checker(self.deployment(outputs)).run_all()


def host_snapshot(node: Node, interface: str) -> str:
    """What `pulumi destroy` must give back: files, links, sysctls, wgsites' state."""
    return node.run(
        "set +e; ls -la /etc/wireguard /etc/sysctl.d /var/lib/wgsites 2>&1 | grep -v ' \\.\\.\\?$'"
        " | sed 's/ [A-Z][a-z][a-z] .* / /';"
        f"cat /etc/wireguard/{interface}.conf 2>&1; ip -o link show 2>/dev/null | cut -d: -f2 | sort;"
        "sysctl net.ipv4.ip_forward net.ipv4.conf.all.proxy_arp net.ipv4.conf.all.send_redirects;"
        "nft list ruleset | grep -c wgsites; true"
    ).stdout


def run_pulumi_lab(stack_file: str | Path, keep: bool = False) -> int:
    """`python -m lab STACK --pulumi`: pulumi up, the checks, pulumi destroy."""
    start = time.monotonic()
    with Lab() as lab:
        print(f"lab {lab.prefix}: `pulumi up` of {stack_name(stack_file)} from the operator node", flush=True)
        try:
            pl = PulumiLab(lab, Path(stack_file))
            pl.up()
            results = pl.check()
        except Exception as exc:  # a row, never a traceback (PulumiError: the CLI's own output)
            print(table([Check("lab: pulumi up of the stack", "-", False, crash_detail(exc))]))
            print(str(exc)[-4000:], file=sys.stderr)
            return 1
        print(table(results))
        if keep:
            stack_copy = pl.project / f"Pulumi.{pl.stack}.yaml"
            wait_kept(lab, pl.world, stack_copy, until="destroy")
        pl.destroy()
        print(f"lab took {time.monotonic() - start:.0f} s")
    return 0 if all(c.passed for c in results) else 1
