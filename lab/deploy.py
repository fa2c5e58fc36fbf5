"""Deploy a stack into its lab world the way `pulumi up` does, with the core's own output.

- SSH-managed hosts: the install script's exact command line over real SSH, the
  config on stdin; keys are made on the hosts (`public-key` first, as the
  Pulumi layer does).
- The aws hub: its cloud-init user data applied (files written, commands run,
  a small systemd stand-in for its timer), its config and key put into an SSM
  API (moto's server mode) that its sync unit polls, and the status parameters
  its agent publishes its view to.
- Roaming peers: the rendered file installed and `wg-quick up`, as a user would.
"""

from __future__ import annotations

import base64
import gzip
import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wgsites.rendering.bundle import (
    GatewayParameters,
    chunk_count,
    chunks,
    gateway_parameters,
    manifest,
    manifest_fields,
    signed_text,
)
from wgsites.rendering.render import (
    KeyRing,
    install_command,
    render_gateway_bundle,
    render_preshared_keys,
    render_user_data,
    render_wg_quick,
)
from wgsites.rendering.status_slots import PLACEHOLDER_CHUNK, PLACEHOLDER_MANIFEST, status_slots
from wgsites.stack.keys import generate_private_key, public_key_of, sign_text, verify_key_text
from wgsites.stack.model import Vpn

from .addresses import CLOUD_API, LabSetupError
from .netns import Node
from .services import ssh
from .world import World

MOTO_PORT = 5000
OWN_KEY_COMMENT = "# Your own key:"
"""How a bring-your-own-key device's config starts the line that says where its private key goes."""
LAB_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "lab",
    "AWS_SECRET_ACCESS_KEY": "lab",
    "AWS_DEFAULT_REGION": "eu-central-1",
}


@dataclass
class Deployment:
    world: World
    keys: KeyRing
    configs: dict[str, str] = field(default_factory=dict)
    install_output: dict[str, str] = field(default_factory=dict)  # node -> what the install printed

    @property
    def vpn(self) -> Vpn:
        return self.world.vpn


def ssm_endpoint() -> str:
    return f"http://{CLOUD_API}:{MOTO_PORT}"


def run_over_ssh(world: World, name: str, command: str, stdin: str | None = None) -> str:
    target = world.vpn.node(name).ssh
    assert target is not None and world.operator and world.ssh_key
    done = ssh(
        world.operator,
        host=target.host,
        port=target.port,
        user=target.user,
        key=world.ssh_key,
        command=command,
        input=stdin,
        timeout=90,
    )
    return done.stdout


def make_keys(world: World, previous: KeyRing | None = None) -> KeyRing:
    """Hosts managed over SSH make their own key and report the public half; the rest come from pynacl."""
    public: dict[str, str] = {}
    private: dict[str, str] = {}
    for node in world.vpn.nodes:
        if previous and node.name in previous.public:
            public[node.name] = previous.public[node.name]
            if node.name in previous.private:
                private[node.name] = previous.private[node.name]
            continue
        kind = node.delivery
        if kind == "ssh":
            command = install_command(world.vpn, node.name, world.stack, "public-key", node.ssh.user)
            public[node.name] = run_over_ssh(world, node.name, command).strip()
        elif getattr(node, "public_key", None):
            public[node.name] = node.public_key
        else:
            private[node.name] = generate_private_key()
            public[node.name] = public_key_of(private[node.name])
    # preshared keys: random here (the Pulumi layer derives them from the seed), kept across a new KeyRing
    preshared = {
        s.name: (previous.preshared.get(s.name) if previous else None) or generate_private_key()
        for s in world.vpn.preshared_spokes
    }
    return KeyRing(public=public, private=private, preshared=preshared)


def start_ssm(world: World) -> None:
    """moto's SSM API on the lab internet, standing in for AWS (docs/lab-notes.md 15)."""
    assert world.cloud
    moto = str(Path(sys.executable).parent / "moto_server")
    pid = world.cloud.spawn([moto, "-H", CLOUD_API, "-p", str(MOTO_PORT)])
    world.cloud.wait_for_port(CLOUD_API, MOTO_PORT, pid=pid, timeout=30)


def gateway_parameter_names(world: World) -> GatewayParameters:
    return gateway_parameters(world.stack, world.vpn.hub.interface, LAB_CREDENTIALS["AWS_DEFAULT_REGION"], ssm_endpoint())


def put_parameters(
    world: World, keys: KeyRing, config: str, vpn: Vpn | None = None, text: str | None = None, signature: str | None = None
) -> None:
    """What the Pulumi layer's ssm.Parameter resources do: the bundle of CONFIG (rendered for VPN, default the
    world's) in its chunks, then its manifest, and the key as a SecureString.

    Runs on the operator node with boto3; the key travels on stdin, never in argv.
    """
    assert world.operator
    vpn = vpn or world.vpn
    names = gateway_parameter_names(world)
    psk = render_preshared_keys(vpn, vpn.hub.name, world.stack, keys)
    text = text or render_gateway_bundle(
        vpn, world.stack, config, preshared_keys=psk, public_key=keys.public[vpn.hub.name]
    )  # TEXT: a bundle made by hand (tests)
    count = chunk_count(text)
    # the serial as the program's bundle-serial command makes it: only growing (here microseconds, as puts
    # come faster than one a second)
    fields = manifest_fields(text, count, time.time_ns() // 1000, world.stack, vpn.hub.interface)
    signature = signature or sign_text(world.bundle_key, signed_text(fields))  # SIGNATURE: a forged one (tests)
    script = (
        "import boto3, json, sys\n"
        "p = json.load(sys.stdin)\n"
        "c = boto3.client('ssm', endpoint_url=p['endpoint'], region_name=p['region'])\n"
        "for name, value in p['chunks']:\n"
        "    c.put_parameter(Name=name, Value=value, Type='String', Overwrite=True)\n"
        "c.put_parameter(Name=p['manifest_name'], Value=p['manifest'], Type='String', Overwrite=True)\n"
        "c.put_parameter(Name=p['key_name'], Value=p['key'], Type='SecureString', Overwrite=True)\n"
        "for name, value in p['preshared_keys']:\n"
        "    c.put_parameter(Name=name, Value=value, Type='SecureString', Overwrite=True)\n"
    )
    payload = {
        "endpoint": ssm_endpoint(),
        "region": names.region,
        "chunks": [(names.chunk(i), piece) for i, piece in enumerate(chunks(text, count))],
        "manifest_name": names.manifest,
        "manifest": manifest(fields, signature),
        "key_name": names.key,
        "key": keys.private[vpn.hub.name],
        "preshared_keys": [(names.preshared_keys_chunk(i), part) for i, part in enumerate(chunks(psk, chunk_count(psk)))]
        if psk
        else [],
    }
    world.operator.run([sys.executable, "-c", script], input=json.dumps(payload), env=LAB_CREDENTIALS)


def create_status_parameters(world: World) -> None:
    """What the Pulumi layer does once for the gateway's status (gateway_status.py): the manifest and every chunk
    slot with their placeholders; later ups leave their values to the agent."""
    assert world.operator
    names = gateway_parameter_names(world)
    script = (
        "import boto3, json, sys\n"
        "p = json.load(sys.stdin)\n"
        "c = boto3.client('ssm', endpoint_url=p['endpoint'], region_name=p['region'])\n"
        "for name, value in p['parameters']:\n"
        "    c.put_parameter(Name=name, Value=value, Type='String', Tier='Standard')\n"
    )
    slots = [(names.status_chunk(i), PLACEHOLDER_CHUNK) for i in range(status_slots(world.vpn))]
    payload = {"endpoint": ssm_endpoint(), "region": names.region, "parameters": [(names.status, PLACEHOLDER_MANIFEST), *slots]}
    world.operator.run([sys.executable, "-c", script], input=json.dumps(payload), env=LAB_CREDENTIALS)


def apply_cloud_init(node: Node, user_data: str) -> None:
    """Apply user data as cloud-init would: write_files, then runcmd (package installation skipped).

    This lab has no systemd, so `systemctl` lines are carried out by a stand-in that
    reads the same unit files: a timer becomes a loop of its service's ExecStart.
    """
    document = yaml.safe_load(user_data)
    for item in document.get("write_files", []):
        content = item["content"]
        if item.get("encoding") == "gz+b64":
            content = gzip.decompress(base64.b64decode(content)).decode()
        node.write_file(item["path"], content, int(item.get("permissions", "0644"), 8))
    for command in document.get("runcmd", []):
        argv = command if isinstance(command, list) else ["sh", "-c", command]
        if argv[0] == "systemctl":
            systemctl(node, argv[1:])
        else:
            node.run(argv)


def _unit(node: Node, name: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in node.read_file(f"/etc/systemd/system/{name}").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def systemctl(node: Node, args: list[str]) -> None:
    """`systemctl ARGS` as the lab's systemd stand-in carries it out: a timer a loop, a service run once."""
    verb, units = args[0], [a for a in args[1:] if not a.startswith("-")]
    if verb == "daemon-reload":
        return
    for unit in units:
        # systemd never runs one unit twice at once; the stand-in serializes with a lock per service
        service = unit.replace(".timer", ".service")
        lock = shlex.quote(str(node.dir / f"{service}.lock"))
        exec_start = f"flock {lock} {_unit(node, service)['ExecStart']}"
        if unit.endswith(".timer") and verb == "enable" and "--now" in args:
            # the period as systemd would take it: the unit's, or a drop-in's (the agent writes one from the bundle)
            default = _unit(node, unit)["OnUnitActiveSec"].rstrip("s")
            drop_ins = shlex.quote(f"/etc/systemd/system/{unit}.d")
            period = f"$(cat {drop_ins}/*.conf 2>/dev/null | sed -n 's/^OnUnitActiveSec=\\([0-9]*\\)s$/\\1/p' | tail -n 1)"
            loop = f"while true; do {exec_start}; p={period}; sleep ${{p:-{default}}}; done"
            node.spawn(loop, env=LAB_CREDENTIALS)
        elif unit.endswith(".service") and verb == "start":
            node.run(exec_start, env=LAB_CREDENTIALS, timeout=90)
        else:
            raise ValueError(f"the lab's systemd stand-in does not know `systemctl {' '.join(args)}`")


def paste_private_key(config: str, private_key: str, name: str) -> str:
    """The device's config with `PrivateKey = ...` on the line after the comment that asks for it."""
    lines = config.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(OWN_KEY_COMMENT):
            return "".join([*lines[: i + 1], f"PrivateKey = {private_key}\n", *lines[i + 1 :]])
    raise LabSetupError(f"the config of {name} has no line saying where its own key goes ({OWN_KEY_COMMENT!r})")


def install_file_peer(node: Node, interface: str, config: str) -> None:
    """What a user does with a config delivered as a file; for a site's router, also what its comment asks."""
    node.write_file(f"/etc/wireguard/{interface}.conf", config, 0o600)
    if "turn on IP forwarding" in config:
        node.sysctl("net.ipv4.ip_forward", 1)
    node.run(["wg-quick", "up", interface])


def deploy(world: World, keys: KeyRing | None = None) -> Deployment:
    """Bring every node of the stack up; returns what was installed."""
    vpn = world.vpn
    keys = keys or make_keys(world)
    dep = Deployment(world, keys)
    hub_endpoint = vpn.hub.endpoint  # the lab's (build_world): the hub's public IPv4, or HUB6 for an IPv6 endpoint
    for node in vpn.nodes:
        dep.configs[node.name] = render_wg_quick(vpn, node.name, world.stack, keys, hub_endpoint=hub_endpoint)
        if node.name in world.own_keys:  # the lab plays this bring-your-own-key device: it pastes its key
            dep.configs[node.name] = paste_private_key(dep.configs[node.name], world.own_keys[node.name][1], node.name)
    if vpn.hub.kind == "aws":
        start_ssm(world)
        put_parameters(world, keys, dep.configs[vpn.hub.name])
        create_status_parameters(world)
        user_data = render_user_data(vpn.hub, world.stack, gateway_parameter_names(world), verify_key_text(world.bundle_key))
        apply_cloud_init(world.nodes[vpn.hub.name], user_data)
    for node in vpn.nodes:
        kind = node.delivery
        if kind == "ssh":
            command = install_command(vpn, node.name, world.stack, "install", node.ssh.user)
            dep.install_output[node.name] = run_over_ssh(world, node.name, command, dep.configs[node.name])
            if psk := render_preshared_keys(vpn, node.name, world.stack, keys):  # as `<node>-psk` does, after the install
                command = install_command(vpn, node.name, world.stack, "preshared-keys", node.ssh.user)
                run_over_ssh(world, node.name, command, psk)
        elif kind == "file":
            install_file_peer(world.nodes[node.name], node.interface, dep.configs[node.name])
    return dep


def wait_for(predicate, timeout: float, interval: float = 0.5) -> float | None:
    """Seconds until predicate() was true, or None after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    return None
