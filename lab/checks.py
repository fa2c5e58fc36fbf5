"""What a user would try after `pulumi up`, run for real in the lab, each a PASS/FAIL row.

The checks follow from the stack itself (who should reach what), plus the
guide's "Testing" sections: pings across the tunnel and to LAN hosts, routes
as listed, source addresses kept (no NAT between sites), full-tunnel egress
from the gateway's public address.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable

from wgsites.operations.host_status import text_table
from wgsites.rendering.render import forward_rules_of
from wgsites.stack.access import allows
from wgsites.stack.model import Spoke

from .addresses import WEB
from .check_run import Check, CheckRun
from .deploy import run_over_ssh, wait_for
from .dual_stack import ipv6_between_nodes
from .names_checks import lookups_stay_in_the_tunnel, names_resolve, resolver_not_public
from .stand_ins import dns_through_the_tunnel, hub_over_ipv6, ipv6_endpoints, own_key_devices
from .world import LanHost

CURL_EXIT = {"reject": 7, "drop": 28, "accept": 0}
"""What curl says across a forward rule: refused (7), timed out (28), answered (0)."""
PAST = {"reject": "rejected", "drop": "dropped", "accept": "accepted"}
REFUSED_AT_ONCE = 0.9
"""Seconds within which a rejected connection is refused: before TCP sends its first SYN again (1 s)."""
TRACEROUTE_PORT = 33434  # traceroute's first UDP probe port
REACH = ("LAN hosts", "LAN to LAN")  # with an access policy, the access pairs (in place of "ping hub") check these


class Checker(CheckRun):
    """The stack's own checks (who should reach what), in order, on top of the run's rows and probes."""

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

            def body(shaken=shaken) -> tuple[bool, str]:
                took = wait_for(shaken, 20)
                return took is not None, f"after {took:.1f} s" if took is not None else "no handshake in 20 s"

            self.attempt("handshake with the hub", spoke.name, body)

    def ping_hub(self) -> None:
        for spoke in self.vpn.spokes:

            def body(spoke=spoke) -> tuple[bool, str]:
                sent, got = self.ping(self.node(spoke.name), self.hub_address)
                return got == sent, f"{got}/{sent} answered"

            self.attempt(f"ping hub {self.hub_address}", spoke.name, body)

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
            self.attempt("routes as the guide lists", spoke.name, lambda spoke=spoke: self._routes(spoke))

    def _routes(self, spoke: Spoke) -> tuple[bool, str]:
        node, iface = self.node(spoke.name), spoke.interface
        plan = self.plans[spoke.name]
        wanted = [n for e in plan.peers for n in e.allowed_ips if n.prefixlen != 0]
        main = node.run(["ip", "route", "show", "dev", iface]).stdout
        main += node.run(["ip", "-6", "route", "show", "dev", iface]).stdout  # a dual-stack VPN's IPv6 routes
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
        return not missing, f"missing {missing}" if missing else detail

    def mtu(self) -> None:
        for name, plan in self.plans.items():

            def body(name=name, plan=plan) -> tuple[bool, str]:
                out = self.node(name).run(["ip", "-o", "link", "show", "dev", plan.interface]).stdout
                match = re.search(r"mtu (\d+)", out)
                have = int(match.group(1)) if match else 0
                return have == plan.mtu, f"{plan.interface} has mtu {have}"

            self.attempt(f"MTU {plan.mtu}", name, body)

    def endpoints_learned(self) -> None:
        hub = self.vpn.hub
        for spoke in self.vpn.spokes:

            def body(spoke=spoke) -> tuple[bool, str]:
                seen = self.hub_endpoints().get(self.dep.keys.public[spoke.name], "(none)")
                public6 = self.world.public6.get(spoke.name)  # a hub dialled over IPv6 sees the spoke's IPv6 address
                public = f"[{public6}]" if public6 else self.world.public[spoke.name]
                return seen.startswith(f"{public}:"), f"wg show endpoint {seen}, expected {public}:*"

            self.attempt("hub learned the endpoint", f"{hub.name}:{spoke.name}", body)

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

            def body(name=name, printed=printed) -> tuple[bool, str]:
                derived = self.node(name).run(f"wg pubkey < /etc/wireguard/{self.iface(name)}.key").stdout.strip()
                ok = printed.strip() == derived == self.dep.keys.public[name] and len(printed.splitlines()) == 1
                return ok, f"stdout {len(printed.splitlines())} line(s), matches the host's key: {ok}"

            self.attempt("install printed only the host's public key", name, body)

    def ssh_logins(self) -> None:
        """A non-root `ssh.user` logs in as itself and the install script ran as root through `sudo -n` (the lab
        made the user and its sudo rule on the node, as its owner would)."""
        for node in self.vpn.nodes:
            if node.ssh is None or node.ssh.user == "root":
                continue

            def body(node=node) -> tuple[bool, str]:
                who = run_over_ssh(self.world, node.name, "id -un; sudo -n id -un").split()
                owner = self.node(node.name).run(["stat", "-c", "%U", f"/etc/wireguard/{node.interface}.key"]).stdout.strip()
                ok = who == [node.ssh.user, "root"] and owner == "root"
                return ok, f"logged in as {who[:1]}, sudo -n gives {who[1:]}; the key file belongs to {owner}"

            self.attempt(f"SSH as {node.ssh.user}, install through sudo -n", node.name, body)

    def preshared_keys(self) -> None:
        """Each hub-spoke pair runs a preshared key on both ends exactly when the stack gives it one, the same on
        both (a mismatch would fail only at the next handshake). Only the verdict is printed, never a key."""
        hub = self.vpn.hub
        keys = self.dep.keys.public

        def running(name: str, peer: str) -> str:
            out = self.node(name).run(["wg", "show", self.iface(name), "preshared-keys"]).stdout
            return dict(line.split("\t") for line in out.splitlines() if "\t" in line).get(keys[peer], "-")

        for spoke in self.vpn.spokes:

            def body(spoke=spoke) -> tuple[bool, str]:
                at_hub, at_spoke = running(hub.name, spoke.name), running(spoke.name, hub.name)
                wanted = self.vpn.has_preshared_key(spoke)
                ok = at_hub == at_spoke and (at_hub != "(none)") == wanted and at_hub != "-"
                held = "none" if at_hub == "(none)" else "a key"
                return ok, f"hub holds {held}, the same on both ends: {at_hub == at_spoke}; the stack says {wanted}"

            self.attempt(
                "preshared key on both ends" if self.vpn.has_preshared_key(spoke) else "no preshared key",
                f"{hub.name}:{spoke.name}",
                body,
            )

    def forward_rules(self) -> None:
        """The guide's example: TCP 22 between sites refused, ping passing."""
        hub = self.vpn.hub.name
        for rule in self.vpn.forward_rules:
            if rule.protocol != "tcp":
                continue
            for src in self.world.lan_hosts:
                for dst in self.world.lan_hosts:
                    # enforced where it comes out of a tunnel: the hub, or the target's gateway when wgsites
                    # installs its rules (a site's router configured from a file runs none)
                    if src.owner == dst.owner or (src.owner == hub and not forward_rules_of(self.vpn, dst.owner)):
                        continue
                    owner = self.node(dst.owner)

                    def body(src=src, dst=dst, owner=owner, rule=rule) -> tuple[bool, str]:
                        start = time.monotonic()
                        across = self.http(src.node, dst.address, rule.port)
                        took = time.monotonic() - start
                        local = self.http(owner, dst.address, rule.port)  # the listener is there
                        sent, got = self.ping(src.node, dst.address)
                        # a reject answers at once: the hub's ICMP error is not held back by its rate limit
                        prompt = rule.action != "reject" or took < REFUSED_AT_ONCE
                        ok = across == CURL_EXIT[rule.action] and prompt and local == 0 and got == sent
                        return ok, (
                            f"tcp {rule.port} across: curl exit {across} after {took:.2f} s; "
                            f"from its own gateway: {local}; ping {got}/{sent}"
                        )

                    self.attempt(f"tcp {rule.port} {PAST[rule.action]} between sites", f"{src.owner}->{dst.owner}", body)

    def proxy_arp(self) -> None:
        hub = self.vpn.hub
        if not hub.proxy_arp:
            return
        for spoke in self.vpn.spokes:
            for lan_host in self.world.hosts_of(hub.name):

                def body(spoke=spoke, lan_host=lan_host) -> tuple[bool, str]:
                    mac = self.node(hub.name).run(["cat", "/sys/class/net/eth0/address"]).stdout.strip()
                    self.ping(self.node(spoke.name), lan_host.address, 1)
                    neigh = lan_host.node.run(["ip", "neigh", "show", str(spoke.address)]).stdout
                    return mac in neigh, f"{lan_host.address} maps {spoke.address} to {neigh.strip() or '-'} (host {mac})"

                self.attempt("proxy ARP answers for the VPN user", f"{lan_host.node.name}:{spoke.name}", body)

    def site_path(self) -> None:
        """Guide's mtr: from a host behind a site, the path is its own LAN's gateway, the hub's tunnel address, the target;
        to another site's LAN, that site's tunnel address before the target (the hub's hop shows: its ICMP is not
        spent on redirects)."""
        hub = self.vpn.hub.name
        for src in self.world.lan_hosts:
            if src.owner == hub:
                continue
            for dst in self.world.lan_hosts:
                if dst.owner == src.owner:
                    continue
                site = [] if dst.owner == hub else [str(self.vpn.node(dst.owner).address)]
                if not allows(self.vpn, src.address, dst.address, "udp", TRACEROUTE_PORT):
                    continue  # the access policy refuses traceroute's probes there (access pairs proves it)

                def body(src=src, dst=dst, site=site) -> tuple[bool, str]:
                    expected = [src.gateway, self.hub_address, *site, dst.address]
                    have = self.hops(src.node, dst.address)
                    return have == expected, f"traceroute from {src.address} {have}, expected {expected}"

                name = "path gateway, hub tunnel, site tunnel, target" if site else "path gateway, hub tunnel, target"
                self.attempt(name, f"{src.owner}->{dst.owner}", body)

    def no_redirects(self) -> None:
        """After every check above (spoke to spoke through the hub among them), the hub has sent no ICMP redirect:
        they would spend the per-host rate limit its own errors (a reject, a traceroute's hop) share."""

        def body() -> tuple[bool, str]:
            snmp = self.node(self.vpn.hub.name).run(["cat", "/proc/net/snmp"]).stdout
            names, values = [line.split()[1:] for line in snmp.splitlines() if line.startswith("Icmp:")][:2]
            icmp = dict(zip(names, map(int, values), strict=True))
            sent = icmp["OutRedirects"]
            return sent == 0, f"IcmpOutRedirects {sent}, IcmpOutDestUnreachs {icmp['OutDestUnreachs']}"

        self.attempt("hub sent no ICMP redirect", self.vpn.hub.name, body)

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        """Every check of a running stack, in order; the lab's stand-ins (own keys, DNS) are in `stand_ins`.
        A stack with an access policy has its reachability checked pair by pair against the policy instead."""
        if self.vpn.access is not None:
            from .access_pairs import access_pairs

            pairs = ("access pairs", lambda: access_pairs(self))
            return [pairs if name == "ping hub" else (name, step) for name, step in self._steps() if name not in REACH]
        return self._steps()

    def _steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("handshakes", self.handshakes),
            ("ping hub", self.ping_hub),
            ("MTU", self.mtu),
            ("routes", self.routes),
            ("host keys", self.keys_stay_home),
            ("SSH logins", self.ssh_logins),
            ("own-key devices", lambda: own_key_devices(self)),
            ("IPv6 endpoints", lambda: ipv6_endpoints(self)),
            ("hub over IPv6", lambda: hub_over_ipv6(self)),
            ("LAN hosts", self.reach_lans),
            ("LAN to LAN", self.lan_to_lan),
            ("forward rules", self.forward_rules),  # before traceroute spends the hub's ICMP tokens for a host
            ("site path", self.site_path),
            ("proxy ARP", self.proxy_arp),
            ("full tunnel egress", self.full_tunnel_egress),
            ("DNS", lambda: dns_through_the_tunnel(self)),
            ("names", lambda: names_resolve(self)),
            ("names in the tunnel", lambda: lookups_stay_in_the_tunnel(self)),
            ("resolver not public", lambda: resolver_not_public(self)),
            ("endpoints", self.endpoints_learned),
            ("preshared keys", self.preshared_keys),
            ("IPv6 between nodes", lambda: ipv6_between_nodes(self)),
            ("ICMP redirects", self.no_redirects),
        ]

    def run_all(self) -> list[Check]:
        for name, step in self.steps():
            self.guard(f"checks: {name}", "-", step)
        return self.results


def table(results: list[Check]) -> str:
    body = text_table(
        [("check", "nodes", "result", "detail")] + [(c.name, c.nodes, "PASS" if c.passed else "FAIL", c.detail) for c in results]
    )
    header, _, rest = body.partition("\n")
    passed = sum(c.passed for c in results)
    return f"{header}\n{'-' * min(160, len(header) + 20)}\n{rest}\n{passed} passed, {len(results) - passed} failed"
