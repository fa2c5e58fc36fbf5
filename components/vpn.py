"""The whole VPN of one stack: keys, the hub, and every spoke's delivery.

Order (no cycles): public keys first (derived from the stack's key seed for the
aws hub and roaming peers, so known at preview; the key command of every SSH
host; bring-your-own keys from the model), then the hub's endpoint (the Elastic
IP, or the model's), then every node's config rendered by the core in an
`apply`, then the pushes and deliveries. The text the core renders reaches
hosts, SSM and outputs unchanged. Only roaming peers' configs hold a private
key, so only they are secret: pushed configs and the SSM config show in diffs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter

import pulumi

from wgsites.rendering.bundle import gateway_parameters
from wgsites.rendering.render import (
    KeyRing,
    gateway_bundle_chunks,
    gateway_preshared_key_chunks,
    install_command,
    preshared_peers,
    render_gateway_bundle,
    render_install_script,
    render_preshared_keys,
    render_user_data,
    render_wg_quick,
    signed_manifest,
)
from wgsites.rendering.status_slots import status_slots
from wgsites.stack.addressing import AddressPlan
from wgsites.stack.config_keys import check_key_seed, own_key_nodes
from wgsites.stack.keys import bundle_signing_key, verify_key_text
from wgsites.stack.model import Vpn

from .aws_gateway import AwsGateway, AwsGatewayArgs, check_gateway_image, gateway_subnet
from .derived_keys import OnDemand, derived_keys, derived_preshared_keys
from .roaming_peer import RoamingPeer, RoamingPeerArgs
from .ssh_host import HostKey, HostKeyArgs, SshHost, SshHostArgs, ssh_connection


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
    gateway: AwsGateway | None  # the hub of kind aws
    peers: dict[str, RoamingPeer]  # spokes without ssh
    public_keys: Mapping[str, pulumi.Output[str]]
    public_key_map: pulumi.Output[dict[str, str]]  # the same keys as one Output: export this (a dict of a
    # thousand Outputs costs the SDK a thousand more to gather)
    configs: dict[str, pulumi.Output[str]]  # every node's wg-quick config, as the core renders it
    hub_endpoint: pulumi.Output[str]  # host:port the spokes dial

    def __init__(self, name: str, args: WireGuardVpnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        vpn, stack, hub = args.vpn, args.stack, args.vpn.hub
        # a missing or bad seed fails here, before any resource (settings.load checked the stack's own)
        seed = args.key_seed
        if (seed is None or isinstance(seed, str)) and (errors := check_key_seed(seed, vpn, stack)):
            raise pulumi.RunError("\n".join(errors))
        if hub.kind == "aws" and not args.region:  # its SSM parameters and its bootstrap name the region
            raise pulumi.RunError("aws:region: missing for an aws hub; set it: pulumi config set aws:region eu-central-1")
        # where the gateway goes, asked of AWS before any resource exists: an account without a default VPC
        # fails here with the fix, not halfway through an up
        subnet = gateway_subnet(hub.aws, args.region, ipv6=hub.ipv6_egress) if hub.kind == "aws" else None
        if hub.kind == "aws":  # and a pinned image, which must run on the instance type
            check_gateway_image(hub.aws, args.region)
        super().__init__("wgsites:vpn:WireGuardVpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def node_opts(node) -> pulumi.ResourceOptions:
            # a renamed node's components (and, by their names' prefix, their children) keep their URNs
            if not node.aliases:
                return child
            return pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{name}-{old}") for old in node.aliases])

        # 1. public keys
        # from the name a node was created with: a rename (aliases) keeps its key, so no phone re-imports
        first_names = {node: vpn.node(node).first_name for node in own_key_nodes(vpn)}
        derived = derived_keys(seed, first_names, args.key_rotations)
        self.private_keys = derived.private_keys  # each made when read: the configs read them from one map
        public: dict[str, pulumi.Input[str]] = {s.name: s.public_key for s in vpn.spokes if s.key_source == "own"}
        ssh_nodes = [n for n in vpn.nodes if n.delivery == "ssh"]
        connections = {n.name: ssh_connection(n.ssh, args.ssh_private_key, args.ssh_private_key_password) for n in ssh_nodes}
        scripts = {n.name: render_install_script(vpn, n.name, stack) for n in ssh_nodes}  # one per node, three commands

        def script(node, action: str, argument: str | None = None) -> str:
            return install_command(vpn, node.name, stack, action, node.ssh.user, argument, script=scripts[node.name])

        self.host_keys = {
            n.name: HostKey(
                f"{name}-{n.name}", HostKeyArgs(connections[n.name], n.ssh.host, script(n, "public-key")), node_opts(n)
            )
            for n in ssh_nodes
        }
        public.update(self._distinct_host_keys(vpn, derived.public))
        # the derived ones made when read, as derived.private_keys: the configs and the export read their map
        given = {n: _output(key) for n, key in public.items()}
        self.public_keys = OnDemand(derived.public, [n.name for n in vpn.nodes], given)

        def keys_of(names: list[str]) -> pulumi.Output[dict[str, str]]:
            """NAMES' public keys as one map: the derived ones from their one map, the others one by one."""
            others = {n: self.public_keys[n] for n in names if n not in derived.private_keys}

            def pick(every: dict[str, str], given: dict[str, str]) -> dict[str, str]:
                every = {**every, **(given or {})}
                return {n: every[n] for n in names}

            # the derived map read in an apply: Output.all would lift each of its values into an Output of
            # its own (two thousand at a thousand peers, each time)
            return pulumi.Output.all(**others).apply(lambda given: derived.public.apply(lambda every: pick(every, given)))

        self.public_key_map = keys_of([n.name for n in vpn.nodes])

        # preshared keys, derived like the keys from the spoke's first name (a rename keeps its pair's key)
        paired = {s.name: s.first_name for s in vpn.preshared_spokes}
        preshared = derived_preshared_keys(seed, paired, args.preshared_key_rotations) if paired else None

        def preshared_text(node_name: str) -> pulumi.Output[str]:
            """NODE_NAME's preshared keys as the install script reads them (its pairs' public keys and keys), secret."""
            # both maps read in applies, not through Output.all (which would lift each key into an Output)
            text = keys_of(list(preshared_peers(vpn, node_name))).apply(
                lambda public: preshared.apply(
                    lambda pairs: render_preshared_keys(vpn, node_name, stack, KeyRing(public, preshared=pairs))
                )
            )
            return pulumi.Output.secret(text)

        # 2. the hub, and the endpoint spokes dial
        # only the keys the hub's config mentions: one unknown key (a new SSH host's, in a preview) blanks it
        mentioned = [p.name for p in AddressPlan(vpn, None).plan(hub.name).peers]
        self.configs = {hub.name: keys_of(mentioned).apply(lambda keys: render_wg_quick(vpn, hub.name, stack, KeyRing(keys)))}
        self.gateway = None
        endpoint: pulumi.Input[str] | None = None  # None: the model's hub.endpoint
        if hub.kind == "aws":
            parameters = gateway_parameters(stack, hub.interface, args.region)
            hub_script = render_install_script(vpn, hub.name, stack)  # rendered once: the count and the bundle share it
            slots = status_slots(vpn)  # once: it walks every peer
            chunks = gateway_bundle_chunks(vpn, stack, hub_script, slots)
            # its preshared keys go in SecureString chunks of their own; the bundle names their count and hash
            # (public: a hash of random keys), so the bundle stays a readable diff
            hub_psk = preshared_text(hub.name) if paired else None
            bundle = pulumi.Output.unsecret(
                pulumi.Output.all(self.configs[hub.name], hub_psk, self.public_keys[hub.name]).apply(
                    lambda a: render_gateway_bundle(vpn, stack, a[0], hub_script, slots, a[1], public_key=a[2])
                )
            )
            # the bundle is code that runs as root on the VM: it carries the stack's signature (a key derived
            # from the secret seed), which the bootstrap checks with the public half its user data holds
            secret_seed = pulumi.Output.secret(seed)
            bundle_key = pulumi.Output.unsecret(secret_seed.apply(lambda s: verify_key_text(bundle_signing_key(s))))

            def signed(serial: pulumi.Output[int]) -> pulumi.Output[str]:
                """The manifest of the bundle at SERIAL, every field signed; a hash and a signature: public."""

                def sign(seed_text: str, text: str, number: int) -> str:
                    return signed_manifest(text, chunks, number, stack, hub.interface, bundle_signing_key(seed_text))

                return pulumi.Output.unsecret(pulumi.Output.all(secret_seed, bundle, serial).apply(lambda a: sign(*a)))

            gateway_args = AwsGatewayArgs(
                hub,
                stack,
                parameters=parameters,
                user_data=bundle_key.apply(lambda key: render_user_data(hub, stack, parameters, key)),
                subnet=subnet,
                bundle=bundle,
                chunks=chunks,
                manifest=signed,
                private_key=self.private_keys[hub.name],
                status_chunks=slots,
                preshared_keys=hub_psk,
                preshared_key_chunks=gateway_preshared_key_chunks(vpn, stack),
            )
            self.gateway = AwsGateway(f"{name}-{hub.name}", gateway_args, node_opts(hub))
            if hub.endpoint is None:
                endpoint = self.gateway.public_ip
        self.hub_endpoint = pulumi.Output.from_input(endpoint).apply(lambda ep: AddressPlan(vpn, ep).hub_dial() or "")

        # 3. spokes' configs, then pushes and deliveries. A spoke's config names the hub alone, so every
        # spoke's waits for the same keys: rendered together, two Outputs for all (secret: those holding
        # their own key or a preshared key inline; plain: pushed configs and bring-your-own-key devices),
        # one per spoke to hand out
        inline = {s.name for s in vpn.preshared_spokes if s.delivery == "file"}  # a device's: in its config
        keyed = [s.name for s in vpn.spokes if s.name in derived.private_keys or s.name in inline]
        plain = [s.name for s in vpn.spokes if s.name not in keyed]
        hub_key = self.public_keys[hub.name]
        no_keys = pulumi.Output.from_input({})

        def render_spokes(
            names: list[str], private: pulumi.Output[dict[str, str]], psks: pulumi.Output[dict[str, str]]
        ) -> pulumi.Output[dict[str, str]]:
            def one(n: str, hub_public: str, dial: str | None, keys: dict[str, str], pairs: dict[str, str]) -> str:
                own = {n: keys[n]} if n in keys else {}
                pair = {n: pairs[n]} if n in pairs and n in inline else {}
                return render_wg_quick(vpn, n, stack, KeyRing({hub.name: hub_public}, own, pair), dial)

            # the maps read in applies (Output.all would lift each key into an Output of its own)
            return pulumi.Output.all(hub_key, endpoint).apply(
                lambda a: private.apply(
                    lambda keys: psks.apply(lambda pairs: {n: one(n, a[0], a[1], keys, pairs) for n in names})
                )
            )

        spoke_configs = {}
        if keyed:
            spoke_configs.update(dict.fromkeys(keyed, render_spokes(keyed, derived.private, preshared or no_keys)))
        if plain:
            spoke_configs.update(dict.fromkeys(plain, render_spokes(plain, no_keys, no_keys)))
        for spoke in vpn.spokes:
            self.configs[spoke.name] = spoke_configs[spoke.name].apply(itemgetter(spoke.name))
        # each SSH host's preshared keys (its pairs' public keys and keys), a secret for its `<node>-psk` command
        psk_stores = {n.name: preshared_text(n.name) for n in ssh_nodes if preshared_peers(vpn, n.name)}
        self.hosts = {
            n.name: SshHost(
                f"{name}-{n.name}",
                SshHostArgs(
                    connections[n.name],
                    install=script(n, "install"),
                    remove=script(n, "remove"),
                    config=self.configs[n.name],
                    key=self.host_keys[n.name],
                    repair=script(n, "repair", args.drift_markers.get(n.name, "")),
                    repair_known=n.name in args.drift_markers,
                    preshared_keys=psk_stores.get(n.name),
                    preshared_keys_install=script(n, "preshared-keys") if n.name in psk_stores else None,
                    preshared_keys_forget=script(n, "forget-preshared-keys") if n.name in psk_stores else None,
                ),
                node_opts(n),
            )
            for n in ssh_nodes
        }
        self.peers = {}
        for spoke in vpn.spokes:  # a loop, not a comprehension: one frame less for the SDK to walk per resource
            if spoke.delivery == "file":
                # a device's config is a secret output (RoamingPeerArgs): one holding its key is secret from
                # the seed already; a bring-your-own-key device's (no key in it) is marked so here
                config = self.configs[spoke.name]
                if spoke.name not in derived.private_keys:
                    config = pulumi.Output.secret(config)
                # no QR code here: `wgsites qr` makes one from this config on demand (its forms would double a
                # peer's bytes in the state, and making them cost a cold run most of its time)
                args_of_peer = RoamingPeerArgs(config, file=spoke.file)
                self.peers[spoke.name] = RoamingPeer(f"{name}-{spoke.name}", args_of_peer, node_opts(spoke))
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


def _output(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """VALUE as an Output; one that is already one as it is (from_input would wrap it in one more apply)."""
    return value if isinstance(value, pulumi.Output) else pulumi.Output.from_input(value)
