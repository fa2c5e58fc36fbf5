"""What a user would try after `pulumi up`, run for real in the lab, each a PASS/FAIL row.

The checks follow from the stack itself (who should reach what), plus the
guide's "Testing" sections: pings across the tunnel and to LAN hosts, routes
as listed, source addresses kept (no NAT between sites), full-tunnel egress
from the gateway's public address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from wgsites.addressing import AddressPlan
from wgsites.model import Spoke
from wgsites.status import text_table

from .deploy import Deployment, wait_for
from .netns import Node
from .world import WEB, LanHost


@dataclass(frozen=True)
class Check:
    name: str
    nodes: str
    passed: bool
    detail: str


class Checker:
    def __init__(self, dep: Deployment):
        self.dep = dep
        self.world = dep.world
        self.vpn = dep.world.vpn
        self.plans = AddressPlan(self.vpn).plans()
        self.results: list[Check] = []

    def record(self, name: str, nodes: str, passed: bool, detail: str) -> bool:
        self.results.append(Check(name, nodes, passed, detail))
        return passed

    def attempt(self, name: str, nodes: str, body: Callable[[], tuple[bool, str]]) -> bool:
        try:
            passed, detail = body()
        except Exception as exc:  # a check that crashes is a failed check, with the reason
            passed, detail = False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        return self.record(name, nodes, passed, detail)

    # helpers ---------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        return self.world.nodes[name]

    def iface(self, name: str) -> str:
        return self.vpn.node(name).interface

    @property
    def hub_address(self) -> str:
        return str(self.vpn.hub.address)

    @staticmethod
    def ping(node: Node, target: str, count: int = 3) -> tuple[int, int]:
        out = node.run(["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "2", target], check=False).stdout
        match = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        return (int(match.group(1)), int(match.group(2))) if match else (count, 0)

    @staticmethod
    def http(node: Node, target: str, port: int = 80) -> int:
        """curl's exit code: 0 answered, 7 refused, 28 timed out."""
        return node.run(
            ["curl", "-s", "-o", "/dev/null", "-m", "3", "--noproxy", "*", f"http://{target}:{port}/"], check=False
        ).returncode

    @staticmethod
    def last_client(log) -> str:
        lines = log.read_text().split()
        return lines[-1] if lines else ""

    @staticmethod
    def hops(node: Node, target: str, max_hops: int = 5) -> list[str]:
        out = node.run(["traceroute", "-n", "-q", "1", "-w", "2", "-m", str(max_hops), target], check=False).stdout
        return [line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1]

    def reachable_hosts(self, spoke: Spoke) -> list[LanHost]:
        """LAN hosts a split-tunnel spoke should reach through the hub."""
        return [h for h in self.world.lan_hosts if h.owner != spoke.name]

    # the checks ------------------------------------------------------------------------

    def handshakes(self) -> None:
        for spoke in self.vpn.spokes:
            node = self.node(spoke.name)

            def shaken(node=node, spoke=spoke) -> bool:
                self.ping(node, self.hub_address, 1)
                out = node.run(["wg", "show", spoke.interface, "latest-handshakes"], check=False).stdout.split()
                return len(out) == 2 and out[1] != "0"

            took = wait_for(shaken, 20)
            self.record(
                "handshake with the hub",
                spoke.name,
                took is not None,
                f"after {took:.1f} s" if took is not None else "no handshake in 20 s",
            )

    def ping_hub(self) -> None:
        for spoke in self.vpn.spokes:
            sent, got = self.ping(self.node(spoke.name), self.hub_address)
            self.record(f"ping hub {self.hub_address}", spoke.name, got == sent, f"{got}/{sent} answered")

    def reach_lans(self) -> None:
        for spoke in self.vpn.spokes:
            if spoke.tunnel == "full":
                continue
            me = str(spoke.address)
            for host in self.reachable_hosts(spoke):
                node = self.node(spoke.name)

                def body(node=node, host=host, me=me) -> tuple[bool, str]:
                    sent, got = self.ping(node, host.address)
                    code = self.http(node, host.address)
                    seen = self.last_client(host.web_log)
                    ok = got == sent and code == 0 and seen == me
                    return ok, f"ping {got}/{sent}, http exit {code}, {host.address} saw source {seen or '-'}"

                self.attempt(f"reach LAN host {host.address}", spoke.name, body)

    def lan_to_lan(self) -> None:
        """Hosts behind one gateway reach hosts behind another, source kept (site-to-site, both ways)."""
        for src in self.world.lan_hosts:
            for dst in self.world.lan_hosts:
                if src.owner == dst.owner:
                    continue

                def body(src=src, dst=dst) -> tuple[bool, str]:
                    sent, got = self.ping(src.node, dst.address)
                    code = self.http(src.node, dst.address)
                    seen = self.last_client(dst.web_log)
                    ok = got == sent and code == 0 and seen == src.address
                    return ok, f"ping {got}/{sent}, http exit {code}, saw source {seen or '-'}"

                self.attempt(f"LAN {src.address} -> {dst.address}", f"{src.owner}->{dst.owner}", body)

    def routes(self) -> None:
        for spoke in self.vpn.spokes:
            node, iface = self.node(spoke.name), spoke.interface
            plan = self.plans[spoke.name]
            wanted = [n for e in plan.peers for n in e.allowed_ips if n.prefixlen != 0]
            main = node.run(["ip", "route", "show", "dev", iface]).stdout
            have = {ipaddress.ip_network(line.split()[0], strict=False) for line in main.splitlines()}
            missing = [str(n) for n in wanted if not any(n.subnet_of(h) for h in have if h.version == n.version)]
            detail = "; ".join(line.strip() for line in main.splitlines())
            if plan.full_tunnel:
                v4 = node.run(["ip", "route", "show", "table", "51820"]).stdout
                v6 = node.run(["ip", "-6", "route", "show", "table", "51820"]).stdout
                rules = node.run(["ip", "rule", "show"]).stdout
                full = f"default dev {iface}" in v4 and f"default dev {iface}" in v6 and "lookup 51820" in rules
                missing += [] if full else ["default routes in table 51820 (IPv4 and IPv6)"]
                detail += f"; table 51820: v4 {'ok' if 'default' in v4 else '-'}, v6 {'ok' if 'default' in v6 else '-'}"
            self.record("routes as the guide lists", spoke.name, not missing, f"missing {missing}" if missing else detail)

    def mtu(self) -> None:
        for name, plan in self.plans.items():
            out = self.node(name).run(["ip", "-o", "link", "show", "dev", plan.interface]).stdout
            match = re.search(r"mtu (\d+)", out)
            have = int(match.group(1)) if match else 0
            self.record(f"MTU {plan.mtu}", name, have == plan.mtu, f"{plan.interface} has mtu {have}")

    def endpoints_learned(self) -> None:
        hub = self.vpn.hub
        out = self.node(hub.name).run(["wg", "show", hub.interface, "endpoints"]).stdout
        endpoints = dict(line.split("\t") for line in out.splitlines() if "\t" in line)
        for spoke in self.vpn.spokes:
            seen = endpoints.get(self.dep.keys.public[spoke.name], "(none)")
            public = self.world.public[spoke.name]
            self.record(
                "hub learned the endpoint",
                f"{hub.name}:{spoke.name}",
                seen.startswith(f"{public}:"),
                f"wg show endpoint {seen}, expected {public}:*",
            )

    def full_tunnel_egress(self) -> None:
        hub_public = self.world.public[self.vpn.hub.name]
        for spoke in self.vpn.spokes:
            if spoke.tunnel != "full":
                continue
            node = self.node(spoke.name)

            def body(node=node) -> tuple[bool, str]:
                code = self.http(node, WEB)
                seen = self.last_client(self.world.web_log)
                first = (self.hops(node, WEB, 2) or ["-"])[0]
                ok = code == 0 and seen == hub_public and first == self.hub_address
                return ok, f"web host saw {seen or '-'} (gateway {hub_public}); first hop {first}"

            self.attempt("full tunnel egress from the gateway", spoke.name, body)

    def keys_stay_home(self) -> None:
        """SSH hosts printed only their public key, made on the host."""
        for name, printed in self.dep.install_output.items():
            iface = self.iface(name)
            derived = self.node(name).run(f"wg pubkey < /etc/wireguard/{iface}.key").stdout.strip()
            ok = printed.strip() == derived == self.dep.keys.public[name] and len(printed.splitlines()) == 1
            self.record(
                "install printed only the host's public key",
                name,
                ok,
                f"stdout {len(printed.splitlines())} line(s), matches the host's key: {ok}",
            )

    def forward_rules(self) -> None:
        """The guide's example: TCP 22 between sites refused, ping passing."""
        for rule in self.vpn.forward_rules:
            if rule.protocol != "tcp":
                continue
            for src in self.world.lan_hosts:
                for dst in self.world.lan_hosts:
                    if src.owner == dst.owner:
                        continue
                    owner = self.node(dst.owner)

                    def body(src=src, dst=dst, owner=owner, rule=rule) -> tuple[bool, str]:
                        across = self.http(src.node, dst.address, rule.port)
                        local = self.http(owner, dst.address, rule.port)  # the listener is there
                        sent, got = self.ping(src.node, dst.address)
                        ok = across == (7 if rule.action == "reject" else 28) and local == 0 and got == sent
                        return ok, f"tcp {rule.port} across: curl exit {across}; from its own gateway: {local}; ping {got}/{sent}"

                    self.attempt(f"tcp {rule.port} {rule.action}ed between sites", f"{src.owner}->{dst.owner}", body)

    def proxy_arp(self) -> None:
        hub = self.vpn.hub
        if not hub.proxy_arp:
            return
        mac = self.node(hub.name).run(["cat", "/sys/class/net/eth0/address"]).stdout.strip()
        for spoke in self.vpn.spokes:
            for host in self.world.hosts_of(hub.name):
                self.ping(self.node(spoke.name), host.address, 1)
                neigh = host.node.run(["ip", "neigh", "show", str(spoke.address)]).stdout
                self.record(
                    "proxy ARP answers for the VPN user",
                    f"{host.node.name}:{spoke.name}",
                    mac in neigh,
                    f"{host.address} maps {spoke.address} to {neigh.strip() or '-'} (host {mac})",
                )

    def site_path(self) -> None:
        """Guide's mtr: from a host behind a site, the path is its gateway, the hub's tunnel address, the target."""
        for src in self.world.lan_hosts:
            if src.owner == self.vpn.hub.name:
                continue
            for dst in self.world.hosts_of(self.vpn.hub.name):
                site = self.vpn.node(src.owner)
                gateway = str(next(ipaddress.ip_network(lan).network_address + 1 for lan in site.lans))
                expected = [gateway, self.hub_address, dst.address]
                have = self.hops(src.node, dst.address)
                self.record(
                    "path gateway, hub tunnel, target",
                    f"{src.owner}->{self.vpn.hub.name}",
                    have == expected,
                    f"traceroute {have}, expected {expected}",
                )

    def run_all(self) -> list[Check]:
        self.handshakes()
        self.ping_hub()
        self.mtu()
        self.routes()
        self.keys_stay_home()
        self.reach_lans()
        self.lan_to_lan()
        self.site_path()
        self.forward_rules()
        self.proxy_arp()
        self.full_tunnel_egress()
        self.endpoints_learned()
        return self.results


def table(results: list[Check]) -> str:
    body = text_table(
        [("check", "nodes", "result", "detail")] + [(c.name, c.nodes, "PASS" if c.passed else "FAIL", c.detail) for c in results]
    )
    header, _, rest = body.partition("\n")
    passed = sum(c.passed for c in results)
    return f"{header}\n{'-' * min(160, len(header) + 20)}\n{rest}\n{passed} passed, {len(results) - passed} failed"
