"""A stack's world in namespaces: an internet, NAT boxes, LANs with hosts, a management network.

    web .80      resolver .251      cloud .250 (SSM API)      operator .99 --- mgmt bridge (a free /24)
       |          (stacks with dns)   (aws hub only)            |               |  .1 operator, .11.. hosts
       |               |                 |                      |               |
    ===+===============+=================+======================+====  internet: br0 203.0.113.254/24
       |                        |                          |             (TEST-NET-3; routes nowhere)
    hub .1 (its WAN)        site .10+i (endpoint)      nat-NAME .50+i (wan0): a café, home router, CGNAT
       |  lanN bridges         |  lanN bridges           |  lan0: .1 of a free /24, masquerading out of wan0
    LAN host .20 per LAN    LAN host .20 per LAN        NAME (wan0 .2): a laptop, phone, a site behind NAT
                                                           |  lanN bridges (a site)
    proxyArp hub: homerouter .1 (wan0) DNATs the          LAN host .20 per LAN
    WireGuard port to the hub on its LAN

    every SSH-managed node: mgmt0 on the mgmt bridge, sshd there (what `pulumi up` reaches)

Why: the checks must see what a user sees: a laptop behind a café NAT, a home
router behind CGNAT with no inbound endpoint, a NAS on a LAN that knows
nothing of WireGuard. Addresses come from the named pools of `addresses`.

The stack's own addresses (VPN, LANs) are used as written; only what cannot
exist here is rewritten: public endpoints become lab addresses, SSH targets
addresses on the management network, public DNS servers the lab resolver, and
a bring-your-own-key device's public key one the lab holds the private half of
(the lab plays that device). A hub endpoint written as an IPv6 address is dialled
over IPv6 (2001:db8::/64, cafés with IPv6); a spoke's is played over IPv4 at its IPv6
path's MTU. A non-root SSH login gets its user and a sudo rule on the node. Each rewrite
is kept so the table can say so.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from wgsites.stack.addressing import AddressPlan, dialled_over_ipv6
from wgsites.stack.keys import generate_private_key, public_key_of
from wgsites.stack.model import SshTarget, Vpn
from wgsites.stack.resolver import serves_dns

from .addresses import (
    CAFE6_INSIDE,
    CAFE6_WAN,
    CLOUD_API,
    HUB6,
    HUB_PUBLIC,
    INTERNET,
    INTERNET6,
    INTERNET_GATEWAY,
    INTERNET_MORE,
    INTERNET_MORE_GATEWAY,
    MANAGEMENT_POOLS,
    OPERATOR_PUBLIC,
    PUBLIC6,
    RESOLVER,
    WEB,
    FreeBlocks,
    LabSetupError,
    host,
    inside,
    nat_box_public,
    on_the_internet,
    spoke_public,
    stack_networks,
)
from .netns import Lab, Node, inotify_instances_free
from .services import generate_ssh_keypair, start_dns_responder, start_sshd, start_web_logger

LAN_HOST = 20  # the one host on every LAN: its number in the LAN
FIRST_MANAGED = 11  # managed hosts on the management network: .11, .12, ...
HOST_RESOLVER = Path("/etc/resolv.conf")


@dataclass
class LanHost:
    """A host on a LAN behind a gateway (a NAS): no WireGuard, default route to its gateway."""

    node: Node
    address: str
    web_log: Path  # the web logger on port 80 records who reached it
    owner: str  # the VPN node whose LAN it is on
    gateway: str = ""  # its LAN's gateway address (the first hop of anything it sends out)


class _Wiring:
    """Counters for interface names, which must be unique per namespace and short."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.count = 0

    def link(self, a: Node, a_if: str, b: Node, b_if: str | None = None) -> str:
        self.count += 1
        b_if = b_if or f"v{self.count}"
        self.lab.link(a, a_if, b, b_if)
        return b_if


@dataclass
class World:
    lab: Lab
    stack: str
    vpn: Vpn  # endpoints, SSH targets, DNS servers and own keys rewritten to the lab
    nodes: dict[str, Node]  # VPN node name -> its lab node
    public: dict[str, str] = field(default_factory=dict)  # VPN node -> address the internet sees
    wan: dict[str, tuple[str, str]] = field(default_factory=dict)  # node -> (WAN interface, address/prefix)
    nat: dict[str, Node] = field(default_factory=dict)  # VPN node -> the NAT box in front of it
    lan_hosts: list[LanHost] = field(default_factory=list)
    web: Node | None = None
    web_log: Path | None = None
    operator: Node | None = None
    ssh_key: Path | None = None
    ssh_public_key: str = ""
    cloud: Node | None = None
    resolver: Node | None = None
    resolver_log: Path | None = None  # one line per query: the source address the resolver saw
    wiring: _Wiring | None = None  # keeps interface names unique for nodes added later
    free: FreeBlocks = field(default_factory=lambda: FreeBlocks([]))  # private /24s the stack leaves free
    mgmt: IPv4Network | None = None  # the management network
    dns_rewrites: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)  # node -> (stack's, lab's)
    own_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # BYO device -> (stack's public key, lab's private)
    # node -> (stack's IPv6 endpoint, lab's IPv4 one, the stack's tunnel MTU): an IPv6 endpoint played over IPv4
    ipv6_endpoints: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    # a hub dialled over IPv6: every spoke's IPv6 address on the lab internet (what the hub sees), and its café's
    hub_over_ipv6: bool = False
    public6: dict[str, str] = field(default_factory=dict)
    cafe6: dict[str, tuple[str, str]] = field(default_factory=dict)  # spoke behind NAT -> (its box's WAN, its own address)
    host_resolver: str = ""  # this machine's /etc/resolv.conf when the world was built (it must stay so)
    # signs an aws hub's bundles, as the program's key derived from the stack's seed does
    bundle_key: SigningKey = field(default_factory=SigningKey.generate)

    def hosts_of(self, owner: str) -> list[LanHost]:
        return [h for h in self.lan_hosts if h.owner == owner]


def _nat_box(world: World, wiring: _Wiring, inet: Node, name: str, public: str) -> Node:
    """A home/café/CGNAT router: masquerades its inside network out of wan0."""
    box = world.lab.node(name)
    bridge_port = wiring.link(box, "wan0", inet)
    inet.run(["ip", "link", "set", bridge_port, "master", "br0"])
    network, gateway = on_the_internet(public)
    box.add_address("wan0", f"{public}/{network.prefixlen}")
    box.add_route("default", via=gateway)
    box.sysctl("net.ipv4.ip_forward", 1)
    box.run(
        "nft -f - <<'EOF'\n"
        "table ip labnat {\n"
        '  chain post { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }\n'
        "}\nEOF"
    )
    return box


def _attach_public(world: World, wiring: _Wiring, inet: Node, node: Node, ifname: str, address: str) -> None:
    port = wiring.link(node, ifname, inet)
    inet.run(["ip", "link", "set", port, "master", "br0"])
    node.add_address(ifname, f"{address}/{INTERNET.prefixlen}")
    node.add_route("default", via=INTERNET_GATEWAY)


def _behind_nat(world: World, wiring: _Wiring, inet: Node, node: Node, name: str, public: str) -> None:
    lan = world.free.take()
    box = _nat_box(world, wiring, inet, f"nat-{name}"[:20], public)
    wiring.link(node, "wan0", box, "lan0")
    gateway, address = host(lan, 1), f"{host(lan, 2)}/{lan.prefixlen}"
    box.add_address("lan0", f"{gateway}/{lan.prefixlen}")
    node.add_address("wan0", address)
    node.add_route("default", via=gateway)
    world.nat[name] = box
    world.wan[name] = ("wan0", address)


def _lan(world: World, wiring: _Wiring, gateway: Node, owner: str, lan: IPv4Network, index: int) -> str:
    """A bridge on `gateway` (the LAN's first address) with one host at the LAN's LAN_HOST."""
    bridge = f"lan{index}"
    gateway.run(["ip", "link", "add", bridge, "type", "bridge"])
    gateway.set_up(bridge)
    gw_addr = host(lan, 1)
    gateway.add_address(bridge, f"{gw_addr}/{lan.prefixlen}")
    node = world.lab.node(f"{owner}-h{index}{LAN_HOST}"[:20])
    port = wiring.link(node, "eth0", gateway)
    gateway.run(["ip", "link", "set", port, "master", bridge])
    address = host(lan, LAN_HOST)
    node.add_address("eth0", f"{address}/{lan.prefixlen}")
    node.add_route("default", via=gw_addr)
    log = start_web_logger(node, address, 80)
    world.lan_hosts.append(LanHost(node, address, log, owner, gw_addr))
    return bridge


def play_own_key_devices(vpn: Vpn) -> tuple[Vpn, dict[str, tuple[str, str]]]:
    """A bring-your-own-key device holds a key the lab cannot know: the lab plays the device with a key of its own.

    Only the lab's copy of the stack changes (its public key); the private half is pasted
    where the device's config says, as its user would.
    """
    played: dict[str, tuple[str, str]] = {}
    spokes = []
    for spoke in vpn.spokes:
        if spoke.key_source == "own" and spoke.public_key:
            private = generate_private_key()
            played[spoke.name] = (spoke.public_key, private)
            spoke = dataclasses.replace(spoke, public_key=public_key_of(private))
        spokes.append(spoke)
    return dataclasses.replace(vpn, spokes=tuple(spokes)), played


def lab_dns(vpn: Vpn) -> tuple[Vpn, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]]:
    """A spoke's DNS servers outside the stack's own networks (9.9.9.9, a provider's) become the lab resolver.

    Servers inside a LAN or the VPN network are kept: they are the stack's own.
    """
    own = stack_networks(vpn)
    rewrites = {}
    spokes = []
    for spoke in vpn.spokes:
        if spoke.dns:
            kept = set(inside(spoke.dns, own))
            new = tuple(dict.fromkeys(s if s in kept else RESOLVER for s in spoke.dns))
            if new != spoke.dns:
                rewrites[spoke.name] = (spoke.dns, new)
                spoke = dataclasses.replace(spoke, dns=new)
        spokes.append(spoke)
    return dataclasses.replace(vpn, spokes=tuple(spokes)), rewrites


def host_resolver_fingerprint() -> str:
    """This machine's resolver configuration, to prove the lab left it alone."""
    try:
        data = HOST_RESOLVER.read_bytes()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    return hashlib.sha256(data).hexdigest()[:16] + ("; /run/resolvconf exists" if Path("/run/resolvconf").exists() else "")


def build_world(lab: Lab, stack: str, vpn: Vpn, run_dir: Path) -> World:
    """Create every namespace of the stack's world and rewrite the stack to fit it."""
    free, limit = inotify_instances_free()
    if len(vpn.nodes) > free:
        raise LabSetupError(
            f"this stack runs {len(vpn.nodes)} wireguard-go processes and each holds an inotify instance: this machine "
            f"has {free} of {limit} free (fs.inotify.max_user_instances); raise it first, e.g. "
            f"sysctl -w fs.inotify.max_user_instances={max(1024, 2 * limit)}"
        )
    vpn, own_keys = play_own_key_devices(vpn)
    vpn, dns_rewrites = lab_dns(vpn)
    world = World(lab=lab, stack=stack, vpn=vpn, nodes={}, own_keys=own_keys, dns_rewrites=dns_rewrites)
    world.free = FreeBlocks(stack_networks(vpn))
    world.host_resolver = host_resolver_fingerprint()
    wiring = world.wiring = _Wiring(lab)

    inet = lab.node("internet")
    inet.run(["ip", "link", "add", "br0", "type", "bridge"])
    inet.set_up("br0")
    inet.add_address("br0", f"{INTERNET_GATEWAY}/{INTERNET.prefixlen}")
    inet.add_address("br0", f"{INTERNET_MORE_GATEWAY}/{INTERNET_MORE.prefixlen}")  # NAT boxes past the 30th
    inet.sysctl("net.ipv4.ip_forward", 1)  # between the two on one bridge; without redirects, which would spend
    # the ICMP rate limit per host that the checks' rejects and traceroutes need
    for scope in ("all", "br0"):
        inet.sysctl(f"net.ipv4.conf.{scope}.send_redirects", 0)

    world.web = lab.node("web")
    _attach_public(world, wiring, inet, world.web, "eth0", WEB)
    world.web_log = start_web_logger(world.web, WEB, 80)

    if any(RESOLVER in s.dns for s in vpn.spokes) or serves_dns(vpn):  # the hub's resolver forwards to it too
        world.resolver = lab.node("resolver")
        _attach_public(world, wiring, inet, world.resolver, "eth0", RESOLVER)
        world.resolver_log = start_dns_responder(world.resolver, RESOLVER)

    world.operator = operator = lab.node("operator")
    _attach_public(world, wiring, inet, operator, "eth0", OPERATOR_PUBLIC)
    mgmt = world.mgmt = world.free.take(MANAGEMENT_POOLS)
    operator.run(["ip", "link", "add", "mgmt", "type", "bridge"])
    operator.set_up("mgmt")
    operator.add_address("mgmt", f"{host(mgmt, 1)}/{mgmt.prefixlen}")
    world.ssh_key, world.ssh_public_key = generate_ssh_keypair(run_dir)

    if vpn.hub.kind == "aws":
        world.cloud = lab.node("cloud")
        _attach_public(world, wiring, inet, world.cloud, "eth0", CLOUD_API)

    hub, rewritten_spokes = vpn.hub, []
    ssh_index = 0

    def manage(name: str, node: Node, target: SshTarget | None) -> SshTarget | None:
        nonlocal ssh_index
        if target is None:
            return None
        address = manage_node(world, node, FIRST_MANAGED + ssh_index)
        ssh_index += 1
        if target.user != "root":
            add_sudo_user(node, target.user)
        start_sshd(node, world.ssh_public_key, address, 22)
        return dataclasses.replace(target, host=address, port=22)

    # the hub
    hub_node = lab.node(hub.name)
    world.nodes[hub.name] = hub_node
    if hub.proxy_arp:
        # guide: the home router forwards the WireGuard port to a LAN host that answers ARP for VPN users
        router = lab.node("homerouter")
        _attach_public(world, wiring, inet, router, "wan0", HUB_PUBLIC)
        router.sysctl("net.ipv4.ip_forward", 1)
        lan = hub.lans[0]
        bridge = _lan(world, wiring, router, hub.name, lan, 0)
        port = wiring.link(hub_node, "eth0", router)
        router.run(["ip", "link", "set", port, "master", bridge])
        hub_node.add_address("eth0", f"{hub.address}/{lan.prefixlen}")
        hub_node.add_route("default", via=host(lan, 1))
        router.run(
            "nft -f - <<'EOF'\n"
            "table ip labnat {\n"
            f'  chain pre {{ type nat hook prerouting priority dstnat; iifname "wan0" udp dport {hub.listen_port} '
            f"dnat to {hub.address}; }}\n"
            '  chain post { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }\n'
            "}\nEOF"
        )
        world.nat[hub.name] = router
        world.wan[hub.name] = ("eth0", f"{hub.address}/{lan.prefixlen}")
    else:
        wan_if = hub.masquerade if isinstance(hub.masquerade, str) else "wan0"
        _attach_public(world, wiring, inet, hub_node, wan_if, HUB_PUBLIC)
        world.wan[hub.name] = (wan_if, f"{HUB_PUBLIC}/{INTERNET.prefixlen}")
        for i, lan in enumerate(hub.lans):
            _lan(world, wiring, hub_node, hub.name, lan, i)
    world.public[hub.name] = HUB_PUBLIC
    if serves_dns(vpn):  # the resolvers the hub itself uses, which its resolver forwards other names to
        # the node's /etc is an overlay of its own (lab/netns.py), as the lab's resolvconf writes it
        hub_node.run(["sh", "-c", f"echo 'nameserver {RESOLVER}' >/etc/resolv.conf"])
    # a hub endpoint written as an IPv6 address is dialled over IPv6: the lab internet's 2001:db8::/64, the hub at
    # HUB6, each spoke on it or behind a café with IPv6 (a home router's outer packets go as the stack says)
    over6 = world.hub_over_ipv6 = dialled_over_ipv6(hub) and not hub.proxy_arp
    if over6:
        hub_node.run(["ip", "-6", "address", "replace", f"{HUB6}/{INTERNET6.prefixlen}", "dev", world.wan[hub.name][0], "nodad"])
    stack_mtus = {name: plan.mtu for name, plan in AddressPlan(vpn).plans().items()}

    def played(node, endpoint: str):
        """NODE at its lab ENDPOINT (IPv4): an IPv6 endpoint keeps its outer family for the MTU (uplink.ipv6), and
        the rewrite is kept for its row (the lab's internet is IPv4; test_ipv6_transport runs a tunnel over IPv6)."""
        if dialled_over_ipv6(node):
            world.ipv6_endpoints[node.name] = (node.endpoint, endpoint, stack_mtus[node.name])
            return dataclasses.replace(node, endpoint=endpoint, uplink=dataclasses.replace(node.uplink, ipv6=True))
        return dataclasses.replace(node, endpoint=endpoint)

    if over6:
        hub = dataclasses.replace(hub, endpoint=f"[{HUB6}]:{hub.listen_port}")
    else:
        hub = played(hub, f"{HUB_PUBLIC}:{hub.listen_port}")
    hub = dataclasses.replace(hub, ssh=manage(hub.name, hub_node, hub.ssh))

    # the spokes: public when they have an endpoint, else behind a NAT box of their own
    for i, spoke in enumerate(vpn.spokes):
        if spoke.endpoint:
            node = world.nodes[spoke.name] = lab.node(spoke.name)
            public = world.public[spoke.name] = spoke_public(i)
            _attach_public(world, wiring, inet, node, "wan0", public)
            world.wan[spoke.name] = ("wan0", f"{public}/{INTERNET.prefixlen}")
            spoke = played(spoke, f"{public}:{spoke.listen_port}")
            if over6:
                address6 = world.public6[spoke.name] = str(INTERNET6.network_address + PUBLIC6 + i)
                node.run(["ip", "-6", "address", "add", f"{address6}/{INTERNET6.prefixlen}", "dev", "wan0", "nodad"])
        else:
            node = add_device(world, spoke.name, nat_box_public(i))
            if over6:
                world.public6[spoke.name] = cafe_ipv6(world, spoke.name, i + 1)[1]
        for j, lan in enumerate(spoke.lans):
            _lan(world, wiring, node, spoke.name, lan, j)
        rewritten_spokes.append(dataclasses.replace(spoke, ssh=manage(spoke.name, node, spoke.ssh)))

    world.vpn = dataclasses.replace(vpn, hub=hub, spokes=tuple(rewritten_spokes))
    for rule in vpn.forward_rules:  # something must listen for a forward rule to refuse
        if rule.protocol == "tcp":
            for lan_host in world.lan_hosts:
                start_web_logger(lan_host.node, lan_host.address, rule.port)
    return world


def manage_node(world: World, node: Node, number: int) -> str:
    """Put NODE on the management network as host NUMBER; returns its address there (its SSH target)."""
    assert world.wiring is not None and world.operator is not None and world.mgmt is not None
    port = world.wiring.link(node, "mgmt0", world.operator)
    world.operator.run(["ip", "link", "set", port, "master", "mgmt"])
    address = host(world.mgmt, number)
    node.add_address("mgmt0", f"{address}/{world.mgmt.prefixlen}")
    return address


def add_sudo_user(node: Node, user: str) -> None:
    """A non-root login as the README allows one (`ssh.user`): the user, and passwordless sudo for it, so the
    install script runs as it would there (`sudo -n`). Written in the node's own /etc (an overlay).

    The password is `*` (no password, not a locked account: sshd refuses a locked one even its key)."""
    if node.run(["id", "-u", user], check=False).returncode != 0:
        node.run(["useradd", "--no-create-home", "--home-dir", "/", "--shell", "/bin/sh", "--password", "*", user])
    node.run(
        ["install", "-D", "-m", "0440", "/dev/stdin", f"/etc/sudoers.d/lab-{user}"], input=f"{user} ALL=(root) NOPASSWD: ALL\n"
    )


def move_nat_wan(box: Node, old: str, new: str) -> None:
    """The NAT box's uplink gets a new public address (an ISP's reconnect; a laptop that changes café)."""
    box.run(
        f"ip addr del {old}/{INTERNET.prefixlen} dev wan0 && ip addr add {new}/{INTERNET.prefixlen} dev wan0"
        f" && ip route replace default via {INTERNET_GATEWAY}"
    )


def cafe_ipv6(world: World, name: str, index: int) -> tuple[str, str]:
    """IPv6 for the NAT box in front of NAME (café number INDEX): its WAN on the lab internet, a /64 inside with
    forwarding, NAME's own address and default route there, and, for a hub dialled over IPv6, its route to that /64.
    Once per box: returns (the box's WAN, NAME's address), the ones given before if any."""
    if name in world.cafe6:
        return world.cafe6[name]
    box, node = world.nat[name], world.nodes[name]
    wan = str(INTERNET6.network_address + CAFE6_WAN + index)
    inside = IPv6Network(CAFE6_INSIDE.format(index=index))
    gateway, address = str(inside.network_address + 1), str(inside.network_address + 2)
    box.run(["ip", "-6", "address", "add", f"{wan}/{INTERNET6.prefixlen}", "dev", "wan0", "nodad"])
    box.run(["ip", "-6", "address", "add", f"{gateway}/{inside.prefixlen}", "dev", "lan0", "nodad"])
    box.sysctl("net.ipv6.conf.all.forwarding", 1)
    node.run(["ip", "-6", "address", "add", f"{address}/{inside.prefixlen}", "dev", "wan0", "nodad"])
    node.run(["ip", "-6", "route", "add", "default", "via", gateway, "dev", "wan0"])
    if world.hub_over_ipv6:
        world.nodes[world.vpn.hub.name].run(["ip", "-6", "route", "replace", str(inside), "via", wan])
    world.cafe6[name] = (wan, address)
    return wan, address


def add_device(world: World, name: str, public: str) -> Node:
    """A node behind a NAT box of its own (WAN address PUBLIC, inside a /24 the stack leaves free)."""
    assert world.wiring is not None
    node = world.nodes[name] = world.lab.node(name)
    world.public[name] = public
    _behind_nat(world, world.wiring, world.lab.nodes["internet"], node, name, public)
    return node


def lab_rewrite(raw: dict[str, Any], lab_vpn: Vpn) -> dict[str, Any]:
    """The stack's own object with endpoints and SSH targets replaced by the lab's."""
    raw = copy.deepcopy(raw)
    hub = lab_vpn.hub
    raw["hub"]["endpoint"] = hub.endpoint
    if hub.ssh:
        raw["hub"]["ssh"] = {"host": hub.ssh.host, "port": hub.ssh.port, "user": hub.ssh.user}
    for key in ("sites", "peers"):
        for item in raw.get(key) or []:
            spoke = lab_vpn.node(item["name"])
            if spoke.endpoint:
                item["endpoint"] = spoke.endpoint
            if spoke.ssh:
                item["ssh"] = {"host": spoke.ssh.host, "port": spoke.ssh.port, "user": spoke.ssh.user}
            if "publicKey" in item and getattr(spoke, "public_key", None):  # the lab plays the device
                item["publicKey"] = spoke.public_key
            if "dns" in item:  # the lab resolver
                item["dns"] = list(getattr(spoke, "dns", ()))
    return raw
