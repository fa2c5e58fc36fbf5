"""Adopting a setup made by hand: the guide's router files, `wgsites import`, then `pulumi up` changes nothing.

The router and the laptop run the guide's configs (keys inline, made with `wg genkey`), brought up
with wg-quick by hand. `python -m wgsites import` turns those two files into the stack; the first
`up` takes the running interface over in place (same key, same port, the laptop's session and
pings uninterrupted); a peer added afterwards goes through the stack; `destroy` gives the router
its hand-made config back, running.
"""

from __future__ import annotations

import copy
import subprocess

import yaml

from lab.netns import Lab
from lab.pulumi_lab import ROOT, PulumiLab
from tests.engine.test_pulumi_rename_and_move import pings_while
from tests.stacks import stack_file
from wgsites.stack.endpoints import with_port


def genkey(node) -> tuple[str, str]:
    private = node.run(["wg", "genkey"]).stdout.strip()
    return private, node.run(["wg", "pubkey"], input=private + "\n").stdout.strip()


def test_import_then_up_takes_a_hand_made_setup_over_without_a_blip():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        world = pl.world
        router, laptop = world.nodes["router"], world.nodes["laptop"]
        lan_host = world.hosts_of("router")[0]
        router_key, router_public = genkey(router)
        laptop_key, laptop_public = genkey(laptop)
        endpoint = with_port(world.vpn.hub.endpoint, 51000)
        guide_router = (
            f"[Interface]\nPrivateKey = {router_key}\nListenPort = 51000\nAddress = 10.10.11.1/24\n\n"
            f"[Peer]\n# laptop\nPublicKey = {laptop_public}\nAllowedIPs = 10.10.11.2\n"
        )
        guide_laptop = (
            f"[Interface]\nPrivateKey = {laptop_key}\nListenPort = 51000\nAddress = 10.10.11.2/24\n\n"
            f"[Peer]\nPublicKey = {router_public}\nEndpoint = {endpoint}\nAllowedIPs = 10.10.11.0/24,10.10.10.0/24\n"
        )
        router.write_file("/etc/wireguard/wg0.conf", guide_router, mode=0o600)
        laptop.write_file("/etc/wireguard/home0.conf", guide_laptop, mode=0o600)
        router.sysctl("net.ipv4.ip_forward", 1)
        router.run("wg-quick up wg0 9>&-")
        laptop.run("wg-quick up home0 9>&-")
        assert laptop.run(["ping", "-c", "2", "-W", "2", lan_host.address], check=False).returncode == 0

        # the user copies the two files off the machines and imports them
        copies = lab.run_dir / "copied"
        for node, name in ((router, "wg0.conf"), (laptop, "home0.conf")):
            (copies / node.name).mkdir(parents=True)
            (copies / node.name / name).write_text(node.read_file(f"/etc/wireguard/{name}"))
        target = world.vpn.hub.ssh
        out = lab.run_dir / "Pulumi.imported.yaml"
        imported = subprocess.run(
            [
                str(ROOT / ".venv/bin/python"),
                "-m",
                "wgsites",
                "import",
                str(copies / "router" / "wg0.conf"),
                str(copies / "laptop" / "home0.conf"),
                "--ssh",
                f"{target.host}:{target.port}",
                "--hub-name",
                "router",
                "--out",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert imported.returncode == 0, imported.stderr
        text = out.read_text()
        assert router_key not in text and laptop_key not in text and "PrivateKey" not in text
        raw = yaml.safe_load(text)["config"]["wgsites:vpn"]
        assert raw["hub"]["lans"] == ["10.10.10.0/24"] and raw["peers"][0]["publicKey"] == laptop_public
        pl.raw = raw
        pl.write_stack_file()

        handshake = router.run(["wg", "show", "wg0", "latest-handshakes"]).stdout
        ifindex = router.read_file("/sys/class/net/wg0/ifindex")
        sent, got, _ = pings_while(pl, "laptop", "10.10.11.1", pl.up)
        assert sent >= 150 and got == sent, f"{sent - got} of {sent} pings lost through the laptop during the first up"
        assert router.run(["wg", "show", "wg0", "private-key"]).stdout.strip() == router_key  # the same key
        assert router.run(["wg", "show", "wg0", "listen-port"]).stdout.strip() == "51000"
        assert router.read_file("/sys/class/net/wg0/ifindex") == ifindex  # taken over, not restarted
        # the session stayed: no new handshake was needed (one may fall due on its own after 2 minutes)
        assert router.run(["wg", "show", "wg0", "latest-handshakes"]).stdout == handshake
        assert router.read_file("/etc/wireguard/wg0.key").strip() == router_key  # adopted by the key step
        log = router.run("cat /run/wgsites/wg0.log", check=False).stdout  # the install's run
        assert "reloaded in place" in log and "restarting" not in log, log
        assert laptop.run(["ping", "-c", "2", "-W", "2", lan_host.address], check=False).returncode == 0

        # from now on, changes go through the stack
        more = copy.deepcopy(raw)
        tablet_public = genkey(router)[1]
        more["peers"].append({"name": "tablet", "address": "10.10.11.3", "publicKey": tablet_public})
        pl.raw = more
        pl.write_stack_file()
        sent, got, _ = pings_while(pl, "laptop", "10.10.11.1", pl.up)
        assert got == sent, f"{sent - got} of {sent} pings lost while a peer was added"
        assert tablet_public in router.run(["wg", "show", "wg0", "peers"]).stdout

        # and leaving wgsites gives the hand-made setup back, running
        pl.destroy()
        assert router.read_file("/etc/wireguard/wg0.conf") == guide_router
        assert router.run(["wg", "show", "wg0", "private-key"]).stdout.strip() == router_key
        # a new interface: the laptop's next handshake comes once its old session times out (about 15 s)
        back = laptop.run(["ping", "-c", "1", "-w", "40", "10.10.11.1"], check=False)
        assert back.returncode == 0, back.stdout
