"""Preshared keys with the real engine: turned on, then rotated under ping, over real SSH.

The sites stack (alpha hub and beta site, both SSH hosts): `presharedKey: true` is an `up` that
pushes the hook line (a readable diff) and each end's key (a `[secret]` stdin); pings through the
tunnel lose nothing; both ends run the key derived from the test's own seed, and keep it through a
restart (the hook loads the 0600 store). Then `wgsites:presharedKeyRotations: {beta: 1}`: the
preview shows the two `-psk` commands and nothing else, the `up` changes both ends (the seconds
between them printed) with 0 of the pings at 50 ms lost, both run the new key, and an end holding
the old one gets no handshake. The router stack: a device with a preshared key comes up from its
exported config.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time

import yaml

from lab.netns import Lab
from lab.pulumi_lab import PulumiLab
from tests.engine.test_pulumi_rename_and_move import pings_while, steps
from tests.engine.test_pulumi_up import all_passed
from tests.stacks import stack_file
from wgsites.stack.keys import derive_preshared_key, preshared_key_label


def seed_of(pl: PulumiLab) -> str:
    """The stack's seed, as its operator can read it (the test derives the keys it expects from it)."""
    return pl.pulumi("config", "get", "wgsites:keySeed", "--stack", pl.stack).output.strip()


def running_preshared_keys(pl: PulumiLab, node: str, interface: str) -> dict[str, str]:
    out = pl.world.nodes[node].run(["wg", "show", interface, "preshared-keys"]).stdout
    return dict(line.split("\t") for line in out.splitlines())


def set_stack_config(pl: PulumiLab, key: str, value: object) -> None:
    """A key beside wgsites:vpn in the stack file, as `pulumi config set --path` would write it."""
    path = pl.project / f"Pulumi.{pl.stack}.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"][key] = value
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def psk_written_at(pl: PulumiLab, node: str, interface: str) -> float:
    """When NODE's store was last written (its mtime; the lab's hosts share one clock)."""
    return float(pl.world.nodes[node].run(["stat", "-c", "%.9Y", f"/etc/wireguard/{interface}.psk"]).stdout)


def leaks(pl: PulumiLab, values: list[str]) -> list[str]:
    """Where any of VALUES shows in plain text: every CLI output (but --show-secrets'), the state files."""
    state = subprocess.run(["cat", *map(str, (pl.lab.run_dir / "state").rglob("*.json"))], capture_output=True, text=True).stdout
    cli = "\n".join(r.output for r in pl.runs if "--show-secrets" not in r.args and "get" not in r.args)
    return [where for where, text in (("state", state), ("cli output", cli)) for v in values if v in text]


def test_preshared_keys_turned_on_then_rotated_under_ping(capsys):
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("sites"))
        alpha, beta = pl.world.nodes["alpha"], pl.world.nodes["beta"]
        hub_address = str(pl.world.vpn.hub.address)
        pl.up()
        all_passed(pl.check())
        seed = seed_of(pl)
        first = derive_preshared_key(seed, preshared_key_label("beta", 0))
        keys = pl.outputs()["public_keys"]

        # 1. on: the config's diff shows the hook, the keys go as [secret]; nothing lost
        raw = copy.deepcopy(pl.raw)
        raw["presharedKey"] = True
        pl.set_vpn(raw)
        preview = pl.pulumi("preview", "--diff", "--stack", pl.stack).output
        assert re.search(r"^\s*\+\s*PostUp = test ! -f /etc/wireguard/%i.psk", preview, re.M), preview[-3000:]
        assert {
            ("command:remote:Command", "vpn-alpha-psk", "create"),
            ("command:remote:Command", "vpn-beta-psk", "create"),
        } <= steps(preview), preview[-3000:]
        assert "[secret]" in preview and first not in preview
        sent, got, _ = pings_while(pl, "beta", hub_address, pl.up)
        assert sent >= 150 and got == sent, f"{sent - got} of {sent} pings lost while preshared keys were turned on"
        on = (sent, sent - got)
        assert running_preshared_keys(pl, "alpha", "wgA") == {keys["beta"]: first}
        assert running_preshared_keys(pl, "beta", "wgB") == {keys["alpha"]: first}
        for node, iface in ((alpha, "wgA"), (beta, "wgB")):
            assert node.run(["stat", "-c", "%a", f"/etc/wireguard/{iface}.psk"]).stdout.strip() == "600"
            assert "PresharedKey" not in node.read_file(f"/etc/wireguard/{iface}.conf")
        # a restart loads it from the store (the hook), and the tunnel handshakes with it
        beta.run("wg-quick down wgB && wg-quick up wgB")
        assert running_preshared_keys(pl, "beta", "wgB") == {keys["alpha"]: first}
        assert beta.run(["ping", "-c", "1", "-w", "20", hub_address], check=False).returncode == 0
        assert "unchanged" in pl.up("--expect-no-changes").output

        # 2. rotated: only the two -psk commands change, both ends in the same up, no ping lost
        set_stack_config(pl, "wgsites:presharedKeyRotations", {"beta": 1})
        second = derive_preshared_key(seed, preshared_key_label("beta", 1))
        preview = pl.pulumi("preview", "--diff", "--stack", pl.stack).output
        assert steps(preview) == {
            ("command:remote:Command", "vpn-alpha-psk", "update"),
            ("command:remote:Command", "vpn-beta-psk", "update"),
        }, preview[-3000:]
        assert second not in preview and first not in preview
        before = time.time()
        sent, got, _ = pings_while(pl, "beta", hub_address, pl.up)
        assert sent >= 150 and got == sent, f"{sent - got} of {sent} pings lost during the rotation"
        assert running_preshared_keys(pl, "alpha", "wgA") == {keys["beta"]: second}
        assert running_preshared_keys(pl, "beta", "wgB") == {keys["alpha"]: second}
        changed = {node: psk_written_at(pl, node, iface) for node, iface in (("alpha", "wgA"), ("beta", "wgB"))}
        assert all(t >= before for t in changed.values())
        gap = abs(changed["alpha"] - changed["beta"])
        assert gap < 60  # inside REJECT_AFTER_TIME - REKEY_AFTER_TIME: a session keeps its keys that long

        # 3. the old key is refused: beta, holding it again (a fresh session), gets no handshake;
        # the new key, put back the same way, handshakes at once
        config = beta.run(["wg", "showconf", "wgB"]).stdout
        assert f"PresharedKey = {second}" in config
        beta.write_file("/etc/wireguard/psk-old.conf", config.replace(second, first), 0o600)
        beta.write_file("/etc/wireguard/psk-new.conf", config, 0o600)
        beta.run(["wg", "setconf", "wgB", "/etc/wireguard/psk-old.conf"])
        refused = beta.run(["ping", "-c", "8", "-i", "1", "-W", "1", hub_address], check=False)
        assert refused.returncode != 0, refused.stdout
        shakes = beta.run(["wg", "show", "wgB", "latest-handshakes"]).stdout.split()
        assert shakes == [keys["alpha"], "0"], shakes
        beta.run(["wg", "setconf", "wgB", "/etc/wireguard/psk-new.conf"])
        beta.run(["rm", "-f", "/etc/wireguard/psk-old.conf", "/etc/wireguard/psk-new.conf"])
        assert beta.run(["ping", "-c", "1", "-w", "20", hub_address], check=False).returncode == 0

        # 4. a store deleted by hand: `pulumi up --replace` on the node's -psk command writes it again
        # (delete before replace: the old resource's forget runs first)
        beta.run(["rm", "/etc/wireguard/wgB.psk"])
        preview = pl.pulumi("preview", "--diff", "--stack", pl.stack).output
        assert "the preshared key file /etc/wireguard/wgB.psk is missing" in preview, preview[-3000:]
        assert steps(preview) == {("command:remote:Command", "vpn-beta-repair", "update")}, preview[-3000:]
        export = json.loads(pl.pulumi("stack", "export", "--stack", pl.stack).output)
        urn = next(r["urn"] for r in export["deployment"]["resources"] if r["urn"].endswith("::vpn-beta-psk"))
        pl.up("--replace", urn)
        assert running_preshared_keys(pl, "beta", "wgB") == {keys["alpha"]: second}
        assert second in beta.read_file("/etc/wireguard/wgB.psk")
        assert beta.run(["ping", "-c", "1", "-w", "20", hub_address], check=False).returncode == 0
        assert "unchanged" in pl.up("--expect-no-changes").output  # the drift is gone with the store back

        assert not leaks(pl, [first, second]), leaks(pl, [first, second])
        all_passed(pl.check())
        pl.destroy()
        for node, iface in ((alpha, "wgA"), (beta, "wgB")):
            assert node.run(["test", "!", "-e", f"/etc/wireguard/{iface}.psk"], check=False).returncode == 0

    with capsys.disabled():
        print(
            f"\npreshared keys: on under ping {on[0]} sent, {on[1]} lost; rotated under ping {sent} sent, "
            f"{sent - got} lost; the two ends' stores written {gap:.3f} s apart; old key: {8} pings, no handshake"
        )


def test_a_device_with_a_preshared_key_comes_up():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        raw = copy.deepcopy(pl.raw)
        raw["presharedKey"] = True
        pl.set_vpn(raw)
        pl.up()
        all_passed(pl.check())  # the laptop imports its exported config (PresharedKey inline) and reaches the LAN
        expected = derive_preshared_key(seed_of(pl), preshared_key_label("laptop", 0))
        keys = pl.outputs()["public_keys"]
        assert running_preshared_keys(pl, "router", "wg0") == {keys["laptop"]: expected}
        assert running_preshared_keys(pl, "laptop", "home0") == {keys["router"]: expected}
        assert f"PresharedKey = {expected}" in pl.outputs()["laptop_config"]
        assert not leaks(pl, [expected]), leaks(pl, [expected])
        pl.destroy()
