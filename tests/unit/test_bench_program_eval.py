"""bench/program_eval.py runs (at a tiny size, untimed), so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # a dataclass's module must be importable by name
    spec.loader.exec_module(module)
    return module


def test_program_eval_measures_wgsites_and_a_floor_of_as_many_resources(tmp_path):
    program_eval = load("program_eval")
    row = program_eval.measure(peers=2, repeats=1, workdir=tmp_path)  # raises if the floor registered otherwise
    assert row["peers"] == 2 and row["exports"] == 3 + 2  # hub key, endpoint, public keys; a config per peer
    assert row["resources"] > 2 and min(row["floor"], row["cold"], row["warm"]) > 0
    lines = program_eval.report([row, {**row, "peers": 20}])
    assert lines[2].startswith("| 2 | ") and lines[3].startswith("| 20 | ") and lines[4].startswith("growth 20/2 peers (x10)")


def test_program_eval_measures_a_stack_whose_hub_is_managed_over_ssh(tmp_path):
    """The 5000-peer row: an aws hub's bundle takes at most 4400 peers, one managed over SSH any number."""
    import json

    row = load("program_eval").measure(peers=2, repeats=1, workdir=tmp_path, hub="ssh")
    types = {typ for typ, *_ in json.loads((tmp_path / "spec-ssh-2.json").read_text())["resources"]}
    assert row["hub"] == "ssh" and row["exports"] == 3 + 2
    assert "command:remote:Command" in types and not any(t.startswith("aws:") for t in types), types


def test_the_lab_benches_stacks_pass_check_and_paper_peers_render(tmp_path):
    """The lab benches need root to run; what they build before that is checked here."""
    from wgsites.rendering.render import KeyRing, render_wg_quick
    from wgsites.stack.addressing import AddressPlan
    from wgsites.stack.check import load_stack_file
    from wgsites.stack.keys import generate_private_key, public_key_of

    data_plane, hub_reload = load("data_plane"), load("hub_reload")
    full = load_stack_file(data_plane.full_tunnel_router_stack(tmp_path))  # raises ConfigError if check refuses it
    assert full.node("laptop").tunnel == "full" and AddressPlan(full).plan("laptop").mtu == 1432  # the router's PPPoE
    wide = load_stack_file(hub_reload.wide_router_stack(tmp_path))
    grown = hub_reload.with_paper_peers(wide, 5)
    keys = KeyRing(public={n.name: public_key_of(generate_private_key()) for n in grown.nodes})
    config = render_wg_quick(grown, grown.hub.name, "reload", keys)
    assert config.count("[Peer]") == 6 and "AllowedIPs = 10.20.0.7/32" in config


def test_a_peer_costs_the_program_few_outputs(tmp_path, monkeypatch):
    """Issue 19's ratio, counted instead of timed: each Output costs the SDK a task and the collector
    more to walk. About 8 a peer now: its config and its export, and the harness's resolving that export
    (16.5 while each device was a component of its own, whose Outputs the SDK makes; 21 when the program
    made its QR code's two forms, which `wgsites qr` now makes on demand). Before, 34: the maps of
    keys, configs and codes went through Output.all and Output.secret, which lift every entry of a map
    into two Outputs. A lifted map again, or a device component again, fails here."""
    import pulumi

    mocked_run = load("mocked_run")
    for name, empty in (("PULUMI_CONFIG", "{}"), ("PULUMI_CONFIG_SECRET_KEYS", "[]")):
        monkeypatch.setenv(name, empty)  # run() sets them: put back afterwards
    made = [0]
    track = pulumi.Output._track

    def counted(self):
        made[0] += 1
        return track(self)

    monkeypatch.setattr(pulumi.Output, "_track", counted)  # every Output the SDK makes is tracked once
    counts = []
    for peers in (10, 30):
        config = {
            "aws:region": "eu-central-1",
            "wgsites:vpn": mocked_run.scale_vpn(peers),
            "wgsites:keySeed": mocked_run.SEED,
            "wgsites:driftCheck": "false",
        }
        made[0] = 0
        _, spec = mocked_run.run(mocked_run.ROOT / "__main__.py", config, ["wgsites:keySeed"])
        # a device is no resource: its config is a stack export, all the state holds of it (issue 32.2)
        assert [r for r in spec["resources"] if r[0] == "wgsites:roaming_peer:RoamingPeer"] == []
        assert sorted(n for n, *_ in spec["exports"] if n.endswith("_config")) == [f"p{i:05d}_config" for i in range(peers)]
        counts.append(made[0])
    per_peer = (counts[1] - counts[0]) / 20
    assert 4 < per_peer <= 9, (counts, per_peer)


def test_engine_up_floor_holds_what_the_state_holds_and_changes_what_changed(tmp_path):
    """bench/engine_up.py needs root and the lab to run; the floor it derives from a state is checked here:
    one entry per resource and export of the same sizes and secrecy, the changed ones (and only those)
    filled otherwise, the backend's writes summed from strace's lines, and floor_program.py runs it."""
    import json
    import subprocess

    engine_up = load("engine_up")
    secret = {engine_up.SECRET_SIG: engine_up.SECRET_TOKEN, "plaintext": json.dumps("[Interface]\n" * 10)}

    def state(config: dict) -> dict:
        peer = {"urn": "u:peer", "type": "wgsites:index:RoamingPeer", "outputs": {"config": config}}
        hub = {"urn": "u:hub", "type": "command:remote:Command", "custom": True, "inputs": {"create": str(config)}}
        stack = {"urn": "u:stack", "type": "pulumi:pulumi:Stack", "outputs": {"p_config": config, "endpoint": "192.0.2.1"}}
        provider = {"urn": "u:provider", "type": "pulumi:providers:command", "custom": True}
        return {"deployment": {"resources": [stack, provider, hub, peer]}}

    moved = {**secret, "plaintext": json.dumps("[Interface]\n" * 11)}
    resources, exports = engine_up.floor_entries(state(moved), state(secret))
    assert resources["u:peer"] == ["wgsites:index:RoamingPeer", False, 0, [["config", 132, True, "y"]]]
    assert resources["u:hub"][0::4] == ["command:local:Command", "y"] and "u:provider" not in resources
    assert exports == {"p_config": [132, True, "y"], "endpoint": [9, False, "x"]}
    spec = engine_up.floor_spec((resources, exports), ["u:hub", "u:peer"])
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, str(BENCH / "mocked_run.py"), "floor", str(tmp_path / "spec.json")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout.splitlines()[-1])["components"] == 2  # its root and the peer's

    trace = tmp_path / "traces"
    trace.mkdir()
    (trace / "t.1").write_text(
        'write(7</s/.pulumi/stacks/p/lab.json>, ""..., 300) = 300\n'
        'pwrite64(8</s/.pulumi/history/p/lab/x.json>, ""..., 20, 0) = 20\n'
        'write(1<pipe:[5]>, ""..., 9) = 9\n'
    )
    assert engine_up.backend_writes(trace, Path("/s")) == ({"stacks": 300, "history": 20}, 2)
