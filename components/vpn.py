"""The whole VPN of one stack: keys, the hub, and every spoke's delivery, one component per host (a device: its export).

What each node receives is the core's delivery plan (wgsites.rendering.delivery), the one `wgsites render`
writes to disk; this module derives the keys, lifts the plan into Outputs (components.outputs says
how, and why, at a thousand peers) and registers the resources. Order (no cycles): public keys first
(derived from the stack's key seed for the aws hub and roaming peers, so known at preview; the key
command of every SSH host; bring-your-own keys from the model), then the hub's endpoint (the Elastic
IP, or the model's), then every spoke's config, then the pushes and deliveries. Only roaming peers'
configs hold a private key, so only they are secret: pushed configs and the SSM config show in diffs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from wgsites.rendering.delivery import DeliveryPlan
from wgsites.stack.addressing import AddressPlan
from wgsites.stack.config_keys import check_key_seed
from wgsites.stack.keys import bundle_signing_key, verify_key_text
from wgsites.stack.model import Hub, Spoke, Vpn

from .derived_keys import StackKeys, derived_keys, derived_preshared_keys
from .outputs import output_of, picked, together
from .roaming_peer import RoamingPeer, roaming_peer
from .ssh_host import HostKey, HostKeyArgs, SshHost, SshHostArgs, ssh_connection

if TYPE_CHECKING:  # imported where an aws hub needs it: a stack without one never loads the AWS SDK (60 ms)
    from .aws_gateway import GatewaySubnet


@dataclass(frozen=True)
class WireGuardVpnArgs:
    vpn: Vpn
    stack: str
    region: str | None = None  # required for an aws hub: where its SSM parameters live
    ssh_private_key: pulumi.Input[str] | None = None  # for every SSH host; None: the SSH agent
    ssh_private_key_password: pulumi.Input[str] | None = None  # secret; the passphrase of ssh_private_key
    key_rotations: Mapping[str, int | str] = field(default_factory=dict)  # raise one to re-key that node
    # raise one (spoke -> number) to give that spoke's pair with the hub a new preshared key
    preshared_key_rotations: Mapping[str, int | str] = field(default_factory=dict)
    # what the aws hub's and roaming peers' keys are derived from (base64, 32-64 bytes);
    # the stack's secret wgsites:keySeed, as settings.load() read and checked it; None when no node needs it
    key_seed: pulumi.Input[str] | None = None
    # the drift check's marker of each SSH-managed node it could read (components.drift_check.read_markers)
    drift_markers: Mapping[str, str] = field(default_factory=dict)


class WireGuardVpn(pulumi.ComponentResource):
    private_keys: Mapping[str, pulumi.Output[str]]  # secret; derived keys: aws hub, roaming peers without publicKey
    host_keys: dict[str, HostKey]  # the key step of every node delivered over SSH
    hosts: dict[str, SshHost]  # their push step
    gateway: pulumi.ComponentResource | None  # the hub of kind aws: its AwsGateway (Pulumi reads these hints at run time)
    peers: dict[str, RoamingPeer]  # spokes without ssh: devices (not resources; a `file:` one's command is)
    public_keys: Mapping[str, pulumi.Output[str]]
    public_key_map: pulumi.Output[dict[str, str]]  # the same keys as one Output: export this (a dict of a
    # thousand Outputs costs the SDK a thousand more to gather)
    configs: dict[str, pulumi.Output[str]]  # every node's wg-quick config, as the core renders it
    hub_endpoint: pulumi.Output[str]  # host:port the spokes dial

    def __init__(self, name: str, args: WireGuardVpnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        vpn, stack, hub, seed = args.vpn, args.stack, args.vpn.hub, args.key_seed
        subnet = _checked_before_any_resource(args)
        super().__init__("wgsites:vpn:WireGuardVpn", name, None, opts)
        # what every node receives: the plan `wgsites render` writes to disk, lifted into Outputs here
        plan = DeliveryPlan(vpn, stack, args.region)

        def node_opts(node: Hub | Spoke) -> pulumi.ResourceOptions:
            # a renamed node's components (and, by their names' prefix, their children) keep their URNs
            aliases = [pulumi.Alias(name=f"{name}-{old}") for old in node.aliases]
            return pulumi.ResourceOptions(parent=self, aliases=aliases or None)

        # 1. keys: derived from the seed (the aws hub, roaming peers), made on each SSH host, or written
        derived = derived_keys(seed, plan.derived_key_nodes, args.key_rotations)
        self.private_keys = derived.private_keys  # each made when read: the configs read them from one map
        connections = {n.name: ssh_connection(n.ssh, args.ssh_private_key, args.ssh_private_key_password) for n in plan.ssh_nodes}
        self.host_keys = {
            n.name: HostKey(
                f"{name}-{n.name}",
                HostKeyArgs(connections[n.name], n.ssh.host, plan.command(n.name, "public-key")),
                node_opts(n),
            )
            for n in plan.ssh_nodes
        }
        written = {s.name: output_of(s.public_key) for s in vpn.spokes if s.key_source == "own"}
        # preshared keys, derived like the keys from the spoke's first name (a rename keeps its pair's key)
        pairs = plan.preshared_spokes
        preshared = derived_preshared_keys(seed, pairs, args.preshared_key_rotations) if pairs else None
        names = tuple(n.name for n in vpn.nodes)
        keys = StackKeys(derived, {**written, **self._distinct_host_keys(vpn, derived.public)}, preshared, names)
        self.public_keys = keys.public_keys
        self.public_key_map = keys.public(names)  # export this: a dict of a thousand Outputs costs a thousand more

        def preshared_keys(node: str) -> pulumi.Output[str] | None:
            """NODE's preshared-key store (its pairs' public keys and keys), secret; None: it has none."""
            if not plan.preshared_peers(node):
                return None
            ring = keys.ring(plan.preshared_peers(node), preshared=True)
            return pulumi.Output.secret(ring.apply(lambda r: plan.preshared_keys(node, r)))

        # 2. the hub's config, and the hub as an aws gateway (an SSH hub is pushed with the sites, below)
        hub_ring = keys.ring(plan.config_keys(hub.name))  # only the keys it names: an unknown one blanks it
        self.configs = {hub.name: hub_ring.apply(lambda ring: plan.config(hub.name, ring))}
        self.gateway = None
        endpoint: pulumi.Input[str] | None = None  # None: the model's hub.endpoint
        if plan.gateway is not None:
            from .aws_gateway import AwsGateway, AwsGatewayArgs

            delivery = _gateway_delivery(plan, self.configs[hub.name], preshared_keys(hub.name), keys, seed)
            gateway_args = AwsGatewayArgs(
                hub,
                stack,
                parameters=plan.gateway_parameters,
                user_data=delivery.user_data,
                subnet=subnet,
                bundle=delivery.bundle,
                chunks=plan.gateway.bundle_chunks,
                manifest=delivery.manifest,
                private_key=self.private_keys[hub.name],
                status_chunks=plan.gateway.status_chunks,
                preshared_keys=delivery.preshared_keys,
                preshared_key_chunks=plan.gateway.preshared_key_chunks,
            )
            self.gateway = AwsGateway(f"{name}-{hub.name}", gateway_args, node_opts(hub))
            if hub.endpoint is None:
                endpoint = self.gateway.public_ip
        self.hub_endpoint = pulumi.Output.from_input(endpoint).apply(lambda ep: AddressPlan(vpn, ep).hub_dial() or "")

        # 3. every spoke's config: each names the hub alone, so all are rendered together, in two Outputs
        # (secret: those holding a key; plain: pushed configs and bring-your-own-key devices)
        secret = [s.name for s in vpn.spokes if plan.holds_a_secret(s.name)]
        plain = [s.name for s in vpn.spokes if not plan.holds_a_secret(s.name)]
        for group, holds_keys in ((secret, True), (plain, False)):
            if group:
                ring = keys.ring([hub.name], private=holds_keys, preshared=holds_keys)
                configs = together(lambda r, dial, group=group: plan.configs(group, r, dial), ring, endpoint)
                self.configs.update(picked(configs, group))

        # 4. every node delivered over SSH: its config on stdin, its preshared keys apart (a secret)
        self.hosts = {}
        for n in plan.ssh_nodes:
            store = preshared_keys(n.name)
            host_args = SshHostArgs(
                connections[n.name],
                install=plan.command(n.name, "install"),
                remove=plan.command(n.name, "remove"),
                config=self.configs[n.name],
                key=self.host_keys[n.name],
                repair=plan.command(n.name, "repair", args.drift_markers.get(n.name, "")),
                repair_known=n.name in args.drift_markers,
                preshared_keys=store,
                preshared_keys_install=plan.command(n.name, "preshared-keys") if store is not None else None,
                preshared_keys_forget=plan.command(n.name, "forget-preshared-keys") if store is not None else None,
            )
            self.hosts[n.name] = SshHost(f"{name}-{n.name}", host_args, node_opts(n))

        # 5. every device: its config a secret output (one holding a key is secret from the seed already; a
        # bring-your-own-key device's is marked so here), and its `file:` command. No QR code: `wgsites qr`
        # makes one on demand
        self.peers = {}
        for spoke in plan.devices:  # a loop, not a comprehension: one frame less for the SDK to walk per resource
            config = self.configs[spoke.name]
            if not plan.holds_a_secret(spoke.name):  # in the secret group already (a key in it): not wrapped twice
                config = pulumi.Output.secret(config)
            self.peers[spoke.name] = roaming_peer(name, spoke.name, config, spoke.file, spoke.aliases, self)
        self.register_outputs({"hub_endpoint": self.hub_endpoint, "public_keys": self.public_key_map})

    def _distinct_host_keys(self, vpn: Vpn, derived: pulumi.Output[dict[str, str]]) -> dict[str, pulumi.Output[str]]:
        """Each SSH host's key, refused when another node has it (issue: a compromised host answering a
        phone's key). The hub's is checked against the derived and written keys only, which a preview
        knows: every spoke's config holds it, and a new site's unknown key must not blank them. In an up, a
        site's is also checked against every other host's answer: only the hub's config holds it, and that
        waits for every spoke's key anyway. Not in a preview: a host whose key command re-runs there (its
        install script changed) answers only in the up, and the hub's whole config would show as unknown."""
        written = {s.name: s.public_key for s in vpn.spokes if s.key_source == "own"}
        answers = {node: key.public_key for node, key in self.host_keys.items()}
        preview = pulumi.runtime.is_dry_run()
        checked = {}
        for node, key in self.host_keys.items():
            hosts = {} if node == vpn.hub.name or preview else {n: a for n, a in answers.items() if n != node}
            # applies, not Output.all over the derived map: that would lift each of its entries into an Output
            others = derived.apply(
                lambda d, hosts=hosts: (
                    pulumi.Output.all(**hosts).apply(lambda h: {**d, **written, **h}) if hosts else {**d, **written}
                )
            )
            checked[node] = key.distinct_from(node, vpn.node(node).interface, others)
        return checked


@dataclass(frozen=True)
class GatewayDelivery:
    """What the aws hub receives besides its key, as Outputs of the plan's functions."""

    bundle: pulumi.Output[str]  # config, install script, agent, period: public, a readable diff
    manifest: Callable[[pulumi.Output[int]], pulumi.Output[str]]  # the bundle's at a serial, signed
    user_data: pulumi.Output[str]  # static, with the public half of the bundle's signing key
    preshared_keys: pulumi.Output[str] | None  # secret, in SecureString chunks of their own


def _gateway_delivery(
    plan: DeliveryPlan,
    config: pulumi.Output[str],
    preshared_keys: pulumi.Output[str] | None,
    keys: StackKeys,
    seed: pulumi.Input[str] | None,
) -> GatewayDelivery:
    """The aws hub's bundle (its CONFIG; its PRESHARED_KEYS' count and hash, the keys going apart), its signed
    manifest and its user data. The bundle is code that runs as root on the VM: it carries the stack's
    signature (a key derived from the secret SEED), which the bootstrap checks with the public half its
    user data holds."""
    hub = plan.vpn.hub.name
    public_key = keys.public_keys[hub]
    bundle = pulumi.Output.unsecret(pulumi.Output.all(config, preshared_keys, public_key).apply(lambda a: plan.bundle(*a)))
    secret_seed = pulumi.Output.secret(seed)
    bundle_key = pulumi.Output.unsecret(secret_seed.apply(lambda s: verify_key_text(bundle_signing_key(s))))

    def manifest(serial: pulumi.Output[int]) -> pulumi.Output[str]:
        """The manifest of the bundle at SERIAL, every field signed; a hash and a signature: public."""
        signed = pulumi.Output.all(secret_seed, bundle, serial).apply(
            lambda a: plan.manifest(a[1], a[2], bundle_signing_key(a[0]))
        )
        return pulumi.Output.unsecret(signed)

    return GatewayDelivery(bundle, manifest, bundle_key.apply(plan.user_data), preshared_keys)


def _checked_before_any_resource(args: WireGuardVpnArgs) -> GatewaySubnet | None:
    """Refuse a stack that cannot be built before any resource exists: a missing or bad seed (settings.load
    checked the stack's own), an aws hub without a region, an account without a default VPC or a pinned image
    that does not run on the instance type (asked of AWS, with the fix). The gateway's subnet, for an aws hub."""
    vpn, hub, seed = args.vpn, args.vpn.hub, args.key_seed
    if (seed is None or isinstance(seed, str)) and (errors := check_key_seed(seed, vpn, args.stack)):
        raise pulumi.RunError("\n".join(errors))
    if hub.kind != "aws":
        return None
    if not args.region:  # its SSM parameters and its bootstrap name the region
        raise pulumi.RunError("aws:region: missing for an aws hub; set it: pulumi config set aws:region eu-central-1")
    from .aws_gateway import check_gateway_image, gateway_subnet

    subnet = gateway_subnet(hub.aws, args.region, ipv6=hub.ipv6_egress)
    check_gateway_image(hub.aws, args.region)
    return subnet
