"""`pulumi up` for real: the engine built here drives the SSH-managed stacks in the lab.

Per stack: up from nothing, a no-op up that touches no host, a change applied
while another tunnel carries pings, keys that never leak and stay stable,
destroy that gives every host back as it was, and an up that rebuilds it.
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

import pytest

from lab.checks import table
from lab.netns import Lab
from lab.pulumi_lab import PulumiLab, host_snapshot
from tests.qrdecode import decode_image
from tests.stacks import stack_file

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"

# The change each stack gets. The sites stack's /31 transit network has no room for a third
# node, so there the change is a new LAN behind beta (new AllowedIPs on both gateways).
CHANGES = {
    "router": ("peer", {"name": "tablet", "address": "10.10.11.3"}),
    "internal": ("peer", {"name": "tablet", "address": "10.10.10.12"}),
    "sites": ("lan", {"site": "beta", "lan": "10.10.12.0/24"}),
}
ORIGINAL = "# the operator's own config, there before wgsites\n[Interface]\nListenPort = 40000\n"


def private_keys_in(text: str) -> set[str]:
    return set(re.findall(r"PrivateKey = (\S+)", text))


def all_passed(results) -> None:
    failed = [c for c in results if not c.passed]
    assert not failed, "\n" + table(failed)


@pytest.mark.parametrize("stack", ["router", "internal", "sites"])
def test_pulumi_up_for_real(stack, capsys):
    timings: dict[str, float] = {}
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file(stack))
        vpn = pl.world.vpn
        managed = {n.name: n.interface for n in vpn.nodes if getattr(n, "ssh", None)}
        nodes = pl.world.nodes
        hub = vpn.hub
        nodes[hub.name].write_file(f"/etc/wireguard/{hub.interface}.conf", ORIGINAL, 0o600)
        before = {name: host_snapshot(nodes[name], iface) for name, iface in managed.items()}

        # 1. up from nothing: every tunnel up, the stack's checks pass
        timings["up from nothing"] = pl.up().seconds
        all_passed(pl.check())
        outputs = pl.outputs()
        roaming_keys = {s.name: private_keys_in(outputs[f"{s.name}_config"]) for s in vpn.spokes if s.delivery == "file"}
        for spoke in (s for s in vpn.spokes if s.delivery == "file" and s.key_source == "derived"):
            # its QR code, made on demand by `wgsites qr` from the config this CLI gives back (the state keeps none)
            png = lab.run_dir / f"{spoke.name}.png"
            qr = f"cd {pl.project} && .venv/bin/python -m wgsites qr {spoke.name} --stack {pl.stack} --png {png}"
            pl.operator.run(qr, env=pl.env())
            assert decode_image(png) == outputs[f"{spoke.name}_config"].encode(), f"{spoke.name}'s code"  # not printed
        host_keys = {name: nodes[name].read_file(f"/etc/wireguard/{iface}.key").strip() for name, iface in managed.items()}

        # 2. a second up with no change touches no host
        stamps = {
            name: nodes[name].run(f"stat -c %Y.%N /etc/wireguard/{iface}.conf; wg show {iface} latest-handshakes").stdout
            for name, iface in managed.items()
        }
        noop = pl.up("--expect-no-changes")
        timings["no-op up"] = noop.seconds
        assert "unchanged" in noop.output and not re.search(r"^\s*[~+-]\s+command:", noop.output, re.M)
        for name, iface in managed.items():
            now = nodes[name].run(f"stat -c %Y.%N /etc/wireguard/{iface}.conf; wg show {iface} latest-handshakes").stdout
            assert now == stamps[name], f"{name} was touched by a no-op up"

        # 3. a change: the preview shows it (and no key), the up applies it without a lost ping
        kind, change = CHANGES[stack]
        raw = copy.deepcopy(pl.raw)
        if kind == "peer":
            raw.setdefault("peers", []).append(dict(change))
            pl.add_roaming_node(change["name"], "203.0.113.77", 77)
        else:
            site = next(s for s in raw["sites"] if s["name"] == change["site"])
            site["lans"] = [*site.get("lans", []), change["lan"]]
        pl.set_vpn(raw)
        preview = pl.pulumi("preview", "--diff", "--stack", pl.stack)
        if kind == "peer":
            assert re.search(rf"^\s*\+\s*# {change['name']}$", preview.output, re.M), preview.output[-3000:]
            assert re.search(rf"^\s*\+\s*AllowedIPs = {re.escape(change['address'])}/32$", preview.output, re.M)
            assert re.search(r"^\s*\+\s*\[Peer\]$", preview.output, re.M)
        else:
            assert re.search(rf"^\s*[-+~]\s*AllowedIPs = .*{re.escape(change['lan'])}", preview.output, re.M)
        pinger = vpn.spokes[0]
        log = lab.run_dir / "change-ping.log"
        pid = nodes[pinger.name].spawn(
            ["ping", "-n", "-i", "0.05", "-c", "240", "-W", "1", "-w", "40", str(hub.address)], log=log
        )
        timings["change (up)"] = pl.up().seconds
        while lab.is_running(pid):
            pass
        sent, got = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", log.read_text()).groups())
        assert sent > 100 and got == sent, f"{sent - got} of {sent} pings lost through {pinger.name} during the change"
        results = pl.check()
        all_passed(results)
        if kind == "lan":
            routes = nodes[hub.name].run(["ip", "route", "show", "dev", hub.interface]).stdout
            assert change["lan"] in routes

        # 4. keys: hosts' keys made on the hosts and nowhere in the state; Pulumi-made keys stable
        outputs = pl.outputs()
        for name, keys in roaming_keys.items():
            assert private_keys_in(outputs[f"{name}_config"]) == keys, f"{name}'s key changed on a second up"
        export = pl.pulumi("stack", "export", "--show-secrets", "--stack", pl.stack).output
        state = subprocess.run(["cat", *map(str, (lab.run_dir / "state").rglob("*.json"))], capture_output=True, text=True).stdout
        cli_output = "\n".join(r.output for r in pl.runs if "--show-secrets" not in r.args)
        for name, key in host_keys.items():
            assert key not in export and key not in state and key not in cli_output, f"{name}'s private key leaked"
        for keys in roaming_keys.values():
            for key in keys:
                assert key in export  # the check can fail: a secret is there when shown
                assert key not in state and key not in cli_output, "a roaming key is in plain text"

        # 5. destroy gives every host back as it was; a later up rebuilds it
        timings["destroy"] = pl.destroy().seconds
        for name, iface in managed.items():
            assert host_snapshot(nodes[name], iface) == before[name], f"{name} is not as it was before the first up"
        assert ORIGINAL == nodes[hub.name].read_file(f"/etc/wireguard/{hub.interface}.conf")
        timings["up again"] = pl.up().seconds
        all_passed(pl.check())
        pl.destroy()

    line = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
    with capsys.disabled():
        print(f"\n{stack}: {line}")
