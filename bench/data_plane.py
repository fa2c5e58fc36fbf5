"""Data plane in the lab: iperf3 from a full-tunnel laptop to the web host, MTUs side by side (root).

    sudo .venv/bin/python bench/data_plane.py [--seconds 3] [--rounds 3]

The router stack (a home router on PPPoE, `uplink: pppoe`: rendered MTU 1432) with the laptop in
full tunnel and the router masquerading, built and deployed by the lab (lab.world, lab.deploy),
the laptop behind a café NAT. iperf3 runs laptop -> web (on the lab's internet) at the rendered
MTU, at 1500, at each MTU of a sweep (both tunnel ends set alike), and with the tunnel down.
Then the café's link becomes a 1492-byte PPPoE link (laptop wan0 and the café box's lan0), and
fragments are counted (IP FragCreates and ReasmReqds of every node on the path, /proc/net/snmp,
per namespace) at the rendered MTU and at 1500; last, a path below the rendered MTU (1400) to see
whether TCP still gets through. Each figure is printed as it is measured; read ratios.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.addresses import WEB  # noqa: E402
from lab.deploy import deploy  # noqa: E402
from lab.netns import Lab, Node  # noqa: E402
from lab.world import build_world  # noqa: E402
from wgsites.stack.addressing import AddressPlan  # noqa: E402
from wgsites.stack.check import load_stack_file, stack_name  # noqa: E402

SWEEP = (1280, 1340, 1380, 1400, 1420, 1432, 1440, 1460, 1480, 1500)


def full_tunnel_router_stack(folder: Path) -> Path:
    """Pulumi.router.yaml with the laptop in full tunnel (dns through it) and the router masquerading."""
    document = yaml.safe_load((ROOT / "examples" / "Pulumi.router.yaml").read_text())
    vpn = copy.deepcopy(document["config"]["wgsites:vpn"])
    vpn["hub"]["masquerade"] = True
    laptop = vpn["peers"][0]
    laptop.update(tunnel="full", dns=["9.9.9.9"])
    document["config"]["wgsites:vpn"] = vpn
    path = folder / "Pulumi.dataplane.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def throughput(laptop: Node, seconds: int) -> float:
    """Mbit/s the web host received from the laptop (iperf3 -J, one TCP stream); 0 when it failed."""
    done = laptop.run(
        ["iperf3", "-c", WEB, "-t", str(seconds), "-J", "--connect-timeout", "3000"], check=False, timeout=seconds + 30
    )
    try:
        return json.loads(done.stdout)["end"]["sum_received"]["bits_per_second"] / 1e6
    except (ValueError, KeyError):
        return 0.0


def fragments(nodes: list[Node]) -> int:
    """Fragments made plus fragments reassembled, summed over NODES (IP counters of each namespace)."""
    total = 0
    for node in nodes:
        lines = [line.split() for line in node.read_file("/proc/net/snmp").splitlines() if line.startswith("Ip:")]
        counters = dict(zip(lines[0][1:], (int(v) for v in lines[1][1:]), strict=True))
        total += counters["FragCreates"] + counters["ReasmReqds"]
    return total


def set_mtu(nodes_and_links: list[tuple[Node, str]], mtu: int) -> None:
    for node, link in nodes_and_links:
        node.run(["ip", "link", "set", "dev", link, "mtu", str(mtu)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of each iperf3 run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the sweep (medians are reported)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("error: the lab creates network namespaces: run it as root (sudo)", file=sys.stderr)
        return 2
    print(f"# data_plane {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().nodename}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="wgsites-bench-") as tmp, Lab() as lab:
        path = full_tunnel_router_stack(Path(tmp))
        vpn = load_stack_file(path)
        world = build_world(lab, stack_name(path), vpn, lab.run_dir)
        deploy(world)
        hub, laptop_spoke = world.vpn.hub, world.vpn.node("laptop")
        laptop, router, cafe = world.nodes["laptop"], world.nodes[hub.name], world.nat["laptop"]
        rendered = AddressPlan(world.vpn).plan("laptop").mtu
        tunnel = [(laptop, laptop_spoke.interface), (router, hub.interface)]
        world.web.spawn(["iperf3", "-s", "-B", WEB])
        world.web.wait_for_port(WEB, 5201)
        laptop.run(["ping", "-c", "3", "-i", "0.3", "-W", "2", WEB], check=False)  # the first handshake

        sweep: dict[int, list[float]] = {mtu: [] for mtu in sorted({*SWEEP, rendered})}
        direct: list[float] = []
        for round_ in range(args.rounds):  # interleaved rounds, medians: the machine is shared
            for mtu in sweep:
                set_mtu(tunnel, mtu)
                sweep[mtu].append(throughput(laptop, args.seconds))
            laptop.run(["wg-quick", "down", laptop_spoke.interface])
            direct.append(throughput(laptop, args.seconds))
            laptop.run(["wg-quick", "up", laptop_spoke.interface])
            laptop.run(["ping", "-c", "3", "-i", "0.3", "-W", "2", WEB], check=False)
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{m} {v[-1]:.0f}" for m, v in sweep.items())
                + f", no tunnel {direct[-1]:.0f} Mbit/s",
                flush=True,
            )
        median = {mtu: statistics.median(values) for mtu, values in sweep.items()}
        best = max(median, key=median.get)
        no_tunnel = statistics.median(direct)
        print(
            f"medians: rendered {rendered}: {median[rendered]:.0f} Mbit/s = {median[rendered] / median[best]:.2f} of the best "
            f"(MTU {best}, {median[best]:.0f}); 1500: {median[1500]:.0f} = {median[1500] / median[best]:.2f} of the best; "
            f"no tunnel {no_tunnel:.0f} (the tunnel at the rendered MTU: {median[rendered] / no_tunnel:.3f} of it)"
        )
        set_mtu(tunnel, rendered)

        # the café's link becomes PPPoE: 1492 bytes between the laptop and the café box
        access = [(laptop, "wan0"), (cafe, "lan0")]
        path_nodes = [laptop, cafe, router]
        set_mtu(access, 1492)
        for mtu in (rendered, 1500):
            set_mtu(tunnel, mtu)
            before = fragments(path_nodes)
            mbit = throughput(laptop, args.seconds)
            print(f"1492-byte path, tunnel MTU {mtu}: {fragments(path_nodes) - before} fragments, {mbit:.0f} Mbit/s", flush=True)
        set_mtu(tunnel, rendered)
        set_mtu(access, 1400)  # below the rendered MTU's 1432 + 60 bytes of WireGuard and IPv4/UDP
        before = fragments(path_nodes)
        mbit = throughput(laptop, args.seconds)
        verdict = "TCP got through" if mbit else "TCP FAILED"
        print(f"1400-byte path, tunnel MTU {rendered}: {fragments(path_nodes) - before} fragments, {mbit:.0f} Mbit/s ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
