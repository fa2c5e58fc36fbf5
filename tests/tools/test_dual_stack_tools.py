"""The dual-stack variants of the five examples (tests/stacks.py dual_stack_vpn) read by their real consumers:
wg-quick strip and wg setconf, the three apps' parsers (two Address entries), nft -c, sysctl -p.

Why: IPv6 adds a second Address entry, IPv6 AllowedIPs, nft rules with ip6 matches and icmpv6
rejects, and net.ipv6 sysctls; each must be one its reader takes, not only one that looks right.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests import apps
from tests.stacks import STACKS, dual_stack_vpn, render_stack

NAMED_ENDPOINT = re.compile(r"(?m)^Endpoint = [a-z0-9.-]+\.example\.net:")


@pytest.mark.parametrize("egress", [True, False])
def test_every_dual_stack_file_passes_its_real_reader(tmp_path, wg_interface, egress):
    lab_node, iface = wg_interface
    counts = {"conf": 0, "device": 0, "nft": 0, "sysctl": 0}
    for stack in STACKS:
        rendered = render_stack(stack, tmp_path / f"{stack}-{egress}", dual_stack_vpn(stack, egress))
        for node in rendered.vpn.nodes:
            files = rendered.files[node.name]
            config = rendered.conf(node.name)
            (address,) = [line for line in config.splitlines() if line.startswith("Address = ")]
            assert re.fullmatch(r"Address = [0-9.]+/\d+, fd10:[0-9a-f:]+/64", address), address
            conf = tmp_path / "strip" / f"{stack}-{egress}" / node.name / f"{node.interface}.conf"
            conf.parent.mkdir(parents=True)
            conf.write_text(NAMED_ENDPOINT.sub("Endpoint = 192.0.2.1:", config))
            stripped = subprocess.run(["wg-quick", "strip", str(conf)], check=True, capture_output=True, text=True).stdout
            setconf = lab_node.run(["wg", "setconf", iface, "/dev/stdin"], input=stripped, check=False)
            assert setconf.returncode == 0, f"{stack}/{node.name}: {setconf.stderr}"
            allowed = lab_node.run(["wg", "show", iface, "allowed-ips"]).stdout
            assert ":" in allowed, f"{stack}/{node.name}: no IPv6 AllowedIPs in {allowed!r}"
            counts["conf"] += 1
            if node.is_device:
                refused = apps.refusals(config, node.interface)
                assert not refused, f"{stack}/{node.name}: refused by {refused}"
                counts["device"] += 1
            if nft := files.get(f"{node.interface}.nft"):
                checked = lab_node.run(["nft", "-c", "-f", "-"], input=nft, check=False)
                assert checked.returncode == 0, f"{stack}/{node.name}: {checked.stderr}"
                counts["nft"] += 1
            if sysctl := files.get(f"70-wgsites-{node.interface}.conf"):
                # the uplink named in accept_ra and the hub's tunnel (send_redirects) must exist where sysctl
                # applies them: the lab node has a tunnel of its own name
                for named in (rendered.vpn.hub.masquerade, node.interface):
                    sysctl = sysctl.replace(f"conf.{named}.", f"conf.{iface}.")
                text = sysctl
                applied = lab_node.run(["sysctl", "-p", "/dev/stdin"], input=text, check=False)
                assert applied.returncode == 0, f"{stack}/{node.name}: {applied.stderr}"
                counts["sysctl"] += 1
    # 12 nodes, 5 devices; a firewall on every hub (the block, or NAT66 and its guard) and the sites stack's site;
    # a sysctl file on every hub and every site that routes LANs
    assert counts == {"conf": 12, "device": 5, "nft": 6, "sysctl": 7}
    forwarding = lab_node.run(["sysctl", "-n", "net.ipv6.conf.all.forwarding"]).stdout.strip()
    assert forwarding == "1"
