"""A stack's world in namespaces: an internet, NAT boxes, LANs with hosts, a management network.

Why: the checks must see what a user sees: a laptop behind a café NAT, a home
router behind CGNAT with no inbound endpoint, a NAS on a LAN that knows
nothing of WireGuard. Public addresses come from 203.0.113.0/24 only, and the
internet is one bridge inside the lab: nothing routes out of it.

The stack's own addresses (VPN, LANs) are used as written; only what cannot
exist here is rewritten: public endpoints become lab addresses and SSH
targets become addresses on the lab's management network.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from wgsites.model import SshTarget, Vpn

from .netns import Lab, Node
from .services import generate_ssh_keypair, start_sshd, start_web_logger

INTERNET = ipaddress.IPv4Network("203.0.113.0/24")
INTERNET_GATEWAY = "203.0.113.254"
WEB = "203.0.113.80"
CLOUD_API = "203.0.113.250"
OPERATOR_PUBLIC = "203.0.113.99"
MGMT = ipaddress.IPv4Network("172.16.0.0/24")


@dataclass
class LanHost:
    """A host on a LAN behind a gateway (a NAS): no WireGuard, default route to its gateway."""

    node: Node
    address: str
    web_log: Path  # the web logger on port 80 records who reached it
    owner: str  # the VPN node whose LAN it is on


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
    vpn: Vpn  # endpoints and SSH targets rewritten to the lab
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
    wiring: _Wiring | None = None  # keeps interface names unique for nodes added later

    def hosts_of(self, owner: str) -> list[LanHost]:
        return [h for h in self.lan_hosts if h.owner == owner]


def _nat_box(world: World, wiring: _Wiring, inet: Node, name: str, public: str) -> Node:
    """A home/café/CGNAT router: masquerades its inside network out of wan0."""
    box = world.lab.node(name)
    bridge_port = wiring.link(box, "wan0", inet)
    inet.run(["ip", "link", "set", bridge_port, "master", "br0"])
    box.add_address("wan0", f"{public}/24")
    box.add_route("default", via=INTERNET_GATEWAY)
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
    node.add_address(ifname, f"{address}/24")
    node.add_route("default", via=INTERNET_GATEWAY)


def _behind_nat(world: World, wiring: _Wiring, inet: Node, node: Node, name: str, index: int, public: str) -> None:
    inside = ipaddress.IPv4Network(f"192.168.{index}.0/24")
    box = _nat_box(world, wiring, inet, f"nat-{name}"[:20], public)
    wiring.link(node, "wan0", box, "lan0")
    box.add_address("lan0", f"{inside.network_address + 1}/24")
    node.add_address("wan0", f"{inside.network_address + 2}/24")
    node.add_route("default", via=str(inside.network_address + 1))
    world.nat[name] = box
    world.wan[name] = ("wan0", f"{inside.network_address + 2}/24")


def _lan(
    world: World,
    wiring: _Wiring,
    gateway: Node,
    owner: str,
    lan: ipaddress.IPv4Network,
    index: int,
) -> str:
    """A bridge on `gateway` (the LAN's first address) with one host at the LAN's .20."""
    bridge = f"lan{index}"
    gateway.run(["ip", "link", "add", bridge, "type", "bridge"])
    gateway.set_up(bridge)
    gw_addr = str(lan.network_address + 1)
    gateway.add_address(bridge, f"{gw_addr}/{lan.prefixlen}")
    for offset in (20,):
        host = world.lab.node(f"{owner}-h{index}{offset}"[:20])
        port = wiring.link(host, "eth0", gateway)
        gateway.run(["ip", "link", "set", port, "master", bridge])
        address = str(lan.network_address + offset)
        host.add_address("eth0", f"{address}/{lan.prefixlen}")
        host.add_route("default", via=gw_addr)
        log = start_web_logger(host, address, 80)
        world.lan_hosts.append(LanHost(host, address, log, owner))
    return bridge


def build_world(lab: Lab, stack: str, vpn: Vpn, run_dir: Path) -> World:
    """Create every namespace of the stack's world and rewrite the stack to fit it."""
    world = World(lab=lab, stack=stack, vpn=vpn, nodes={})
    wiring = world.wiring = _Wiring(lab)

    inet = lab.node("internet")
    inet.run(["ip", "link", "add", "br0", "type", "bridge"])
    inet.set_up("br0")
    inet.add_address("br0", f"{INTERNET_GATEWAY}/24")

    world.web = lab.node("web")
    _attach_public(world, wiring, inet, world.web, "eth0", WEB)
    world.web_log = start_web_logger(world.web, WEB, 80)

    world.operator = operator = lab.node("operator")
    _attach_public(world, wiring, inet, operator, "eth0", OPERATOR_PUBLIC)
    operator.run(["ip", "link", "add", "mgmt", "type", "bridge"])
    operator.set_up("mgmt")
    operator.add_address("mgmt", f"{MGMT.network_address + 1}/24")
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
        ssh_index += 1
        port = wiring.link(node, "mgmt0", operator)
        operator.run(["ip", "link", "set", port, "master", "mgmt"])
        address = str(MGMT.network_address + 10 + ssh_index)
        node.add_address("mgmt0", f"{address}/24")
        start_sshd(node, world.ssh_public_key, address, 22)
        return dataclasses.replace(target, host=address, port=22)

    # the hub
    hub_node = lab.node(hub.name)
    world.nodes[hub.name] = hub_node
    hub_public = "203.0.113.1"
    if hub.proxy_arp:
        # guide: the home router forwards the WireGuard port to a LAN host that answers ARP for VPN users
        router = lab.node("homerouter")
        _attach_public(world, wiring, inet, router, "wan0", hub_public)
        router.sysctl("net.ipv4.ip_forward", 1)
        lan = hub.lans[0]
        bridge = _lan(world, wiring, router, hub.name, lan, 0)
        port = wiring.link(hub_node, "eth0", router)
        router.run(["ip", "link", "set", port, "master", bridge])
        hub_node.add_address("eth0", f"{hub.address}/{lan.prefixlen}")
        hub_node.add_route("default", via=str(lan.network_address + 1))
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
        _attach_public(world, wiring, inet, hub_node, wan_if, hub_public)
        world.wan[hub.name] = (wan_if, f"{hub_public}/24")
        for i, lan in enumerate(hub.lans):
            _lan(world, wiring, hub_node, hub.name, lan, i)
    world.public[hub.name] = hub_public
    endpoint = f"{hub_public}:{hub.listen_port}"
    hub = dataclasses.replace(hub, endpoint=endpoint, ssh=manage(hub.name, hub_node, hub.ssh))

    # the spokes: public when they have an endpoint, else behind a NAT box of their own
    for i, spoke in enumerate(vpn.spokes):
        if spoke.endpoint:
            node = world.nodes[spoke.name] = lab.node(spoke.name)
            public = world.public[spoke.name] = f"203.0.113.{10 + i}"
            _attach_public(world, wiring, inet, node, "wan0", public)
            world.wan[spoke.name] = ("wan0", f"{public}/24")
            spoke = dataclasses.replace(spoke, endpoint=f"{public}:{spoke.listen_port}")
        else:
            node = add_device(world, spoke.name, f"203.0.113.{50 + i}", 50 + i)
        for j, lan in enumerate(spoke.lans):
            _lan(world, wiring, node, spoke.name, lan, j)
        rewritten_spokes.append(dataclasses.replace(spoke, ssh=manage(spoke.name, node, spoke.ssh)))

    world.vpn = dataclasses.replace(vpn, hub=hub, spokes=tuple(rewritten_spokes))
    for rule in vpn.forward_rules:  # something must listen for a forward rule to refuse
        if rule.protocol == "tcp":
            for host in world.lan_hosts:
                start_web_logger(host.node, host.address, rule.port)
    return world


def add_device(world: World, name: str, public: str, index: int) -> Node:
    """A node behind a NAT box of its own (public address PUBLIC, inside 192.168.INDEX.0/24)."""
    assert world.wiring is not None
    node = world.nodes[name] = world.lab.node(name)
    world.public[name] = public
    _behind_nat(world, world.wiring, world.lab.nodes["internet"], node, name, index, public)
    return node


def node_kind(vpn: Vpn, name: str) -> str:
    """How a node gets its config: 'aws' (cloud-init + SSM), 'ssh' (install script) or 'file'."""
    return vpn.node(name).delivery
