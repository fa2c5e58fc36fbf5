"""Preshared keys through the whole program under mocks: where they go, and where they never are.

An SSH host gets its pairs' keys as the secret stdin of `<node>-psk` (its config, a plain and
readable diff, carries only the hook that loads them); a device gets its key inline in its secret
config; no preshared key is in any plain input, output or export. A rotation changes only the
`-psk` commands' stdin; bad rotations and a missing seed fail before any resource.
"""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from tests.mocks import wgmocks as m
from tests.mocks.test_pulumi_changes import failing_run, vpn_of
from wgsites.rendering.render import KeyRing, install_command, preshared_key_hook, render_preshared_keys, render_wg_quick
from wgsites.stack.keys import derive_preshared_key, preshared_key_label


def with_psk(stack: str, **spokes: bool) -> dict:
    """STACK's wgsites:vpn with presharedKey on for the stack, or (SPOKES) on or off per spoke."""
    raw = copy.deepcopy(vpn_of(stack))
    if not spokes:
        raw["presharedKey"] = True
    for key in ("sites", "peers"):
        for item in raw.get(key) or []:
            if item["name"] in spokes:
                item["presharedKey"] = spokes[item["name"]]
    return raw


def psk(spoke: str, rotation: int = 0) -> str:
    return derive_preshared_key(m.TEST_SEED, preshared_key_label(spoke, rotation))


def nowhere_plain(run: m.Run, values: list[str]) -> None:
    """No VALUE in a plain (non-secret) input of any resource, nor in a plain output or export."""
    for resource in run.mocks.resources:
        for part in m.plain_parts(resource.inputs):
            assert not any(v in part for v in values), f"a preshared key in a plain input of {resource.name}"
    for observed in [*run.outputs, *run.exports.values()]:
        if not observed.secret:
            assert not any(v in str(observed.value) for v in values), f"a preshared key in {observed.owner}, not secret"


def test_ssh_hosts_get_their_keys_as_a_secret_stdin_and_a_hook_in_a_plain_config():
    run = m.run_stack("sites", vpn=with_psk("sites"))
    vpn = m.model(run)
    keys = KeyRing(public=m.expected_public_keys(vpn), preshared={"beta": psk("beta")})
    for node in ("alpha", "beta"):
        command = run.mocks.named(f"vpn-{node}-psk")
        assert m.is_secret_input(command.inputs["stdin"])
        assert m.unwrap(command.inputs["stdin"]) == render_preshared_keys(vpn, node, "sites", keys)
        assert psk("beta") in m.unwrap(command.inputs["stdin"])
        assert m.unwrap(command.inputs["create"]) == install_command(vpn, node, "sites", "preshared-keys")
        assert m.unwrap(command.inputs["delete"]) == install_command(vpn, node, "sites", "forget-preshared-keys")
        install = run.mocks.named(f"vpn-{node}-install").inputs
        assert not m.is_secret_input(install["stdin"])  # the config's diff stays readable
        assert install["stdin"] == render_wg_quick(vpn, node, "sites", KeyRing(public=keys.public))
        assert str(preshared_key_hook()) in install["stdin"] and "PresharedKey" not in install["stdin"]
    nowhere_plain(run, [psk("beta")])


def test_a_device_carries_its_key_inline_in_its_secret_config():
    run = m.run_stack("router", vpn=with_psk("router"))
    config = run.exports["laptop_config"]
    assert config.secret and f"PresharedKey = {psk('laptop')}\n" in config.value
    assert psk("laptop") in m.unwrap(run.mocks.named("vpn-router-psk").inputs["stdin"])
    nowhere_plain(run, [psk("laptop")])


def test_a_spoke_may_turn_it_off_and_without_any_there_is_no_psk_command_nor_hook():
    raw = with_psk("router")
    raw["peers"][0]["presharedKey"] = False
    run = m.run_stack("router", vpn=raw)
    assert not [r for r in run.mocks.resources if r.name.endswith("-psk")]
    assert "PresharedKey" not in run.exports["laptop_config"].value
    assert str(preshared_key_hook()) not in run.mocks.named("vpn-router-install").inputs["stdin"]
    # and one spoke of a stack without it may turn it on
    only = m.run_stack("internal", vpn=with_psk("internal", laptop=True))
    assert psk("laptop") in only.exports["laptop_config"].value


def test_a_rotation_changes_only_the_psk_commands():
    before = m.run_stack("sites", vpn=with_psk("sites"))
    after = m.run_stack("sites", vpn=with_psk("sites"), config={"wgsites:presharedKeyRotations": {"beta": 1}})
    for node in ("alpha", "beta"):
        old, new = (r.mocks.named(f"vpn-{node}-psk").inputs for r in (before, after))
        assert psk("beta") in m.unwrap(old["stdin"]) and psk("beta", 1) in m.unwrap(new["stdin"])
        assert psk("beta") not in m.unwrap(new["stdin"])
        for name in (f"vpn-{node}-install", f"vpn-{node}-key", f"vpn-{node}-repair"):
            assert after.mocks.named(name).inputs == before.mocks.named(name).inputs, name
    nowhere_plain(after, [psk("beta", 1)])


@pytest.mark.parametrize(
    ("rotations", "message"),
    [
        (
            {"alpha": 1},
            "wgsites:presharedKeyRotations.alpha: is the hub; a preshared key belongs to a hub-spoke pair, so name "
            "the spoke; rotate only beta",
        ),
        ({"gamma": 1}, "wgsites:presharedKeyRotations.gamma: is not a node of wgsites:vpn; rotate only beta"),
        ({"beta": True}, "wgsites:presharedKeyRotations.beta: True is not a number or a string; raise it (1, 2, ...) to"),
        ([1], "wgsites:presharedKeyRotations: [1] is not a mapping; write it as `spoke-name: 1` lines"),
    ],
)
def test_bad_preshared_key_rotations_fail_before_any_resource(rotations, message):
    error, mocks = failing_run("sites", vpn=with_psk("sites"), config={"wgsites:presharedKeyRotations": rotations})
    assert str(error).startswith(message), str(error)
    assert mocks.resources == []


def test_a_rotation_of_a_spoke_without_a_preshared_key_is_refused():
    error, mocks = failing_run("sites", config={"wgsites:presharedKeyRotations": {"beta": 1}})
    assert str(error) == (
        "wgsites:presharedKeyRotations.beta: has no preshared key (set presharedKey: true on it, or "
        "wgsites:vpn.presharedKey: true); rotate only no spoke in this stack"
    )
    assert mocks.resources == []


def test_preshared_keys_need_a_seed_even_where_no_key_is_derived():
    error, mocks = failing_run("sites", vpn=with_psk("sites"), key_seed=None)
    assert str(error) == (
        "wgsites:keySeed: missing; the preshared keys of beta are derived from it; set it once for this stack: "
        'pulumi config set --secret wgsites:keySeed "$(head -c 32 /dev/urandom | base64)"'
    )
    assert mocks.resources == []
    # the same stack without them needs none
    assert m.run_stack("sites", key_seed=None).mocks.resources


def test_the_aws_gateway_gets_them_as_securestring_chunks_the_signed_bundle_names_by_hash():
    run = m.run_stack("home", vpn=with_psk("home"))
    vpn = m.model(run)
    spokes = [s.name for s in vpn.spokes]
    keys = KeyRing(public=m.expected_public_keys(vpn), preshared={s: psk(s) for s in spokes})
    text = render_preshared_keys(vpn, "gateway", "home", keys)
    bundle = m.gateway_bundle(run.mocks)
    parts = [r for r in run.mocks.of_type(m.PARAMETER) if "-preshared-keys-" in r.name]
    assert bundle["preshared_keys"] == {"chunks": len(parts), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    assert len(parts) == 1  # three pairs: one 4 KB part
    for i, part in enumerate(parts):
        inputs = part.inputs
        assert (m.unwrap(inputs["name"]), inputs["type"]) == (f"/wgsites/home/wg0/preshared-keys/{i:04d}", "SecureString")
        assert m.is_secret_input(inputs["value"])
    assert "".join(m.unwrap(p.inputs["value"]) for p in parts) == text
    assert "PresharedKey" not in bundle["config"] and str(preshared_key_hook()) in bundle["config"]
    # the gateway's role reads them (the aws/ssm key's policy lets SSM decrypt them for the account)
    policy = json.loads(run.mocks.named("vpn-gateway-read-parameters").inputs["policy"])
    assert any(arn.endswith(":parameter/wgsites/home/wg0/preshared-keys/0000") for arn in policy["Statement"][0]["Resource"])
    # the instance waits for them (its first boot reads them)
    assert any(d.endswith("::vpn-gateway-preshared-keys-0000") for d in run.mocks.requests["vpn-gateway-instance"].dependencies)
    # the site managed over SSH and the devices get theirs as elsewhere
    assert psk("home") in m.unwrap(run.mocks.named("vpn-home-psk").inputs["stdin"])
    assert f"PresharedKey = {psk('phone')}\n" in run.exports["phone_config"].value
    nowhere_plain(run, [psk(s) for s in spokes])
    # a rotation changes the bundle's hash (and the signature), never the instance
    rotated = m.run_stack("home", vpn=with_psk("home"), config={"wgsites:presharedKeyRotations": {"phone": 1}})
    assert m.gateway_bundle(rotated.mocks)["preshared_keys"]["sha256"] != bundle["preshared_keys"]["sha256"]
    assert m.unwrap(rotated.mocks.one(m.INSTANCE).inputs) == m.unwrap(run.mocks.one(m.INSTANCE).inputs)


def test_the_psk_command_keeps_its_output_secret_runs_after_the_install_and_deletes_before_it_replaces():
    run = m.run_stack("sites", vpn=with_psk("sites"))
    request = run.mocks.requests["vpn-beta-psk"]
    assert {"stdout", "stderr"} <= set(request.additionalSecretOutputs)
    assert request.deleteBeforeReplace  # a replace forgets first, then writes the keys again
    assert any(dep.endswith("::vpn-beta-install") for dep in request.dependencies)
    assert run.mocks.named("vpn-beta-psk").inputs["logging"] == "none"
