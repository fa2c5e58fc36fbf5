"""Drift with the real engine: a host changed by hand shows in `pulumi preview`, and the next `up` puts it back.

Three changes an operator makes on the router behind the stack's back: a peer added with `wg
set`, the listen port changed, the key file deleted. Each time the preview shows one update, the
router's repair command with a new marker (a hash of the findings and the repair's number), and
says in its log what the drift check saw; the up puts the router back without
touching the laptop's tunnel (its session and pings kept; for the port, it reconnects); the next
up has nothing to do.
"""

from __future__ import annotations

import re

from lab.deploy import run_over_ssh
from lab.netns import Lab
from lab.pulumi_lab import PulumiLab
from tests.engine.test_pulumi_rename_and_move import pings_while, steps
from tests.engine.test_pulumi_up import all_passed
from tests.stacks import stack_file
from wgsites.operations.host_status import collect, format_rows
from wgsites.stack.keys import generate_private_key, public_key_of


def preview_shows_only_the_repair(pl: PulumiLab, finding: str, repair: int) -> None:
    output = pl.pulumi("preview", "--diff", "--stack", pl.stack).output
    changed = {(typ, name, op) for typ, name, op in steps(output)}
    assert changed == {("command:remote:Command", "vpn-router-repair", "update")}, output[-3000:]
    marker = rf"drift [0-9a-f]{{16}} \(repair {repair}\)"
    assert re.search(rf"router drifted from its config: {re.escape(finding)}; the next up puts it back \({marker}\)", output)
    assert re.search(rf"wgsites-install repair '{marker}'", output), output[-3000:]  # the diff: fixed words and a hash


def test_a_router_changed_by_hand_is_shown_then_put_back():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        router, laptop = pl.world.nodes["router"], pl.world.nodes["laptop"]
        pl.up()
        all_passed(pl.check())
        assert "unchanged" in pl.up("--expect-no-changes").output  # the check itself changes nothing

        # 1. a peer added by hand
        stranger = public_key_of(generate_private_key())
        router.run(["wg", "set", "wg0", "peer", stranger, "allowed-ips", "10.10.11.99/32"])
        preview_shows_only_the_repair(pl, f"peer {stranger[:8]}... is not in the stack (added by hand?)", 1)
        # `wgsites status` names it too (as its CLI asks over SSH; here through the lab's SSH client)
        rows = collect(pl.world.vpn, pl.stack, lambda node, command: run_over_ssh(pl.world, node, command))
        drift = [(r.node, r.state, r.detail) for r in rows if r.state != "ok"]
        assert drift == [
            ("router", "drift", f"peer {stranger[:8]}... is not in the stack (added by hand?); the next `pulumi up` puts it back")
        ], format_rows(rows)
        shake = router.run(["wg", "show", "wg0", "latest-handshakes"]).stdout
        shake = next(line for line in shake.splitlines() if not line.startswith(stranger))
        sent, got, _ = pings_while(pl, "laptop", "10.10.11.1", pl.up)
        assert sent >= 150 and got == sent, f"{sent - got} of {sent} pings lost through the laptop during the repair"
        assert stranger not in router.run(["wg", "show", "wg0", "peers"]).stdout
        assert shake in router.run(["wg", "show", "wg0", "latest-handshakes"]).stdout  # the laptop's session kept
        assert "unchanged" in pl.up("--expect-no-changes").output  # repaired once, not again

        # 2. another listen port: the laptop's tunnel breaks until the repair
        router.run(["wg", "set", "wg0", "listen-port", "51999"])
        preview_shows_only_the_repair(pl, "wg0 listens on port 51999, the stack says 51000", 2)
        pl.up()
        assert router.run(["wg", "show", "wg0", "listen-port"]).stdout.strip() == "51000"
        back = laptop.run(["ping", "-c", "1", "-w", "40", "10.10.11.1"], check=False)
        assert back.returncode == 0, back.stdout

        # 3. the key file deleted: the running key is written back (its peers know it)
        running = router.run(["wg", "show", "wg0", "private-key"]).stdout.strip()
        router.run(["rm", "/etc/wireguard/wg0.key"])
        preview_shows_only_the_repair(pl, "the key file /etc/wireguard/wg0.key is missing", 3)
        pl.up()
        assert router.read_file("/etc/wireguard/wg0.key").strip() == running
        assert router.run(["stat", "-c", "%a", "/etc/wireguard/wg0.key"]).stdout.strip() == "600"
        assert "unchanged" in pl.up("--expect-no-changes").output
        all_passed(pl.check())
        pl.destroy()


def test_the_drift_read_takes_a_secret_key_that_no_output_or_log_shows():
    """The key as a secret setting reaches the read on the invoke's stdin: the drift is seen, and the key's
    text is in no output, not even the engine's most verbose log of the preview."""
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        pl.up()
        stranger = public_key_of(generate_private_key())
        pl.world.nodes["router"].run(["wg", "set", "wg0", "peer", stranger, "allowed-ips", "10.10.11.99/32"])
        key_text = pl.world.ssh_key.read_text()
        pl.ssh_key = None  # no path, no agent: only the secret setting
        pl.write_stack_file()
        pl.pulumi("config", "set", "--secret", "wgsites:sshPrivateKey", "--stack", pl.stack, stdin=key_text)
        output = pl.pulumi("preview", "--diff", "--stack", pl.stack, "--logtostderr", "-v=11", "--logflow").output
        assert f"router drifted from its config: peer {stranger[:8]}... is not in the stack (added by hand?)" in output
        body = [line for line in key_text.splitlines() if line and not line.startswith("-----")]
        assert body and not any(line in output for line in body), "the key's text is in the preview's output or log"
        pl.destroy()
