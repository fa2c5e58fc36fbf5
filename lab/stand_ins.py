"""The checks that say, in the table, where the lab stands in for what it cannot have.

Why: a stack that passes `check` must run in the lab. A bring-your-own-key device
holds a key nobody else knows: the lab plays that device with a key of its own
(`world.play_own_key_devices`) and pastes it where the config's comment says, as
its user would (`deploy.paste_private_key`). A peer's public DNS server (9.9.9.9) is not on the lab internet:
the lab resolver answers instead (`world.lab_dns`), and the checks show where the
lookups went: through the tunnel for a full tunnel, beside it for a split one.
"""

from __future__ import annotations

import re

from wgsites.stack.keys import public_key_of
from wgsites.stack.model import Spoke

from .addresses import LAB_NAME, RESOLVER, WEB
from .check_run import CheckRun
from .netns import Node
from .world import host_resolver_fingerprint


def short(key: str) -> str:
    return f"{key[:6]}...{key[-3:]}"


def own_key_devices(checker: CheckRun) -> None:
    """Each bring-your-own-key device: the lab's key is the one its tunnel runs with, and it handshakes."""
    for name, (stack_key, private) in checker.world.own_keys.items():

        def body(name=name, stack_key=stack_key, private=private) -> tuple[bool, str]:
            iface = checker.iface(name)
            node = checker.node(name)
            running = node.run(["wg", "show", iface, "public-key"]).stdout.strip()
            shaken = node.run(["wg", "show", iface, "latest-handshakes"]).stdout.split()
            pasted = f"PrivateKey = {private}" in checker.dep.configs.get(name, "")
            ok = pasted and running == public_key_of(private) and len(shaken) == 2 and shaken[1] != "0"
            return ok, (
                f"the lab played this device: the stack's publicKey {short(stack_key)} replaced by the lab's "
                f"{short(running)} in the lab's copy only; its private key pasted under the config's comment: {pasted}; "
                f"handshake: {len(shaken) == 2 and shaken[1] != '0'}"
            )

        checker.attempt("bring-your-own key: the lab plays the device", name, body)


def ipv6_endpoints(checker: CheckRun) -> None:
    """Each IPv6 endpoint the lab plays over IPv4 (its internet is IPv4): said in a row, with the tunnel's MTU checked
    against what the stack's IPv6 path gives it, not the IPv4 one the lab's packets take."""
    for name, (stack_endpoint, lab_endpoint, stack_mtu) in checker.world.ipv6_endpoints.items():

        def body(name=name, stack_endpoint=stack_endpoint, lab_endpoint=lab_endpoint, stack_mtu=stack_mtu):
            out = checker.node(name).run(["ip", "-o", "link", "show", "dev", checker.iface(name)]).stdout
            have = int(match.group(1)) if (match := re.search(r"mtu (\d+)", out)) else 0
            return have == stack_mtu, (
                f"the stack's endpoint {stack_endpoint} (IPv6) is played over IPv4 as {lab_endpoint}; the tunnel MTU is "
                f"the stack's for its IPv6 path, {stack_mtu}: {checker.iface(name)} has {have} "
                "(a tunnel over IPv6 itself: tests/lab/test_ipv6_transport.py)"
            )

        checker.attempt("IPv6 endpoint played over IPv4", name, body)


def fragments_made(node: Node) -> int:
    """IPv6 fragments NODE has made (Ip6FragCreates): an outer packet too big for its path."""
    for line in node.run(["cat", "/proc/net/snmp6"]).stdout.splitlines():
        if line.startswith("Ip6FragCreates"):
            return int(line.split()[1])
    return -1


def hub_over_ipv6(checker: CheckRun) -> None:
    """A hub endpoint written as an IPv6 address, dialled over the lab internet's IPv6: each spoke's tunnel at the
    MTU the stack renders for it carries a full-size don't-fragment packet both ways, and no outer packet is
    fragmented on either end."""
    world, hub = checker.world, checker.vpn.hub
    for spoke in checker.vpn.spokes:
        if spoke.name not in world.public6:
            continue

        def body(spoke=spoke) -> tuple[bool, str]:
            node, hub_node = checker.node(spoke.name), checker.node(hub.name)
            mtu = checker.plans[spoke.name].mtu
            before = fragments_made(node), fragments_made(hub_node)
            argv = ["ping", "-n", "-M", "do", "-s", str(mtu - 28), "-c", "3", "-i", "0.2", "-W", "2", str(hub.address)]
            answered = " 3 received" in node.run(argv, check=False).stdout
            made = fragments_made(node) - before[0], fragments_made(hub_node) - before[1]
            return answered and made == (0, 0), (
                f"{spoke.interface} MTU {mtu}, dialling {hub.endpoint} from {world.public6[spoke.name]}; a {mtu}-byte DF "
                f"ping to the hub answered 3/3: {answered}; outer IPv6 fragments made by the spoke, the hub: {made}"
            )

        checker.attempt("tunnel over IPv6 at its MTU, unfragmented", spoke.name, body)


def count_dns(box: Node) -> int:
    """DNS packets (UDP and TCP port 53) that left the box's inside network, counted by nft on the box."""
    if "labdns" not in box.run(["nft", "list", "tables"]).stdout:
        box.run(
            "nft -f - <<'EOF'\n"
            "table ip labdns {\n"
            '  chain count { type filter hook forward priority 0; iifname "lan0" udp dport 53 counter; '
            'iifname "lan0" tcp dport 53 counter; }\n'
            "}\nEOF"
        )
    out = box.run(["nft", "list", "chain", "ip", "labdns", "count"]).stdout
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", out))


def dns_through_the_tunnel(checker: CheckRun) -> None:
    """Each spoke with the lab resolver as DNS server: a lookup, who the resolver saw, what its café counted."""
    world = checker.world
    spokes = [s for s in world.vpn.spokes if RESOLVER in s.dns]
    if not spokes:
        return
    for box in (world.nat[s.name] for s in spokes if s.name in world.nat):
        count_dns(box)  # the counters exist before any lookup is judged
    for spoke in spokes:
        name = "DNS through the tunnel, none on the café" if spoke.tunnel == "full" else "DNS of a split tunnel goes direct"
        checker.attempt(name, spoke.name, lambda spoke=spoke: _judge_lookup(checker, spoke))
    checker.attempt(
        "this machine's resolver untouched",
        "-",
        lambda: (
            (now := host_resolver_fingerprint()) == world.host_resolver,
            f"/etc/resolv.conf here: {world.host_resolver} before, {now} after",
        ),
    )


def _judge_lookup(checker: CheckRun, spoke: Spoke) -> tuple[bool, str]:
    world = checker.world
    node = checker.node(spoke.name)
    box = world.nat.get(spoke.name)
    assert world.resolver_log is not None
    resolv = node.read_file("/etc/resolv.conf")
    before = count_dns(box) if box else 0
    earlier = len(world.resolver_log.read_text().splitlines())
    done = node.run(["getent", "ahostsv4", LAB_NAME], check=False, timeout=30)
    answer = done.stdout.split()[0] if done.stdout.split() else "-"
    sources = sorted({line.split()[0] for line in world.resolver_log.read_text().splitlines()[earlier:]})
    packets = (count_dns(box) - before) if box else 0
    stack_dns, lab_dns = world.dns_rewrites.get(spoke.name, (spoke.dns, spoke.dns))
    detail = (
        f"stack's DNS {', '.join(stack_dns)} -> lab's {', '.join(lab_dns)}; resolv.conf has it: "
        f"{f'nameserver {RESOLVER}' in resolv}; {LAB_NAME} -> {answer}; the resolver saw {sources or 'nobody'}; "
        f"DNS packets from the café's inside: {packets if box else 'no café'}"
    )
    resolved = answer == WEB and f"nameserver {RESOLVER}" in resolv
    if spoke.tunnel == "full":
        hub_public = world.public[world.vpn.hub.name]
        return resolved and sources == [hub_public] and packets == 0, detail + f" (expected: only {hub_public}, 0 packets)"
    direct = world.public[spoke.name]
    ok = resolved and direct in sources and (packets > 0 or box is None)
    return ok, detail + f" (expected: {direct} directly, counted on the café)"
