"""`wgsites render` and the Pulumi program deliver one plan (wgsites.rendering.delivery): every file render writes for a
node is, byte for byte, what the program hands that node (over SSH, through SSM, as an output), with the same keys."""

from __future__ import annotations

import shlex

import pytest
import wgmocks as m
from test_pulumi_preshared_keys import psk, with_psk

from wgsites.rendering.delivery import DeliveryPlan
from wgsites.rendering.render import KeyRing
from wgsites.stack.keys import bundle_signing_key

RUNS = [(stack, False) for stack in ("home", "router", "internal", "sites", "travel")] + [("home", True), ("sites", True)]


def the_same_keys(run: m.Run) -> KeyRing:
    """The keys the program derived from the seed or got from its (mocked) hosts, as render takes them."""
    vpn = m.model(run)
    preshared = {s.name: psk(s.first_name) for s in vpn.preshared_spokes}
    return KeyRing(public=m.expected_public_keys(vpn), private=run.private_keys, preshared=preshared)


def script_of(command: str) -> tuple[str, str]:
    """The install script a command line carries, and the action it runs."""
    words = shlex.split(command.removeprefix("sudo -n "))
    assert words[:2] == ["bash", "-c"] and words[3] == "wgsites-install"
    return words[2], words[4]


def parameter_text(run: m.Run, prefix: str, count: int) -> str:
    """The text SSM parameters PREFIX-0000 ... hold together (a piece past the text's end is "-")."""
    pieces = [run.mocks.named(f"{prefix}-{i:04d}").inputs for i in range(count)]
    return "".join(p for p in (m.unwrap(p.get("insecureValue") or p["value"]) for p in pieces) if p != "-")


@pytest.mark.parametrize(("stack", "preshared"), RUNS, ids=[f"{s}{'-psk' if p else ''}" for s, p in RUNS])
def test_every_file_render_writes_is_what_the_program_delivers(stack, preshared):
    run = m.run_stack(stack, vpn=with_psk(stack)) if preshared else m.run_stack(stack)
    vpn = m.model(run)
    plan = DeliveryPlan(vpn, stack, "eu-central-1")
    keys = the_same_keys(run)
    signing_key = bundle_signing_key(m.TEST_SEED)
    delivered = 0
    for node in vpn.nodes:
        iface = node.interface
        files = {f.name: f.content for f in plan.files(node.name, keys, m.hub_endpoint(vpn), signing_key, int(m.BUNDLE_SERIAL))}
        if node.delivery == "ssh":
            install = run.mocks.named(f"vpn-{node.name}-install").inputs
            assert install["stdin"] == files[f"{iface}.conf"]
            assert script_of(install["create"]) == (files["install.sh"], "install")
            assert script_of(run.mocks.named(f"vpn-{node.name}-key").inputs["create"]) == (files["install.sh"], "public-key")
            store = [r for r in run.mocks.resources if r.name == f"vpn-{node.name}-psk"]
            assert [m.unwrap(r.inputs["stdin"]) for r in store] == ([files[f"{iface}.psk"]] if f"{iface}.psk" in files else [])
            delivered += 1
        elif node.delivery == "aws":
            manifest = m.unwrap(run.mocks.named(f"vpn-{node.name}-bundle").inputs["insecureValue"])
            assert manifest == files["bundle-manifest.json"]
            assert parameter_text(run, f"vpn-{node.name}-bundle", plan.gateway.bundle_chunks) == files["bundle.json"]
            assert run.mocks.one(m.INSTANCE).inputs["userData"] == files["user-data.yaml"]
            assert m.unwrap(run.mocks.named(f"vpn-{node.name}-private-key").inputs["value"]) + "\n" == files[f"{iface}.key"]
            assert parameter_text(run, f"vpn-{node.name}-preshared-keys", plan.gateway.preshared_key_chunks) == files.get(
                f"{iface}.psk", ""
            )
            delivered += 1
        else:
            assert run.exports[f"{node.name}_config"].value == files[f"{iface}.conf"]
            delivered += 1
    assert delivered == len(vpn.nodes) and bool(keys.preshared) == preshared
