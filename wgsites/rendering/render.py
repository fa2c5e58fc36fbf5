"""Every file a host receives, from Jinja2 templates and the address plan.

Nothing here knows about Pulumi: the Pulumi layer and the lab call these
functions with the keys and endpoints they have and pass the text on as is.
"""

from __future__ import annotations

import base64
import gzip
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from nacl.signing import SigningKey

from wgsites.stack.addressing import AddressPlan
from wgsites.stack.keys import is_valid_key, sign_text
from wgsites.stack.model import Hub, Spoke, Vpn
from wgsites.stack.names import nft_table
from wgsites.stack.plaintext import unsafe_character
from wgsites.stack.resolver import config_names, listen_addresses, peer_dns, reverse_zones

from . import metrics
from .access_firewall import enforces_policy, firewall_policy, routed
from .bundle import (
    GatewayParameters,
    bundle_text,
    chunk_count,
    digest,
    manifest,
    manifest_fields,
    signed_text,
)
from .gateway_programs import agent_source, bootstrap_source
from .status_slots import status_slots

TEMPLATES = Path(__file__).parent / "templates"  # gateway/: the aws hub's user data, its bootstrap and its sync agent


class UnsafeValueError(ValueError):
    """A value about to be rendered holds a line break or control character (see wgsites.stack.plaintext)."""


class Trusted(str):
    """Text wgsites itself made (a rendered template, a file it ships): it may span lines."""


def _one_line(value: object) -> object:
    """Jinja's finalize: every `{{ value }}` of every template passes here, so no field is forgotten."""
    if isinstance(value, Trusted):
        return value
    code = unsafe_character(str(value))
    if code is not None:
        raise UnsafeValueError(f"refusing to render {str(value)[:80]!r}: it holds {code}, a line break or control character")
    return value


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - config files and shell, not HTML
    finalize=_one_line,
)


def _render(template: str, **context: object) -> Trusted:
    return Trusted(_env.get_template(template).render(**context))


def gzip_base64(text: str) -> str:
    """cloud-init's `encoding: gz+b64`; mtime=0 keeps it byte-stable, so user data never drifts."""
    return base64.b64encode(gzip.compress(text.encode(), compresslevel=9, mtime=0)).decode()


_env.filters["gzip_base64"] = gzip_base64

INSTALL_PATH = "/usr/local/sbin/wgsites-install-{interface}"
# How long the install script lets one systemctl call run (wg-quick@'s start retries an Endpoint
# name that does not resolve forever). A rendered value, not an environment variable: the script
# runs as root, and nothing from the caller's environment may change what it does.
SYSTEMCTL_SECONDS = 60
STAND_IN_KEY = "ccoBvlR+TqgVW9QgONvVmH5ErbYYrvDfk4OeTFdNgUU="  # a valid public key of 44 characters, for lengths
# The end of the first line of every config wgsites renders: how it knows a file is its own.
RENDERED_MARK = "Rendered by wgsites; edits are overwritten."
# The last line of every config wgsites renders: a config cut short on its way (a dropped SSH
# session while stdin was arriving) lacks it, and the install script refuses it.
RENDERED_END = "# end of the wgsites config"


def is_rendered_by_wgsites(text: str) -> bool:
    """Whether TEXT (a file's content) is a config wgsites rendered, so wgsites may replace or remove it."""
    first = text.split("\n", 1)[0]
    return first.startswith("# ") and first.endswith(RENDERED_MARK)


@dataclass(frozen=True)
class KeyRing:
    """Public keys of every node; private keys only where this process holds them.

    Hosts managed over SSH have no entry in `private`: their keys never leave them.
    """

    public: Mapping[str, str]
    private: Mapping[str, str] = field(default_factory=dict)
    # preshared keys, by the spoke of each hub-spoke pair: inline only in a device's config; a managed
    # host receives its own apart from its config (render_preshared_keys)
    preshared: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hook:
    """A wg-quick hook line wgsites writes: wg-quick runs it as root, so these are the only ones there are."""

    key: str  # PostUp, PreDown
    command: str

    def __str__(self) -> str:
        return f"{self.key} = {self.command}"


def key_hook() -> Hook:
    """A managed node's key stays in its own 0600 file, never in the config."""
    return Hook("PostUp", "wg set %i private-key /etc/wireguard/%i.key")


PRESHARED_KEYS_PATH = "/etc/wireguard/{interface}.psk"  # `PUBLICKEY PRESHAREDKEY` lines, 0600


def preshared_key_hook() -> Hook:
    """A managed node's preshared keys stay in their own 0600 file (delivered apart from the config, as a
    secret), loaded at `wg-quick up` through a pipe: no key in the config, none on a command line."""
    store = PRESHARED_KEYS_PATH.format(interface="%i")
    return Hook(
        "PostUp",
        f'test ! -f {store} || while read -r p k; do wg set %i peer "$p" preshared-key <(echo "$k"); done <{store}',
    )


def firewall_hooks(interface: str) -> tuple[Hook, Hook]:
    """Load the node's nftables table with the interface, remove it with it."""
    return Hook("PostUp", "nft -f /etc/wireguard/%i.nft"), Hook("PreDown", f"nft delete table inet {nft_table(interface)}")


def allowed_hooks(interface: str) -> tuple[Hook, ...]:
    """Every hook a config wgsites renders for INTERFACE may hold: the install script accepts no other."""
    return (key_hook(), preshared_key_hook(), *firewall_hooks(interface))


def forward_rules_of(vpn: Vpn, name: str) -> tuple:
    """The forward rules NAME enforces: the hub's, and a site's that wgsites installs or wg-quick brings up.

    A device (a phone app) runs no hooks, so it gets none: forward rules apply where wgsites
    installs the config, or where wg-quick brings it up (a site configured by hand).
    """
    node = vpn.node(name)
    gateway = name == vpn.hub.name or (bool(node.lans) and node.delivery != "file")
    return vpn.forward_rules if gateway else ()


def has_firewall(vpn: Vpn, name: str) -> bool:
    """Whether NAME gets an nftables file (render_nftables is not None), decided without rendering it."""
    masquerade = name == vpn.hub.name and bool(vpn.hub.masquerade)  # only the hub's plan masquerades
    return masquerade or bool(forward_rules_of(vpn, name)) or _filters_ipv6(vpn, name) or enforces_policy(vpn, name)


def _filters_ipv6(vpn: Vpn, name: str) -> bool:
    """The hub of a dual-stack VPN filters the tunnel's IPv6. Without IPv6 egress it rejects what is bound
    outside network6: a full-tunnel peer's IPv6 is blocked there, not sent out with an address the internet
    cannot answer (nor leaked beside). With egress it routes network6 to the internet, so from outside the
    tunnel only replies come in (IPv6 has no NAT to hide the devices behind, even a ULA is one route away
    on the hub's own link)."""
    return name == vpn.hub.name and vpn.network6 is not None


def render_nftables(vpn: Vpn, name: str, stack: str) -> str | None:
    """Masquerade (hub) and the guide's forward rules (hub and sites), or None if neither applies."""
    if not has_firewall(vpn, name):
        return None
    plan = AddressPlan(vpn).plan(name)
    rules = forward_rules_of(vpn, name)
    return _render(
        "nftables.nft.j2",
        name=name,
        stack=stack,
        interface=plan.interface,
        table=nft_table(plan.interface),
        network=vpn.network,
        routed=routed(vpn, 4),
        masquerade=plan.masquerade,
        forward_rules=rules,
        network6=vpn.network6,
        masquerade6=plan.masquerade if vpn.hub.ipv6_egress and vpn.network6 else False,
        block6=_filters_ipv6(vpn, name) and not vpn.hub.ipv6_egress,
        guard6=_filters_ipv6(vpn, name) and vpn.hub.ipv6_egress,
        access=firewall_policy(vpn, name),
    )


def render_sysctl(vpn: Vpn, name: str, stack: str) -> str | None:
    plan = AddressPlan(vpn).plan(name)
    if not (plan.forwarding or plan.proxy_arp):
        return None
    forwarding6 = plan.forwarding and name == vpn.hub.name and vpn.network6 is not None
    hub_routes = plan.forwarding and name == vpn.hub.name
    return _render(
        "sysctl.conf.j2",
        name=name,
        stack=stack,
        interface=plan.interface,
        forwarding=plan.forwarding,
        proxy_arp=plan.proxy_arp,
        forwarding6=forwarding6,
        accept_ra=_accept_ra_uplink(vpn, name),
        no_redirects=_sysctl_name(plan.interface) if hub_routes else None,
    )


def _sysctl_name(interface: str) -> str:
    """An interface as sysctl names it: a VLAN eth0.7 is eth0/7 (a dot separates sysctl's levels)."""
    return interface.replace(".", "/")


def _accept_ra_uplink(vpn: Vpn, name: str) -> str | None:
    """The hub's uplink as sysctl names it (a VLAN eth0.7 is eth0/7), when it must keep taking router
    advertisements: a forwarding host ignores them (accept_ra 1), and with ipv6Egress its IPv6 default
    route comes from them; only a named masquerade interface is known."""
    hub = vpn.hub
    if name != hub.name or vpn.network6 is None or not (hub.forwarding and hub.ipv6_egress):
        return None
    return _sysctl_name(hub.masquerade) if isinstance(hub.masquerade, str) else None


def remembered_sysctls(vpn: Vpn, name: str) -> tuple[str, ...]:
    """The sysctls the install script records before its first change, so `remove` puts them back."""
    uplink = _accept_ra_uplink(vpn, name)
    base = (
        "net.ipv4.ip_forward",
        "net.ipv4.conf.all.proxy_arp",
        "net.ipv4.conf.all.send_redirects",  # the tunnel's own goes with the tunnel
        "net.ipv6.conf.all.forwarding",
    )
    return (*base, f"net.ipv6.conf.{uplink}.accept_ra") if uplink else base


RESOLVER_PATHS = {  # the hub's resolver files: names and addresses only, readable by dnsmasq after it drops root
    part: f"/etc/wgsites/dns-{{interface}}.{part}" for part in ("conf", "servers", "hosts")
}


def resolver_paths(interface: str) -> dict[str, str]:
    """The resolver's files of INTERFACE, by part (conf, servers, hosts)."""
    return {part: path.format(interface=interface) for part, path in RESOLVER_PATHS.items()}


@dataclass(frozen=True)
class ResolverFiles:
    """The hub's dnsmasq files in its install script: its config (a change restarts it) and its servers (a change
    reloads it). Its hosts file is made on the hub from the `# name` lines of the hub's config (render_wg_quick):
    the names change with every node, and the script must not, or the hub's key command would change with it."""

    conf: str
    servers: str


def render_resolver(vpn: Vpn, name: str, stack: str) -> ResolverFiles | None:
    """The VPN's resolver on the hub (wgsites/resolver.py), or None for any other node or a hub with `dns: false`."""
    if name != vpn.hub.name or vpn.hub.dns is None:
        return None
    interface = vpn.hub.interface
    paths = resolver_paths(interface)
    common = dict(name=name, stack=stack, interface=interface, mark=RENDERED_MARK, forwarders=vpn.hub.dns.forwarders)
    return ResolverFiles(
        conf=_render(
            "dnsmasq.conf.j2",
            **common,
            listen=listen_addresses(vpn),
            hosts_path=paths["hosts"],
            servers_path=paths["servers"],
            pid_path=f"/run/wgsites-dns-{interface}.pid",  # /run itself: there at boot, before any wgsites run
        ),
        servers=_render("dnsmasq-servers.j2", **common, domain=vpn.domain, zones=reverse_zones(vpn)),
    )


def render_wg_quick(
    vpn: Vpn,
    name: str,
    stack: str,
    keys: KeyRing,
    hub_endpoint: str | None = None,
) -> str:
    """The node's wg-quick config.

    A managed node (SSH host, aws hub) gets no PrivateKey line: wg-quick loads
    its 0600 key file in PostUp, so the config is a plain, reviewable diff. A
    roaming peer's config carries its own key, as phone apps need.
    """
    plans = AddressPlan(vpn, hub_endpoint)
    plan = plans.plan(name)
    if any(p.endpoint is None for p in plan.peers) and name != vpn.hub.name:
        raise ValueError(f"the hub {vpn.hub.name} has no endpoint yet: pass the Elastic IP or set wgsites:vpn.hub.endpoint")
    node = vpn.node(name)
    for entry in plan.peers:
        if not is_valid_key(keys.public[entry.name]):
            raise UnsafeValueError(f"the public key of {entry.name} is not a WireGuard key; refusing to render {name}'s config")
    private_key = keys.private.get(name) if node.delivery == "file" else None
    if private_key is not None and not is_valid_key(private_key):
        raise UnsafeValueError(f"the private key of {name} is not a WireGuard key; refusing to render its config")
    # a device's config is imported by the official apps, which refuse any key they do not know
    # (hooks, SaveConfig): it holds its key inline, or, when the user brings their own, a comment
    # saying where to paste it
    # a config delivered as a file (a device, or a site's router you configure yourself) runs no hook: the
    # files a hook would load are installed by no one there
    device = node.delivery == "file"
    hooks = [] if private_key or device else [key_hook()]
    paired = preshared_peers(vpn, name)
    if paired and not device:
        hooks.append(preshared_key_hook())
    preshared = {}
    if device:  # the apps take it inline only; the config is a secret like the key it holds
        for peer in paired:
            value = keys.preshared.get(pair_spoke(vpn, name, peer))
            if value is None or not is_valid_key(value):
                raise UnsafeValueError(f"the preshared key of {name} with {peer} is missing or not a key; refusing to render")
            preshared[peer] = value
    if has_firewall(vpn, name):
        hooks += firewall_hooks(plan.interface)
    peers = [
        {
            "name": entry.name,
            "public_key": keys.public[entry.name],
            "allowed_ips": [str(n) for n in entry.allowed_ips],
            "endpoint": entry.endpoint,
            "keepalive": entry.keepalive,
            "preshared_key": preshared.get(entry.name),
        }
        for entry in plan.peers
    ]
    return _render(
        "wg-quick.conf.j2",
        plan=plan,
        stack=stack,
        private_key=private_key,
        dns=peer_dns(vpn, node) if isinstance(node, Spoke) else (),
        hooks=hooks,
        device=device,
        routes=[str(lan) for lan in node.lans] if device else [],
        mark=RENDERED_MARK,
        end=RENDERED_END,
        peers=peers,
        names=config_names(vpn, {p.name: p.allowed_ips for p in plan.peers}) if name == vpn.hub.name and vpn.hub.dns else (),
    )


def preshared_peers(vpn: Vpn, name: str) -> tuple[str, ...]:
    """The nodes NAME shares a preshared key with: the hub's spokes that have one, or a spoke's hub."""
    if name == vpn.hub.name:
        return tuple(s.name for s in vpn.preshared_spokes)
    return (vpn.hub.name,) if vpn.has_preshared_key(vpn.node(name)) else ()


def pair_spoke(vpn: Vpn, name: str, peer: str) -> str:
    """The spoke of the pair NAME-PEER (one of them is the hub): what its preshared key is filed under."""
    return peer if name == vpn.hub.name else name


def render_preshared_keys(vpn: Vpn, name: str, stack: str, keys: KeyRing) -> str | None:
    """What a managed node's preshared-key store holds (the install script's `preshared-keys` action reads it
    on stdin): one `PUBLICKEY PRESHAREDKEY` line per pair; None when the node has none."""
    peers = preshared_peers(vpn, name)
    if not peers:
        return None
    pairs = []
    for peer in peers:
        public, preshared = keys.public[peer], keys.preshared.get(pair_spoke(vpn, name, peer), "")
        if not is_valid_key(public) or not is_valid_key(preshared):
            raise UnsafeValueError(f"the keys of {name}'s pair with {peer} are not WireGuard keys; refusing to render")
        pairs.append((peer, public, preshared))
    node = vpn.node(name)
    return _render("preshared-keys.j2", name=name, stack=stack, interface=node.interface, pairs=pairs, end=PRESHARED_KEYS_END)


PRESHARED_KEYS_END = "# end of the wgsites preshared keys"


def render_install_script(vpn: Vpn, name: str, stack: str, systemctl_seconds: int = SYSTEMCTL_SECONDS) -> str:
    """The script that installs a config read on stdin (see its header); SYSTEMCTL_SECONDS bounds each
    systemctl call in it (the lab shortens it to keep its tests short)."""
    if type(systemctl_seconds) is not int or not 1 <= systemctl_seconds <= 3600:
        raise ValueError(f"systemctl_seconds: {systemctl_seconds!r} is not a whole number of seconds from 1 to 3600")
    node = vpn.node(name)
    return _render(
        "install.sh.j2",
        name=name,
        stack=stack,
        owner=f"{stack}/{name}",
        interface=node.interface,
        nft_table=nft_table(node.interface),
        allowed_hooks=allowed_hooks(node.interface),
        rendered_end=RENDERED_END,
        preshared_keys_end=PRESHARED_KEYS_END,
        install_path=INSTALL_PATH.format(interface=node.interface),
        nft=render_nftables(vpn, name, stack) or "",
        sysctl=render_sysctl(vpn, name, stack) or "",
        remembered_sysctls=remembered_sysctls(vpn, name),
        systemctl_seconds=systemctl_seconds,
        **metrics_settings(vpn, name),
        resolver=render_resolver(vpn, name, stack),
        resolver_paths=resolver_paths(node.interface),
        domain=vpn.domain,
    )


def metrics_settings(vpn: Vpn, name: str) -> dict:
    """What the install script's `metrics` action (install/metrics.sh.j2) is rendered with: the folder, whether a
    timer of its own runs it (not on an aws hub: its agent does), the families and the always-up peers."""
    return {
        "metrics_dir": vpn.metrics_dir or "",
        "metrics_timer": "no" if name == vpn.hub.name and vpn.hub.kind == "aws" else "yes",
        "families": metrics.HOST_FAMILIES,
        "always_up": metrics.always_up_peers(vpn, name),
        "stale_seconds": metrics.STALE_SECONDS,
    }


def install_command(
    vpn: Vpn,
    name: str,
    stack: str,
    action: str = "install",
    user: str = "root",
    argument: str | None = None,
    systemctl_seconds: int = SYSTEMCTL_SECONDS,
    script: str | None = None,
) -> str:
    """The exact command line a remote.Command (or the lab) runs over SSH.

    The script travels in the command line (no secret in it); the config goes on stdin. SCRIPT is
    render_install_script's, when the caller has it already (one node's commands share it).
    """
    actions = (
        "install",
        "public-key",
        "remove",
        "reresolve",
        "state",
        "repair",
        "preshared-keys",
        "forget-preshared-keys",
        "metrics",
    )
    assert action in actions
    script = script if script is not None else render_install_script(vpn, name, stack, systemctl_seconds)
    command = f"bash -c {shlex.quote(script)} wgsites-install {action}"
    if argument is not None:
        command += f" {shlex.quote(argument)}"
    return command if user == "root" else f"sudo -n {command}"


def render_ssh_read(answer_limit: int, error_limit: int, connect_seconds: int, read_seconds: int) -> str:
    """The drift check's read of one host (wgsites.operations.ssh_read): the same script for every host, run locally."""
    return _render(
        "ssh-read.sh.j2",
        answer_limit=answer_limit,
        error_limit=error_limit,
        connect_seconds=connect_seconds,
        read_seconds=read_seconds,
    )


def render_user_data(hub: Hub, stack: str, parameters: GatewayParameters, bundle_key: str) -> str:
    """cloud-init for the aws hub: packages, the bootstrap, its timer. Static: no peer, no key, no rule,
    no script that changes with a wgsites upgrade (all of that is in the bundle)."""
    return _render(
        "gateway/user-data.yaml.j2",
        stack=stack,
        hub=hub.first_name,  # a rename (aliases) must not change the user data: that would replace the VM
        interface=hub.interface,
        install_path=INSTALL_PATH.format(interface=hub.interface),
        bootstrap=Trusted(bootstrap_source()),
        parameters=parameters,
        bundle_key=bundle_key,  # the public key the bootstrap checks bundles with
    )


def render_gateway_bundle(
    vpn: Vpn,
    stack: str,
    config: str,
    install_script: str | None = None,
    status_chunks: int | None = None,
    preshared_keys: str | None = None,
    *,
    public_key: str,
) -> str:
    """The aws hub's bundle: CONFIG (as render_wg_quick made it), its install script, the sync agent, the period,
    the hub's PUBLIC_KEY (the agent takes only the private key that matches it).

    INSTALL_SCRIPT (render_install_script's for the hub) and STATUS_CHUNKS (status_slots.status_slots')
    when the caller has them already: at a thousand peers each costs a tenth of a second."""
    hub = vpn.hub
    agent = agent_source()
    script = install_script if install_script is not None else render_install_script(vpn, hub.name, stack)
    slots = status_chunks if status_chunks is not None else status_slots(vpn)
    psk = None
    if preshared_peers(vpn, hub.name):  # their count and hash, signed with the rest; the keys go apart
        if preshared_keys is None:
            raise ValueError(f"the aws hub {hub.name} has preshared keys: pass their text (render_preshared_keys)")
        psk = {"chunks": chunk_count(preshared_keys), "sha256": digest(preshared_keys)}
    return bundle_text(config, script, agent, hub.aws.sync_seconds, slots, psk, public_key, vpn.metrics_dir is not None)


def signed_manifest(text: str, count: int, serial: int, stack: str, interface: str, key: SigningKey) -> str:
    """The manifest of the bundle TEXT in COUNT chunks at SERIAL, every field signed with the stack's KEY."""
    fields = manifest_fields(text, count, serial, stack, interface)
    return manifest(fields, sign_text(key, signed_text(fields)))
