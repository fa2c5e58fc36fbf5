"""Hub reload and change cost in the lab: one install at 100, 1000 and 2000 peers, pings on a running tunnel (root).

    sudo .venv/bin/python bench/hub_reload.py [--peers 100,1000,2000] [--ssm]

The router stack's world (lab.world: a home router managed over SSH, a laptop behind a café NAT),
its VPN network widened to a /20 so that thousands of peers fit. The laptop is real; the other
peers are paper ones: [Peer] sections with fresh keys that nobody dials. For each size, the hub's
config grows to that many peers and the install script runs over SSH as `pulumi up` runs it, while
the laptop pings the hub through its tunnel every 20 ms; then one peer more (the change a user
makes: `wg syncconf`). Printed: seconds per install, seconds per peer (linear growth keeps it
flat), pings lost. Last, the naive way for comparison: `wg-quick down && wg-quick up` on the hub,
pings lost, and the time from `up` to the laptop's first answered ping. With --ssm, the travel stack's
aws hub instead (the lab's SSM stand-in, a 10 s timer): the bundle of a config with that many peers
put into SSM, then one run of the sync unit timed, the laptop pinging through its full tunnel.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import ipaddress
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.deploy import deploy, put_parameters, run_over_ssh, systemctl, wait_for  # noqa: E402
from lab.netns import Lab, Node  # noqa: E402
from lab.world import build_world  # noqa: E402
from wgsites.rendering.render import KeyRing, install_command, render_wg_quick  # noqa: E402
from wgsites.stack.check import load_stack_file, stack_name  # noqa: E402
from wgsites.stack.keys import generate_private_key, public_key_of  # noqa: E402
from wgsites.stack.model import Spoke, Vpn  # noqa: E402

NETWORK = ipaddress.ip_network("10.20.0.0/20")
TRAVEL_NETWORK = ipaddress.ip_network("10.90.80.0/20")  # holds the travel stack's 10.90.90.1 and .2
LAB_SYNC_SECONDS = 10  # the aws hub's timer period in the lab, as lab.run sets it
PING_INTERVAL = 0.02


def wide_router_stack(folder: Path) -> Path:
    """Pulumi.router.yaml with its VPN network a /20 (hub .1, laptop .2), the LAN as it is."""
    document = yaml.safe_load((ROOT / "examples" / "Pulumi.router.yaml").read_text())
    vpn = copy.deepcopy(document["config"]["wgsites:vpn"])
    vpn["network"] = str(NETWORK)
    vpn["hub"]["address"] = str(NETWORK[1])
    vpn["peers"][0]["address"] = str(NETWORK[2])
    document["config"]["wgsites:vpn"] = vpn
    path = folder / "Pulumi.reload.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def with_paper_peers(vpn: Vpn, count: int) -> Vpn:
    """VPN with COUNT more peers shaped as its laptop, at addresses of its network that no node has."""
    laptop, used = vpn.node("laptop"), {n.address for n in vpn.nodes}
    free = (a for a in vpn.network.hosts() if a not in used)
    extra = tuple(dataclasses.replace(laptop, name=f"paper{i:04d}", address=next(free), endpoint=None) for i in range(count))
    return dataclasses.replace(vpn, spokes=(*vpn.spokes, *extra))


def wide_travel_stack(folder: Path) -> Path:
    """Pulumi.travel.yaml (an aws hub, synced through the lab's SSM stand-in) with its network a /20."""
    document = yaml.safe_load((ROOT / "examples" / "Pulumi.travel.yaml").read_text())
    document["config"]["wgsites:vpn"]["network"] = str(TRAVEL_NETWORK)
    path = folder / "Pulumi.reloadaws.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def ssm_sync(sizes: list[int]) -> None:
    """The aws hub: the bundle of a hub config with N peers put into SSM, timed until the hub lists them."""
    with tempfile.TemporaryDirectory(prefix="wgsites-bench-") as tmp, Lab() as lab:
        path = wide_travel_stack(Path(tmp))
        vpn = load_stack_file(path)
        aws = dataclasses.replace(vpn.hub.aws, sync_seconds=LAB_SYNC_SECONDS)
        vpn = dataclasses.replace(vpn, hub=dataclasses.replace(vpn.hub, aws=aws))
        world = build_world(lab, stack_name(path), vpn, lab.run_dir)
        dep = deploy(world)
        base, hub = world.vpn, world.vpn.hub
        laptop, gateway = world.nodes["laptop"], world.nodes[hub.name]
        hub_endpoint = f"{world.public[hub.name]}:{hub.listen_port}"
        ready = wait_for(lambda: laptop.run(["ping", "-c", "1", "-W", "1", str(hub.address)], check=False).returncode == 0, 90)
        print(f"aws hub up through the lab's SSM stand-in, the laptop answering: {ready is not None}")
        paper_keys = {f"paper{i:04d}": public_key_of(generate_private_key()) for i in range(max(sizes))}
        keys = KeyRing(public={**dep.keys.public, **paper_keys}, private=dep.keys.private)
        for peers in sizes:
            grown = with_paper_peers(base, peers)
            config = render_wg_quick(grown, hub.name, world.stack, keys, hub_endpoint=hub_endpoint)
            with Pinger(laptop, str(hub.address)) as pings:
                start = time.monotonic()
                put_parameters(world, keys, config, vpn=grown)
                put = time.monotonic() - start

                # one sync run now, as the timer would start it (the lab's systemd stand-in, serialized with the timer)
                start = time.monotonic()
                systemctl(gateway, ["start", "wgsites-sync.service"])
                sync = time.monotonic() - start
            on_hub = len(gateway.run(["wg", "show", hub.interface, "peers"]).stdout.split())
            print(
                f"{peers} peers through SSM: parameters put in {put:.1f} s, one sync run {sync:.2f} s, "
                f"{on_hub} peers on the hub, pings lost {pings.lost} of {pings.sent}",
                flush=True,
            )


class Pinger:
    """ping from NODE to TARGET every PING_INTERVAL until stopped; how many were sent and answered."""

    def __init__(self, node: Node, target: str) -> None:
        self.node, self.target = node, target

    def __enter__(self) -> Pinger:
        self.log = self.node.lab.run_dir / f"ping-{time.monotonic_ns()}.log"
        self.pid = self.node.spawn(["ping", "-n", "-i", str(PING_INTERVAL), "-W", "1", self.target], log=self.log)
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        os.kill(self.pid, 2)  # SIGINT: ping prints its summary
        time.sleep(0.3)
        out = self.log.read_text()
        found = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        self.sent, self.received = (int(found[1]), int(found[2])) if found else (0, 0)

    @property
    def lost(self) -> int:
        return self.sent - self.received


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peers", default="100,1000,2000", help="comma-separated sizes")
    parser.add_argument("--ssm", action="store_true", help="the aws hub's SSM sync instead of the SSH install")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("error: the lab creates network namespaces: run it as root (sudo)", file=sys.stderr)
        return 2
    sizes = [int(p) for p in args.peers.split(",")]
    print(f"# hub_reload {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().nodename}, {os.cpu_count()} cores")
    if args.ssm:
        ssm_sync(sizes)
        return 0
    with tempfile.TemporaryDirectory(prefix="wgsites-bench-") as tmp, Lab() as lab:
        path = wide_router_stack(Path(tmp))
        world = build_world(lab, stack_name(path), load_stack_file(path), lab.run_dir)
        dep = deploy(world)
        base, hub = world.vpn, world.vpn.hub
        laptop, router = world.nodes["laptop"], world.nodes[hub.name]
        hub_endpoint = f"{world.public[hub.name]}:{hub.listen_port}"
        laptop.run(["ping", "-c", "3", "-i", "0.3", "-W", "2", str(hub.address)], check=False)  # the first handshake
        paper_keys = {f"paper{i:04d}": public_key_of(generate_private_key()) for i in range(max(sizes) + 1)}

        def install(vpn: Vpn) -> tuple[float, int, int]:
            keys = KeyRing(public={**dep.keys.public, **paper_keys})
            config = render_wg_quick(vpn, hub.name, world.stack, keys, hub_endpoint=hub_endpoint)
            command = install_command(vpn, hub.name, world.stack, "install", hub.ssh.user)
            with Pinger(laptop, str(hub.address)) as pings:
                start = time.monotonic()
                run_over_ssh(world, hub.name, command, config)
                took = time.monotonic() - start
            return took, pings.lost, pings.sent

        for peers in sizes:
            grown = with_paper_peers(base, peers)
            took, lost, sent = install(grown)
            listed = len(router.run(["wg", "show", hub.interface, "peers"]).stdout.split())
            print(
                f"{peers} peers: install {took:.2f} s ({took / peers * 1000:.2f} ms a peer), "
                f"{listed} peers on the hub, pings through the laptop's tunnel {lost} lost of {sent}",
                flush=True,
            )
            took, lost, sent = install(with_paper_peers(base, peers + 1))
            print(f"{peers} peers, one peer added (wg syncconf): install {took:.2f} s, {lost} lost of {sent}", flush=True)
        install(base)
        assert all(isinstance(s, Spoke) for s in base.spokes)
        with Pinger(laptop, str(hub.address)) as pings:
            start = time.monotonic()
            router.run(["wg-quick", "down", hub.interface])
            up = time.monotonic()
            router.run(["wg-quick", "up", hub.interface])
            answered = None
            while time.monotonic() - up < 60:
                if laptop.run(["ping", "-c", "1", "-W", "1", str(hub.address)], check=False).returncode == 0:
                    answered = time.monotonic() - up
                    break
            down_up = up - start
        first = f"{answered:.1f} s" if answered is not None else "none in 60 s"
        print(
            f"naive wg-quick down && up on the hub (base stack): down took {down_up:.2f} s, first answered ping "
            f"{first} after up, pings lost {pings.lost} of {pings.sent}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
