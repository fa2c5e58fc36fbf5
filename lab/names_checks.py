"""The VPN's names in the lab: the hub's resolver asked from every spoke and LAN host, the full-tunnel peers'
lookups kept in the tunnel, nothing answered on the hub's public side, and a name added under a lookup loop.

Each lookup is dig's (bind9-dnsutils) at the hub's VPN address, or, for a peer whose config points at the hub,
the node's own resolver (getent, through the `DNS =` line wg-quick applied): what a user's device does.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import time

from wgsites.rendering.delivery import DeliveryPlan
from wgsites.stack.access import allows
from wgsites.stack.model import Spoke, Vpn
from wgsites.stack.resolver import addressed_hosts, fqdn, peer_dns, records, serves_dns

from .addresses import LAB_NAME, WEB
from .check_run import CheckRun
from .deploy import put_parameters, run_over_ssh, wait_for
from .netns import Node
from .stand_ins import count_dns

LOOP_SECONDS = 0.05
NAME_CHECKS = (
    "names resolve from the spoke",
    "names resolve from a LAN host through its gateway",
    "DNS through the tunnel to the hub, none on the café",
    "the resolver is silent on the hub's public side",
    "a name added under a lookup loop: reloaded in place, no query lost",
)
"""Every check of the hub's resolver (a release before issue 31 runs none)."""


def dig(node: Node, server: str, name: str, kind: str = "A") -> list[str]:
    """dig's answers (+short) for NAME at SERVER from NODE: one try of two seconds, then one more."""
    argv = ["dig", "+short", "+time=2", "+tries=2", f"@{server}", *(["-x", name] if kind == "PTR" else [name, kind])]
    done = node.run(argv, check=False, timeout=15)
    return [line for line in done.stdout.split() if not line.startswith(";")]


def expected(vpn: Vpn) -> dict[str, set[str]]:
    """Every name the resolver serves, with its IPv4 addresses."""
    names: dict[str, set[str]] = {}
    for address, name in records(vpn):
        if ipaddress.ip_address(address).version == 4:
            names.setdefault(name, set()).add(address)
    return names


def names_resolve(checker: CheckRun) -> None:
    """From every spoke (and every host on a LAN behind one), each node's and host's name, and the hub's reverse."""
    vpn, world = checker.vpn, checker.world
    if not serves_dns(vpn):
        return
    hub = str(vpn.hub.address)
    want = expected(vpn)
    # an aws hub applies its bundle on its own timer: its resolver is awaited (port 53 bound), not assumed
    hub_node = checker.node(vpn.hub.name)
    wait_for(lambda: bool(hub_node.run(["ss", "-Hlnu", "sport = :53"], check=False).stdout.strip()), 60)

    def ask(node: Node, own_resolver: bool, ipv6: bool = True) -> tuple[bool, str]:
        wrong = []
        for name, addresses in want.items():
            if own_resolver:  # the device's own lookup, as an app makes it: through the DNS = line applied
                out = node.run(["getent", "ahostsv4", name], check=False, timeout=30).stdout.split()
                got = set(out[:1])
            else:
                got = set(dig(node, hub, name))
            if got != addresses and not (own_resolver and got <= addresses and got):
                wrong.append(f"{name} -> {sorted(got) or 'nothing'}")
        reverse = dig(node, hub, hub, "PTR")
        if reverse != [f"{fqdn(vpn, vpn.hub.name)}."]:
            wrong.append(f"{hub} (reverse) -> {reverse or 'nothing'}")
        hub6 = vpn.address6_of(vpn.hub) if ipv6 else None
        if hub6 is not None:  # dual stack: AAAA, and asked at the hub's IPv6 address (a LAN host has no IPv6 here)
            name = fqdn(vpn, vpn.hub.name)
            if dig(node, str(hub6), name, "AAAA") != [str(hub6)]:
                wrong.append(f"{name} AAAA at {hub6} -> not {hub6}")
        how = "its own resolver (DNS = the hub)" if own_resolver else f"dig @{hub}"
        how += ", and AAAA at its IPv6 address" if hub6 else ""
        return not wrong, f"{len(want) - len(wrong)}/{len(want)} names and the hub's reverse via {how}" + (
            f"; wrong: {', '.join(wrong)}" if wrong else ""
        )

    for spoke in vpn.spokes:
        if not allows(vpn, spoke.address, hub, "udp", 53):
            continue  # an access policy refuses it the hub's resolver (its pairs are tried as the policy says)
        node = checker.node(spoke.name)
        own = hub in peer_dns(vpn, spoke)
        checker.attempt("names resolve from the spoke", spoke.name, lambda node=node, own=own: ask(node, own))
    for lan_host in world.lan_hosts:
        if lan_host.owner == vpn.hub.name or not allows(vpn, lan_host.address, hub, "udp", 53):
            continue
        checker.attempt(
            "names resolve from a LAN host through its gateway",
            f"{lan_host.owner}:{lan_host.address}",
            lambda lan_host=lan_host: ask(lan_host.node, False, ipv6=False),
        )


def lookups_stay_in_the_tunnel(checker: CheckRun) -> None:
    """A full-tunnel peer pointed at the hub: its lookups (a VPN name, an internet name the hub forwards) go through
    the tunnel; its café counts no DNS packet."""
    vpn, world = checker.vpn, checker.world
    hub = str(vpn.hub.address)
    for spoke in vpn.spokes:
        box = world.nat.get(spoke.name)
        if spoke.tunnel != "full" or peer_dns(vpn, spoke) != (hub,) or box is None:
            continue

        def body(spoke: Spoke = spoke, box: Node = box) -> tuple[bool, str]:
            node = checker.node(spoke.name)
            before = count_dns(box)
            earlier = len(world.resolver_log.read_text().splitlines()) if world.resolver_log else 0
            name = fqdn(vpn, vpn.hub.name)
            local = node.run(["getent", "ahostsv4", name], check=False, timeout=30).stdout.split()[:1]
            outside = node.run(["getent", "ahostsv4", LAB_NAME], check=False, timeout=30).stdout.split()[:1]
            seen = world.resolver_log.read_text().splitlines()[earlier:] if world.resolver_log else []
            sources = sorted({line.split()[0] for line in seen})
            packets = count_dns(box) - before
            resolv = node.read_file("/etc/resolv.conf")
            ok = local == [hub] and outside == [WEB] and packets == 0 and f"nameserver {hub}" in resolv
            ok = ok and sources == [world.public[vpn.hub.name]]
            return ok, (
                f"resolv.conf names the hub: {f'nameserver {hub}' in resolv}; {name} -> {local or '-'}; {LAB_NAME} -> "
                f"{outside or '-'} (the lab resolver saw {sources or 'nobody'}, the hub forwarding); DNS packets on the "
                f"café: {packets}"
            )

        checker.attempt("DNS through the tunnel to the hub, none on the café", spoke.name, body)


def resolver_not_public(checker: CheckRun) -> None:
    """The resolver answers on the hub's VPN addresses only: asked at its public address from the internet it is
    silent, and port 53 on the hub is bound to nothing else."""
    vpn, world = checker.vpn, checker.world
    if not serves_dns(vpn) or world.web is None:
        return
    hub_node = checker.node(vpn.hub.name)
    public = world.public[vpn.hub.name]

    def body() -> tuple[bool, str]:
        done = world.web.run(["dig", "+time=2", "+tries=1", f"@{public}", fqdn(vpn, vpn.hub.name)], check=False, timeout=15)
        answered = "ANSWER SECTION" in done.stdout or "status:" in done.stdout
        bound = hub_node.run(["ss", "-Hlnu", "sport = :53"]).stdout.split("\n")
        addresses = sorted({line.split()[3].rsplit(":", 1)[0].strip("[]") for line in bound if line.strip()})
        vpn_only = set(addresses) <= {str(vpn.hub.address), str(vpn.address6_of(vpn.hub))}
        return not answered and vpn_only and bool(addresses), (
            f"dig @{public} from the internet: {'answered' if answered else 'no answer'}; port 53 bound on the hub to "
            f"{addresses or 'nothing'}"
        )

    checker.attempt("the resolver is silent on the hub's public side", vpn.hub.name, body)


def name_added_under_lookups(checker: CheckRun) -> None:
    """A host added to the stack while a spoke looks a name up every 50 ms: the hub's resolver reloads in place
    (SIGHUP), every lookup is answered, the new name resolves, and no tunnel is touched."""
    world = checker.world
    vpn = world.vpn  # as it runs now: with the peer the SSM scenario added, on an aws hub
    if not serves_dns(vpn) or not vpn.spokes:
        return
    asker = vpn.spokes[0]
    hub, hub_name = str(vpn.hub.address), fqdn(vpn, vpn.hub.name)
    used = {n.address for n in vpn.nodes} | {a for _, a in addressed_hosts(vpn)}
    # a free address of the VPN network, else of a LAN (a /31 has none to spare)
    networks = (vpn.network, *(lan for node in vpn.nodes for lan in node.lans))
    address = next(a for network in networks for a in network.hosts() if a not in used)
    grown = dataclasses.replace(vpn, hosts=(*vpn.hosts, ("added-host", ipaddress.ip_network(address))))
    hub_node, node = checker.node(vpn.hub.name), checker.node(asker.name)
    log = world.lab.run_dir / "names-lookup-loop.log"
    pid_before = hub_node.run("cat /run/wgsites-dns-*.pid").stdout.strip()
    ifindex = hub_node.read_file(f"/sys/class/net/{vpn.hub.interface}/ifindex")
    peers = hub_node.run(["wg", "show", vpn.hub.interface, "peers"]).stdout
    seconds = vpn.hub.aws.sync_seconds + 15 if vpn.hub.kind == "aws" else 8
    count = int(seconds / LOOP_SECONDS)
    loop = (
        f"for i in $(seq {count}); do a=$(dig +short +time=1 +tries=1 @{hub} {hub_name}); "
        f'echo "${{a:-LOST}}"; sleep {LOOP_SECONDS}; done'
    )
    pid = node.spawn(["bash", "-c", loop], log=log)
    time.sleep(1)
    # the hub's config gains the name (its `# name` lines): its peers and its install script stay as they were
    plan = DeliveryPlan(grown, world.stack)
    config = plan.config(vpn.hub.name, checker.dep.keys, vpn.hub.endpoint)
    if vpn.hub.kind == "aws":
        put_parameters(world, checker.dep.keys, config, vpn=grown)
    else:
        run_over_ssh(world, vpn.hub.name, plan.command(vpn.hub.name, "install"), config)
    took = wait_for(lambda: dig(node, hub, fqdn(vpn, "added-host")) == [str(address)], seconds)
    while world.lab.is_running(pid):
        time.sleep(0.5)
    answers = log.read_text().split()
    lost = sum(1 for a in answers if a != hub)
    pid_after = hub_node.run("cat /run/wgsites-dns-*.pid").stdout.strip()
    ifindex_after = hub_node.read_file(f"/sys/class/net/{vpn.hub.interface}/ifindex")
    peers_after = hub_node.run(["wg", "show", vpn.hub.interface, "peers"]).stdout
    untouched = ifindex == ifindex_after and sorted(peers.split()) == sorted(peers_after.split())
    reloaded = re.search("kill -HUP", hub_node.run("cat /run/wgsites/*.log", check=False).stdout) is not None
    checker.record(
        "a name added under a lookup loop: reloaded in place, no query lost",
        asker.name,
        took is not None and lost == 0 and len(answers) == count and pid_before == pid_after and untouched and reloaded,
        f"added-host.{vpn.domain} answered {f'{took:.1f} s' if took is not None else 'never'} after the change; "
        f"{len(answers) - lost}/{count} lookups at {int(LOOP_SECONDS * 1000)} ms answered; resolver pid {pid_before} -> "
        f"{pid_after} (SIGHUP: {reloaded}); the tunnel device (ifindex {ifindex.strip()} -> {ifindex_after.strip()}) "
        f"and its peers ({len(peers.split())} -> "
        f"{len(peers_after.split())}, the same: {sorted(peers.split()) == sorted(peers_after.split())}) untouched: {untouched}",
    )
