"""Day two with the real engine: a node renamed (with and without `aliases`), a site moved to another host.

A rename without aliases is, to Pulumi, a new resource and a deleted one: the new node's install
runs first, then the old resource's `remove`, on the same host. The ownership record the install
script keeps makes that remove leave the host alone. With aliases the resources keep their URNs:
the up is an update in place. A move (a new SSH address) updates the commands against the new
host; the old host is left as it was, and the README's hand clean-up (the rendered install
script's `remove`) puts it back.
"""

from __future__ import annotations

import copy
import re
import subprocess

import pytest

from lab.netns import Lab
from lab.pulumi_lab import ROOT, PulumiLab, host_snapshot
from lab.services import ssh
from tests.engine.test_pulumi_up import all_passed
from tests.stacks import stack_file

# `pulumi preview --diff`: "~ command:remote:Command: (update)", then its [id=...] and [urn=...::name] lines
STEP = re.compile(r"^\s*[-+~<>]+\s*(\S+): \(([\w-]+)\)\n(?:\s*\[id=[^\]]*\]\n)?\s*\[urn=[^\]]*::([^\]:]+)\]", re.M)


def steps(preview: str) -> set[tuple[str, str, str]]:
    return {(typ, name, op) for typ, op, name in STEP.findall(preview)}


def pings_while(pl: PulumiLab, source: str, target: str, action) -> tuple[int, int, object]:
    """Pings at 50 ms from SOURCE to TARGET while ACTION runs: (sent, received, ACTION's result)."""
    log = pl.lab.run_dir / f"ping-{source}.log"
    pid = pl.world.nodes[source].spawn(["ping", "-n", "-i", "0.05", "-c", "200", "-W", "1", "-w", "40", target], log=log)
    result = action()
    while pl.lab.is_running(pid):
        pass
    sent, got = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", log.read_text()).groups())
    return sent, got, result


@pytest.mark.parametrize("aliases", [True, False], ids=["with aliases", "without aliases"])
def test_renaming_the_hub_keeps_its_tunnels_and_its_host(aliases):
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("router"))
        hub = pl.world.vpn.hub
        router = pl.world.nodes[hub.name]
        before = host_snapshot(router, hub.interface)
        pl.up()
        all_passed(pl.check())
        ifindex = router.read_file(f"/sys/class/net/{hub.interface}/ifindex")

        raw = copy.deepcopy(pl.raw)
        raw["hub"]["name"] = "home-router"
        if aliases:
            raw["hub"]["aliases"] = [hub.name]
        pl.raw = raw
        pl.write_stack_file()
        found = steps(pl.pulumi("preview", "--diff", "--stack", pl.stack).output)
        commands = {(name, op) for typ, name, op in found if typ == "command:remote:Command"}
        if aliases:  # the same resources, under their new names, updated in place (the scripts name the node)
            assert commands == {(f"vpn-home-router-{step}", "update") for step in ("key", "install", "repair")}, found
        else:  # new ones, and the old ones deleted after them
            assert ("vpn-home-router-install", "create") in commands and ("vpn-router-install", "delete") in commands, found

        sent, got, up = pings_while(pl, "laptop", str(hub.address), pl.up)
        assert sent >= 150 and got == sent, f"{sent - got} of {sent} pings lost through the laptop during the rename"
        assert router.read_file(f"/sys/class/net/{hub.interface}/ifindex") == ifindex  # never restarted
        assert router.read_file(f"/var/lib/wgsites/{hub.interface}/owner") == f"{pl.stack}/home-router\n"
        log = router.run(f"cat /run/wgsites/{hub.interface}.log", check=False).stdout
        if not aliases:
            assert "left alone: " in log and "home-router" in log, log  # the old name's remove ran, and did nothing
        assert "unchanged" in pl.up("--expect-no-changes").output

        pl.destroy()  # the renamed node owns the host now: its remove gives the host back
        assert host_snapshot(router, hub.interface) == before


def test_moving_a_site_to_another_host_configures_the_new_one_and_leaves_the_old_one():
    with Lab() as lab:
        pl = PulumiLab(lab, stack_file("sites"))
        vpn = pl.world.vpn
        alpha, beta = vpn.hub, vpn.node("beta")
        pl.up()
        all_passed(pl.check())
        old_host = pl.world.nodes["beta"]
        old_files = host_snapshot(old_host, beta.interface)

        # the same site, now on a new box behind its own NAT (so it dials alpha, as a site without endpoint does)
        new_host, address, _ = pl.add_ssh_node("beta-new", "203.0.113.88", 88)
        raw = copy.deepcopy(pl.raw)
        site = next(s for s in raw["sites"] if s["name"] == "beta")
        site["ssh"] = {"host": address, "port": 22, "user": "root"}
        site.pop("endpoint")
        pl.raw = raw
        pl.write_stack_file()
        pl.up()

        assert new_host.run(["wg", "show", beta.interface], check=False).returncode == 0
        reply = new_host.run(["ping", "-c", "3", "-W", "2", str(alpha.address)], check=False)
        assert reply.returncode == 0, "the moved site does not reach alpha through the tunnel:\n" + reply.stdout
        new_key = new_host.run(["wg", "show", beta.interface, "public-key"]).stdout.strip()
        assert new_key in pl.world.nodes["alpha"].run(["wg", "show", alpha.interface, "peers"]).stdout
        assert host_snapshot(old_host, beta.interface) == old_files  # untouched: nothing ran there

        # the README's clean-up of the old host: the rendered install script's remove, over SSH
        out = lab.run_dir / "rendered"
        stack_yaml = pl.project / f"Pulumi.{pl.stack}.yaml"
        rendered = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "-m", "wgsites", "render", str(stack_yaml), "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert rendered.returncode == 0, rendered.stderr
        script = (out / "beta" / "install.sh").read_text()
        old_target = beta.ssh  # the lab's address of the old host
        ssh(
            pl.world.operator,
            host=old_target.host,
            port=old_target.port,
            user=old_target.user,
            key=pl.world.ssh_key,
            command="bash -s remove",
            input=script,
            timeout=90,
        )
        assert old_host.run(["ip", "link", "show", beta.interface], check=False).returncode != 0
        assert old_host.run(["test", "-e", f"/etc/wireguard/{beta.interface}.conf"], check=False).returncode == 1
        pl.destroy()
