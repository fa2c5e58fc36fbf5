"""The hosts' own Prometheus metrics (wgsites:vpn.metricsDir), as node_exporter's textfile collector would read them.

Real hosts in the lab, real tunnels, the files read back with the Prometheus client library's own parser:

- the router stack (a hub managed over SSH, a laptop): `pulumi up`'s install writes the first file and sets up
  what runs `metrics` each minute (the lab's nodes run no systemd: the script says to run it from cron); the
  test runs exactly what the timer's unit runs (`/usr/local/sbin/wgsites-install-wg0 metrics`) after the laptop
  sent traffic; a peer name with a quote and a backslash (the config's `# name` comment edited on the host)
  comes back as it was; `status --format prometheus` agrees; `remove` takes the file and the script away;
- the travel stack's aws gateway, its real user data and agent against the lab's SSM stand-in: the agent
  writes the file each sync, with its last sync and the bundle serial it applied, and `status --format
  prometheus` shows the same serial from SSM.

The folder is /var/lib/wgsites/node-exporter: the lab's nodes share this machine's /var/lib but for their private
folders (lab.netns.DEFAULT_PRIVATE_DIRS), and /var/lib/wgsites is one of them. The real systemd timer is
tests/lab/test_systemd_host.py's kind of host: test_metrics_timer_systemd.py.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time

from lab.deploy import LAB_CREDENTIALS, deploy, run_over_ssh, ssm_endpoint, wait_for
from lab.netns import Lab
from lab.run import LAB_SYNC_SECONDS
from lab.world import build_world
from tests.prometheus_text import parsed as samples
from tests.prometheus_text import value
from tests.stacks import ROOT, stack_file
from wgsites.operations.host_status import collect
from wgsites.operations.status_metrics import status_metrics
from wgsites.rendering.render import INSTALL_PATH, install_command
from wgsites.stack.check import load_stack_file

FOLDER = "/var/lib/wgsites/node-exporter"
HOSTILE = 'lap"top\\x'  # a peer name no stack allows, as a hand-edited comment on the host can have it


def test_an_ssh_hosts_metrics_file_is_what_its_tunnels_do():
    vpn = dataclasses.replace(load_stack_file(stack_file("router")), metrics_dir=FOLDER)
    with Lab() as lab:
        world = build_world(lab, "router", vpn, lab.run_dir)
        deploy(world)
        vpn, router, laptop = world.vpn, world.nodes["router"], world.nodes["laptop"]
        prom = f"{FOLDER}/wgsites-{vpn.hub.interface}.prom"
        self = INSTALL_PATH.format(interface=vpn.hub.interface)
        first = router.read_file(prom)  # the install wrote the first one
        assert value(samples(first), "wgsites_interface_up", node="router") == 1

        assert laptop.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", str(vpn.hub.address)], check=False).returncode == 0
        router.run([self, "metrics"])  # what wgsites-metrics-wg0.service runs each minute
        text = router.read_file(prom)
        found = samples(text)
        labels = {"stack": "router", "node": "router", "interface": vpn.hub.interface, "peer": "laptop"}
        assert value(found, "wgsites_peer_up", **labels, peer_kind="device") == 1
        handshake = value(found, "wgsites_peer_last_handshake_timestamp_seconds", **labels)
        assert time.time() - 60 < handshake <= time.time()
        assert 0 <= value(found, "wgsites_peer_handshake_age_seconds", **labels) < 60
        assert value(found, "wgsites_peer_received_bytes_total", **labels) > 3 * 84  # three pings and a handshake
        assert value(found, "wgsites_peer_sent_bytes_total", **labels) > 3 * 84
        assert (value(found, "wgsites_peers", node="router"), value(found, "wgsites_peers_up", node="router")) == (1, 1)
        # readable by node_exporter's user, replaced whole (no scratch file left), no key in it
        assert router.run(["ls", "-A", FOLDER]).stdout == f"wgsites-{vpn.hub.interface}.prom\n"
        assert router.run(["stat", "-c", "%a", prom]).stdout == "644\n"
        public = router.run(["wg", "show", vpn.hub.interface, "public-key"]).stdout.strip()
        assert public[:20] not in text and "PrivateKey" not in text
        assert "wgsites_gateway" not in text  # the agent's facts: an aws hub only
        print(f"\n{text}")

        # `status --format prometheus` from the operator's side sees the same tunnel up
        rows = collect(vpn, "router", lambda node, command: run_over_ssh(world, node, command))
        seen = samples(status_metrics(vpn, "router", rows))
        assert value(seen, "wgsites_peer_up", **labels) == 1

        # a hostile name in the host's config: escaped, read back as it was (the file would not parse unescaped)
        edit = f"s/^# laptop$/# {HOSTILE.replace(chr(92), chr(92) * 2)}/"  # sed's replacement: each \ doubled
        router.run(["sed", "-i", edit, f"/etc/wireguard/{vpn.hub.interface}.conf"])
        router.run([self, "metrics"])
        hostile = router.read_file(prom)
        assert value(samples(hostile), "wgsites_peer_up", peer=HOSTILE) == 1, hostile

        # remove: the file, the script's copy and its record go with the interface
        command = install_command(vpn, "router", "router", "remove")
        run_over_ssh(world, "router", command)
        gone = router.run(["sh", "-c", f"ls -A {FOLDER}; ls {shlex.quote(self)}"], check=False)
        assert gone.stdout == "" and "No such file" in gone.stderr, gone


def test_the_aws_gateways_agent_writes_its_metrics_each_sync():
    vpn = load_stack_file(stack_file("travel"))
    aws = dataclasses.replace(vpn.hub.aws, sync_seconds=LAB_SYNC_SECONDS)
    vpn = dataclasses.replace(vpn, hub=dataclasses.replace(vpn.hub, aws=aws), metrics_dir=FOLDER)
    with Lab() as lab:
        world = build_world(lab, "travel", vpn, lab.run_dir)
        deploy(world)
        gateway, laptop = world.nodes[vpn.hub.name], world.nodes["laptop"]
        prom = f"{FOLDER}/wgsites-{vpn.hub.interface}.prom"
        assert wait_for(lambda: laptop.run(["ping", "-c1", "-W1", str(vpn.hub.address)], check=False).returncode == 0, 30)

        def written() -> dict | None:
            text = gateway.run(["cat", prom], check=False).stdout
            found = samples(text) if text else {}
            up = [v for (n, have), v in found.items() if n == "wgsites_peer_up" and dict(have)["peer"] == "laptop"]
            return found if up == [1] else None

        assert wait_for(written, 2 * LAB_SYNC_SECONDS + 10, interval=1) is not None, gateway.run(["ls", "-la", FOLDER]).stdout
        started = time.time()
        time.sleep(LAB_SYNC_SECONDS + 2)
        found = written()
        labels = {"stack": "travel", "node": vpn.hub.name, "interface": vpn.hub.interface}
        last_sync = value(found, "wgsites_gateway_last_sync_timestamp_seconds", **labels)
        assert started - 1 <= last_sync <= time.time(), (started, last_sync)  # rewritten at each sync
        serial = value(found, "wgsites_gateway_bundle_serial", **labels)
        assert serial > 0
        assert value(found, "wgsites_peer_up", **labels, peer="laptop", peer_kind="device") == 1

        # the same serial as `status` reads it from SSM, through its command line as a user runs it
        argv = [sys.executable, "-m", "wgsites", "status", str(stack_file("travel")), "--format", "prometheus"]
        env = {**LAB_CREDENTIALS, "AWS_ENDPOINT_URL_SSM": ssm_endpoint(), "PYTHONPATH": str(ROOT)}
        done = world.operator.run(argv, env=env, check=False, timeout=60)
        assert "Traceback" not in done.stderr
        seen = samples(done.stdout)
        assert value(seen, "wgsites_gateway_bundle_serial", node=vpn.hub.name) == serial
        assert time.time() - value(seen, "wgsites_gateway_status_published_timestamp_seconds", node=vpn.hub.name) < 600
        print(f"\n{gateway.read_file(prom)}\n{done.stdout}")
