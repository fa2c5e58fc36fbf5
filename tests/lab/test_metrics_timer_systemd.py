"""A host's metrics timer under a real systemd (lab/systemd_host.py): installed by the install script over SSH,
it rewrites node_exporter's textfile by itself each minute; turning metricsDir off takes the timer, the file and
the script's copy away, and `remove` leaves the host's units and files as they were.

The hub runs systemd in a container (its own overlay of /: Debian's textfile folder,
/var/lib/prometheus/node-exporter, is the container's); the site s1 is a plain lab node.
"""

from __future__ import annotations

import dataclasses
import time

from prometheus_client.parser import text_string_to_metric_families

from lab.netns import Lab
from lab.services import generate_ssh_keypair, ssh
from lab.systemd_host import SystemdHost
from wgsites.rendering.render import INSTALL_PATH, KeyRing, install_command, render_wg_quick
from wgsites.stack.parse import parse_vpn

STACK, IFACE = "lab", "wg0"
HUB, S1, OPERATOR = "192.0.2.1", "192.0.2.2", "192.0.2.9"
FOLDER = "/var/lib/prometheus/node-exporter"  # Debian's prometheus-node-exporter default
PROM = f"{FOLDER}/wgsites-{IFACE}.prom"
TIMER, SERVICE = f"wgsites-metrics-{IFACE}.timer", f"wgsites-metrics-{IFACE}.service"
SELF = INSTALL_PATH.format(interface=IFACE)
BOUND = 5  # seconds per systemctl call in the hub's script
SNAPSHOT = (
    "find /etc/wireguard /etc/systemd/system /usr/local/sbin /var/lib/wgsites -printf '%p %m %s\\n' 2>&1 | sort;"
    " systemctl list-units --all --plain --no-legend 'wg*' 'wgsites*'; systemctl --failed --plain --no-legend"
)
VPN_OFF = parse_vpn(
    {
        "network": "10.50.0.0/24",
        "hub": {"name": "hub", "kind": "ssh", "address": "10.50.0.1", "endpoint": HUB, "ssh": {"host": HUB}},
        "sites": [{"name": "s1", "address": "10.50.0.2", "ssh": {"host": S1}}],
    }
)
VPN = dataclasses.replace(VPN_OFF, metrics_dir=FOLDER)


def peer_up(text: str) -> dict[str, float]:
    return {
        s.labels["peer"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "wgsites_peer_up"
    }


def test_the_metrics_timer_rewrites_the_textfile_each_minute_under_systemd():
    with Lab() as lab:
        key, public_line = generate_ssh_keypair(lab.run_dir / "operator-ssh")
        switch = lab.node("sw")
        with SystemdHost(lab, "hub", public_line) as hub:
            op, s1 = lab.node("op"), lab.node("s1")
            for name, node, address in (("hub", hub.node, HUB), ("op", op, OPERATOR), ("s1", s1, S1)):
                lab.link(node, "eth0", switch, f"p-{name}")
                node.add_address("eth0", f"{address}/24")
            switch.add_bridge("br0", ["p-hub", "p-op", "p-s1"])
            op.wait_for_port(HUB, 22, timeout=10)
            before = hub.run(SNAPSHOT).stdout

            def on_hub(action: str, vpn=VPN, config: str | None = None):
                command = install_command(vpn, "hub", STACK, action, systemctl_seconds=BOUND)
                return ssh(op, host=HUB, key=key, command=command, input=config, timeout=90)

            public = {"hub": on_hub("public-key").stdout.strip()}
            public["s1"] = s1.run(install_command(VPN, "s1", STACK, "public-key")).stdout.strip()
            keys = KeyRing(public=public)
            s1.run(install_command(VPN, "s1", STACK, "install"), input=render_wg_quick(VPN, "s1", STACK, keys))
            done = on_hub("install", config=render_wg_quick(VPN, "hub", STACK, keys))
            assert f"writing Prometheus metrics to {PROM} every 60 s ({TIMER})" in done.stderr, done.stderr
            assert hub.unit_state(TIMER) == ("enabled", "active")
            assert s1.run(["ping", "-c", "2", "-W", "2", "10.50.0.1"], check=False).returncode == 0

            # the timer's own run, not ours: the file's mtime moves within a period
            first = hub.run(["stat", "-c", "%Y", PROM]).stdout.strip()
            deadline = time.monotonic() + 150  # a period (60 s), with room for a loaded machine
            while hub.run(["stat", "-c", "%Y", PROM]).stdout.strip() == first and time.monotonic() < deadline:
                time.sleep(2)
            assert hub.run(["stat", "-c", "%Y", PROM]).stdout.strip() != first, "the timer did not rewrite the file"
            assert hub.unit_state(SERVICE)[1] == "inactive"  # a oneshot that ended well
            text = hub.run(["cat", PROM]).stdout
            assert peer_up(text) == {"s1": 1}, text
            assert 'peer_kind="site"' in text
            print(f"\n{hub.run(['systemctl', 'list-timers', '--no-pager', TIMER]).stdout}")

            # metricsDir gone from the stack: the timer, the file and the script's copy go (no host-name endpoint
            # keeps the copy), with no failed unit left behind
            done = on_hub("install", VPN_OFF, render_wg_quick(VPN_OFF, "hub", STACK, keys))
            assert f"{TIMER.removesuffix('.timer')}.timer removed" in done.stderr
            assert hub.run(["ls", "-A", FOLDER]).stdout == ""
            assert hub.run(["ls", SELF], check=False).returncode != 0
            assert hub.unit_state(TIMER)[1] == "inactive"

            on_hub("install", config=render_wg_quick(VPN, "hub", STACK, keys))  # on again, then remove
            assert hub.unit_state(TIMER) == ("enabled", "active") and peer_up(hub.run(["cat", PROM]).stdout) == {"s1": 1}
            on_hub("remove")
            assert hub.run(["ls", "-A", FOLDER]).stdout == ""
            assert hub.run(SNAPSHOT).stdout == before
