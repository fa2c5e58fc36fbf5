"""What every node of a stack receives, in one plan that `wgsites render` writes to disk and the Pulumi
program delivers (components/vpn.py): the two read the same functions, so they cannot disagree.

Each piece a node receives is a plain function of a key ring (and, for a spoke, the hub's endpoint): its
wg-quick config, its preshared keys, the aws hub's bundle, manifest and user data, a device's QR code.
What the pieces take is known from the stack alone, before any key exists: which keys each config names,
which nodes get a key derived from the seed, the install commands, how many SSM chunks the gateway's
bundle fills. The Pulumi program needs those counts to register its resources before the keys resolve.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from nacl.signing import SigningKey

from wgsites.stack.addressing import AddressPlan
from wgsites.stack.keys import verify_key_text
from wgsites.stack.model import Hub, Spoke, Vpn

from .bundle import GatewayParameters, chunk_count, gateway_parameters
from .qr import qr_code
from .render import (
    STAND_IN_KEY,
    KeyRing,
    install_command,
    preshared_peers,
    render_gateway_bundle,
    render_install_script,
    render_nftables,
    render_preshared_keys,
    render_sysctl,
    render_user_data,
    render_wg_quick,
    signed_manifest,
)
from .status_slots import status_slots


@dataclass(frozen=True)
class HostFile:
    """One file for one node: its name in `render --out DIR/<node>/` and its mode."""

    name: str
    content: str | bytes
    mode: int = 0o644


@dataclass(frozen=True)
class GatewayPlan:
    """The aws hub's delivery as far as it is known before any key: its install script, and how many SSM
    chunk parameters its bundle, preshared keys and status take."""

    install_script: str
    status_chunks: int  # hub_status.status_slots: its largest status
    bundle_chunks: int
    preshared_key_chunks: int  # 0: no preshared key


@dataclass(frozen=True)
class DeliveryPlan:
    """What each node of VPN (stack STACK) receives; REGION: where an aws hub's SSM parameters live."""

    vpn: Vpn
    stack: str
    region: str | None = None

    # --- known before any key exists -------------------------------------------------------------

    @functools.cached_property
    def ssh_nodes(self) -> tuple[Hub | Spoke, ...]:
        """The nodes delivered over SSH (an ssh hub, sites with `ssh`): a key step, then a push."""
        return tuple(n for n in self.vpn.nodes if n.delivery == "ssh")

    @functools.cached_property
    def devices(self) -> tuple[Spoke, ...]:
        """The spokes delivered as a file (phones, laptops, routers configured by hand)."""
        return tuple(s for s in self.vpn.spokes if s.delivery == "file")

    @functools.cached_property
    def derived_key_nodes(self) -> dict[str, str]:
        """Nodes whose key is derived from the stack's seed (an aws hub, spokes with neither `ssh` nor
        `publicKey`) -> the name it is derived from: its first, so a rename keeps its key."""
        return {n.name: n.first_name for n in self.vpn.nodes if n.key_source == "derived"}

    @functools.cached_property
    def preshared_spokes(self) -> dict[str, str]:
        """Spokes whose pair with the hub has a preshared key -> the name it is derived from (its first)."""
        return {s.name: s.first_name for s in self.vpn.preshared_spokes}

    def config_keys(self, name: str) -> tuple[str, ...]:
        """The nodes whose public keys NAME's config names (a spoke's: the hub's alone)."""
        return tuple(p.name for p in AddressPlan(self.vpn, None).plan(name).peers)

    def preshared_peers(self, name: str) -> tuple[str, ...]:
        """The nodes NAME shares a preshared key with."""
        return preshared_peers(self.vpn, name)

    def holds_a_secret(self, name: str) -> bool:
        """Whether NAME's config holds a key: a device's own derived key, or its preshared key inline."""
        node = self.vpn.node(name)
        return node.delivery == "file" and (name in self.derived_key_nodes or name in self.preshared_spokes)

    def install_script(self, name: str) -> str:
        """NAME's install script (one per node: its commands share it)."""
        return self._install_scripts[name]

    @functools.cached_property
    def _install_scripts(self) -> dict[str, str]:
        return {n.name: render_install_script(self.vpn, n.name, self.stack) for n in self.vpn.nodes if n.delivery != "file"}

    def command(self, name: str, action: str, argument: str | None = None) -> str:
        """The command line that runs ACTION of NAME's install script over SSH (as its ssh user)."""
        node = self.vpn.node(name)
        script = self.install_script(name)
        return install_command(self.vpn, name, self.stack, action, node.ssh.user, argument, script=script)

    @functools.cached_property
    def gateway(self) -> GatewayPlan | None:
        """The aws hub's plan; None for an ssh hub. Its counts come from the pieces rendered with stand-in
        keys: every key is 44 characters, so each has the length of the real one."""
        hub = self.vpn.hub
        if hub.kind != "aws":
            return None
        script = self.install_script(hub.name)
        slots = status_slots(self.vpn)  # once: it walks every peer
        stand_in = KeyRing(
            public={n.name: STAND_IN_KEY for n in self.vpn.nodes}, preshared={s.name: STAND_IN_KEY for s in self.vpn.spokes}
        )
        psk = render_preshared_keys(self.vpn, hub.name, self.stack, stand_in)
        config = render_wg_quick(self.vpn, hub.name, self.stack, stand_in)
        bundle = render_gateway_bundle(self.vpn, self.stack, config, script, slots, psk, public_key=STAND_IN_KEY)
        return GatewayPlan(
            install_script=script,
            status_chunks=slots,
            bundle_chunks=chunk_count(bundle),
            preshared_key_chunks=0 if psk is None else chunk_count(psk),
        )

    @functools.cached_property
    def gateway_parameters(self) -> GatewayParameters:
        """Where the aws hub's SSM parameters are: under the stack and its interface, in the stack's region."""
        hub = self.vpn.hub
        if hub.kind != "aws":
            raise ValueError(f"the hub {hub.name} is of kind {hub.kind}: it has no SSM parameters")
        if self.region is None:
            raise ValueError(f"the aws hub {hub.name} needs its region (set aws:region)")
        return gateway_parameters(self.stack, hub.interface, self.region)

    def user_data(self, bundle_key: str) -> str:
        """The aws hub's cloud-init: static, with the public key (BUNDLE_KEY) it checks its bundles with."""
        return render_user_data(self.vpn.hub, self.stack, self.gateway_parameters, bundle_key)

    # --- from the keys -------------------------------------------------------------------------------

    def config(self, name: str, keys: KeyRing, hub_endpoint: str | None = None) -> str:
        """NAME's wg-quick config (a spoke's dials HUB_ENDPOINT when the stack names none)."""
        return render_wg_quick(self.vpn, name, self.stack, keys, hub_endpoint)

    def configs(self, names: list[str], keys: KeyRing, hub_endpoint: str | None = None) -> dict[str, str]:
        """The configs of NAMES, at once (the Pulumi program renders a thousand peers in one step)."""
        return {name: self.config(name, keys, hub_endpoint) for name in names}

    def preshared_keys(self, name: str, keys: KeyRing) -> str | None:
        """A managed node's preshared-key store (the install script reads it); None for a device (its key
        is inline in its config) or a node without one."""
        if self.vpn.node(name).delivery == "file":
            return None
        return render_preshared_keys(self.vpn, name, self.stack, keys)

    def bundle(self, config: str, preshared_keys: str | None, public_key: str) -> str:
        """The aws hub's bundle, from its CONFIG, its PRESHARED_KEYS text and its PUBLIC_KEY."""
        assert self.gateway is not None
        script, slots = self.gateway.install_script, self.gateway.status_chunks
        return render_gateway_bundle(self.vpn, self.stack, config, script, slots, preshared_keys, public_key=public_key)

    def manifest(self, bundle: str, serial: int, key: SigningKey) -> str:
        """Which BUNDLE the aws hub applies (its chunks, hash and SERIAL), signed with the stack's KEY."""
        assert self.gateway is not None
        return signed_manifest(bundle, self.gateway.bundle_chunks, serial, self.stack, self.vpn.hub.interface, key)

    def files(
        self,
        name: str,
        keys: KeyRing,
        hub_endpoint: str | None = None,
        bundle_key: SigningKey | None = None,
        serial: int | None = None,
        codes: bool = False,
    ) -> list[HostFile]:
        """All of NAME's files, as `wgsites render` writes them. An aws hub's need the key that signs its
        bundle; its manifest's SERIAL is the time now unless given. With CODES, a phone or laptop holding its
        own key gets its QR code beside its config (none for one that brings its own key: the apps refuse a
        config without one, and a scanned code cannot be edited first)."""
        node = self.vpn.node(name)
        iface = node.interface
        config = self.config(name, keys, hub_endpoint)
        files = [HostFile(f"{iface}.conf", config, 0o600)]
        if name in keys.private:
            files.append(HostFile(f"{iface}.key", keys.private[name] + "\n", 0o600))
        store = self.preshared_keys(name, keys)
        if store:
            files.append(HostFile(f"{iface}.psk", store, 0o600))  # the install script's preshared-keys reads it
        if node.delivery != "file":  # installed by the install script (over SSH, or by the aws gateway's sync)
            files.append(HostFile("install.sh", self.install_script(name), 0o755))
            if sysctl := render_sysctl(self.vpn, name, self.stack):
                files.append(HostFile(f"70-wgsites-{iface}.conf", sysctl))
            if nft := render_nftables(self.vpn, name, self.stack):
                files.append(HostFile(f"{iface}.nft", nft, 0o600))
        if name == self.vpn.hub.name and self.vpn.hub.kind == "aws":
            if self.region is None or bundle_key is None:
                raise ValueError(f"the aws hub {name} needs its region (set aws:region) and a bundle signing key")
            files.append(HostFile("user-data.yaml", self.user_data(verify_key_text(bundle_key))))
            bundle = self.bundle(config, store, keys.public[name])
            files.append(HostFile("bundle.json", bundle, 0o600))
            serial = int(time.time()) if serial is None else serial
            files.append(HostFile("bundle-manifest.json", self.manifest(bundle, serial, bundle_key)))
        if codes and node.is_device and node.key_source == "derived":
            code = qr_code(config)  # it holds the config, key included: 0600 like it
            files += [HostFile(f"{iface}.png", code.png(), 0o600), HostFile(f"{iface}.qr.txt", code.text(), 0o600)]
        return files
