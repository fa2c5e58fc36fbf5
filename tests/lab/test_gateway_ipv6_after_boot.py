"""An IPv6 address EC2 assigns a running gateway (hub.ipv6Egress turned on: an update in place) is used without a
reboot, and goes again when unassigned.

The home stack, dual stack with ipv6Egress, runs its aws gateway in the lab with its real user data and agent
(polling moto's SSM) and an instance metadata stand-in at 169.254.169.254 in the gateway's namespace (lab/imds.py).
Its answer first lists no IPv6 address (the instance as booted): the uplink has none. Then it lists one, as
after the provider's AssignIpv6Addresses: within the agent's periods the uplink has it, the WireGuard interface
was never restarted, and the full-tunnel phone's IPv6 reaches the lab's IPv6-only web host from that address
(the check test_dual_stack.py makes, here without the lab adding the address), and one router advertisement
(lab/router_advertisement.py, as the VPC router sends) gives the forwarding gateway its IPv6 default route.
Then it lists none again, as after UnassignIpv6Addresses: the agent removes the address it added.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from lab.addresses import HUB6, INTERNET6
from lab.checks import Checker, table
from lab.deploy import deploy, wait_for
from lab.dual_stack import ipv6_egress
from lab.netns import Lab
from lab.run import LAB_SYNC_SECONDS
from lab.services import start_imds
from lab.world import build_world
from tests.stacks import dual_stack_vpn

ADVERTISEMENT = Path(__file__).resolve().parents[2] / "lab" / "router_advertisement.py"


def uplink_ipv6(node, uplink: str) -> str:
    return node.run(["ip", "-6", "address", "show", "dev", uplink, "scope", "global"]).stdout


def default_via(node) -> tuple[str, str] | None:
    """The IPv6 default route's router and interface, when a router advertisement gave it one."""
    words = node.run(["ip", "-6", "route", "show", "default", "proto", "ra"]).stdout.split()
    return (words[words.index("via") + 1], words[words.index("dev") + 1]) if "via" in words else None


def usable(node, uplink: str) -> bool:
    """The uplink has the hub's address, past duplicate address detection (a tentative one is no source)."""
    shown = node.run(["ip", "-6", "address", "show", "dev", uplink, "scope", "global", "-tentative"]).stdout
    return f"{HUB6}/{INTERNET6.prefixlen}" in shown


def test_an_address_assigned_after_boot_carries_the_phones_ipv6_and_goes_when_unassigned():
    vpn = dual_stack_vpn("home", True)
    vpn = dataclasses.replace(
        vpn, hub=dataclasses.replace(vpn.hub, aws=dataclasses.replace(vpn.hub.aws, sync_seconds=LAB_SYNC_SECONDS))
    )
    with Lab() as lab:
        world = build_world(lab, "dual", vpn, lab.run_dir)
        hub = world.nodes[vpn.hub.name]
        uplink = world.wan[vpn.hub.name][0]
        answers = start_imds(hub)  # before the gateway boots: the instance has no IPv6 (ipv6s answers 404)
        mac = hub.read_file(f"/sys/class/net/{uplink}/address").strip()
        (answers / "latest/meta-data").mkdir(parents=True)
        (answers / "latest/meta-data/mac").write_text(mac)
        interface = answers / f"latest/meta-data/network/interfaces/macs/{mac}"
        interface.mkdir(parents=True)
        checker = Checker(deploy(world))
        state = f"/var/lib/wgsites/{vpn.hub.interface}/uplink-ipv6-added"
        assert wait_for(
            lambda: hub.run(["test", "-e", f"/var/lib/wgsites/{vpn.hub.interface}/applied-bundle"], check=False).returncode == 0,
            60,
        )
        ifindex = hub.read_file(f"/sys/class/net/{vpn.hub.interface}/ifindex")
        assert HUB6 not in uplink_ipv6(hub, uplink)

        # ipv6Egress on: the provider assigned one address on the running instance
        (interface / "subnet-ipv6-cidr-blocks").write_text(f"{INTERNET6}\n")
        (interface / "ipv6s").write_text(f"{HUB6}\n")
        assert wait_for(lambda: usable(hub, uplink), 3 * LAB_SYNC_SECONDS)
        checker.guard("IPv6 egress", "-", lambda: ipv6_egress(checker, hub_address=False))
        (row,) = [c for c in checker.results if c.name == "full tunnel IPv6 egress from the hub"]
        seen = hub.run("ip -6 address show; nft list ruleset; ip -6 route", check=False).stdout
        assert row.passed, "\n" + table(checker.results) + "\n" + seen
        assert f"the web host saw ['{HUB6}']" in row.detail
        assert hub.read_file(f"/sys/class/net/{vpn.hub.interface}/ifindex") == ifindex  # never restarted
        assert HUB6 in hub.read_file(state)

        # the default route as EC2 gives it: the VPC router's advertisement, which the forwarding gateway takes
        # (accept_ra 2 on its uplink, from the bundle's sysctl); the web host above is on link and needed none
        inet = lab.nodes["internet"]
        assert "default" not in hub.run(["ip", "-6", "route", "show", "default"]).stdout
        router = inet.run(["ip", "-6", "-o", "address", "show", "dev", "br0", "scope", "link"]).stdout.split()[3]
        assert wait_for(lambda: inet.run([sys.executable, str(ADVERTISEMENT), "br0", "1800"]) and default_via(hub), 10)
        assert default_via(hub) == (router.split("/")[0], uplink)

        # ipv6Egress off: the provider unassigned it
        (interface / "ipv6s").unlink()
        gone = wait_for(lambda: HUB6 not in uplink_ipv6(hub, uplink), 3 * LAB_SYNC_SECONDS)
        assert gone, "".join(log.read_text()[-3000:] for log in sorted((hub.dir / "logs").glob("*.log")))
        assert HUB6 not in hub.read_file(state)
        assert hub.read_file(f"/sys/class/net/{vpn.hub.interface}/ifindex") == ifindex
