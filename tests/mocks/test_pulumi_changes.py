"""Stack config variations: errors, added peers, key rotation, own keys, files, SSH credentials."""

from __future__ import annotations

import base64
import copy
import os
import re
import stat
import subprocess

import pulumi
import pytest
import wgmocks as m

from components.roaming_peer import remove_command, write_command
from wgsites.rendering.render import KeyRing, render_wg_quick
from wgsites.stack.errors import ConfigError
from wgsites.stack.keys import derive_private_key
from wgsites.stack.parse import parse_vpn

FAKE_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nwgsites-test-not-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n"


def vpn_of(stack: str) -> dict:
    return copy.deepcopy(m.stack_config(stack)["wgsites:vpn"])


def core_messages(raw) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_vpn(raw)
    return caught.value.messages


def failing_run(stack: str, **kwargs) -> tuple[pulumi.RunError, m.RecordingMocks]:
    mocks_seen = []
    original = m.RecordingMocks.__init__

    def init(self, *args, **kw):
        original(self, *args, **kw)
        mocks_seen.append(self)

    m.RecordingMocks.__init__ = init
    try:
        with pytest.raises(pulumi.RunError) as caught:
            m.run_stack(stack, **kwargs)
    finally:
        m.RecordingMocks.__init__ = original
    return caught.value, mocks_seen[-1]


def test_a_config_error_is_the_core_message_before_any_resource():
    raw = vpn_of("home")
    raw["peers"][0]["address"] = "10.98.0.10"  # outside 10.99.0.0/24
    expected = core_messages(raw)
    assert any("10.98.0.10" in line for line in expected)
    error, mocks = failing_run("home", vpn=raw)
    assert str(error) == "\n".join(expected)
    assert mocks.resources == [] and mocks.calls == []


def test_every_config_error_is_reported_at_once():
    raw = vpn_of("router")
    raw["peers"][0]["tunnel"] = "sideways"
    raw["hub"]["listenPort"] = 1  # not a key of the hub
    expected = core_messages(raw)
    assert len(expected) >= 2
    error, mocks = failing_run("router", vpn=raw)
    assert str(error).splitlines() == expected
    assert mocks.resources == []


def test_a_missing_vpn_object_says_where_to_put_it():
    error, mocks = failing_run("nostack", config={"aws:region": "eu-central-1"})
    assert str(error) == "wgsites:vpn: missing; describe the VPN under `config: wgsites:vpn:` in Pulumi.nostack.yaml"
    assert mocks.resources == []


def test_an_aws_hub_needs_a_region(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    error, mocks = failing_run("nostack", vpn=vpn_of("travel"))
    # the words of `wgsites check` (wgsites/stack/region.py), before any resource
    assert (
        str(error)
        == "aws:region: missing for an aws hub; set it in Pulumi.nostack.yaml (pulumi config set aws:region eu-central-1)"
    )
    assert mocks.resources == []


def test_adding_a_peer_to_an_ssh_hub_updates_its_push_only(router):
    raw = vpn_of("router")
    raw["peers"].append({"name": "phone", "address": "10.10.11.3"})
    bigger = m.run_stack("router", vpn=raw)
    before, after = router.mocks, bigger.mocks
    assert after.named("vpn-router-key").inputs == before.named("vpn-router-key").inputs
    old, new = (r.named("vpn-router-install").inputs for r in (before, after))
    assert {k for k in new if new[k] != old[k]} == {"stdin"}  # an update of stdin: install re-runs
    vpn = m.model(bigger)
    assert new["stdin"] == render_wg_quick(vpn, "router", "router", KeyRing(public=m.expected_public_keys(vpn)))
    assert bigger.exports["public_keys"].value["laptop"] == router.exports["public_keys"].value["laptop"]
    assert bigger.exports["laptop_config"].value == router.exports["laptop_config"].value


def test_keys_are_stable_across_runs(home):
    again = m.run_stack("home")
    assert again.exports["public_keys"].value == home.exports["public_keys"].value
    for name in ("laptop", "phone"):
        assert again.exports[f"{name}_config"].value == home.exports[f"{name}_config"].value
    assert again.mocks.named("vpn-gateway-private-key").inputs == home.mocks.named("vpn-gateway-private-key").inputs
    # rotation 0 written out is the default
    explicit = m.run_stack("home", config={"wgsites:keyRotations": {"laptop": 0, "gateway": "0"}})
    assert explicit.exports["public_keys"].value == home.exports["public_keys"].value


def test_rotating_one_key_changes_only_that_key_and_the_configs_that_mention_it(home):
    run = m.run_stack("home", config={"wgsites:keyRotations": {"laptop": 1}})
    vpn = m.model(run)
    assert run.private_keys["laptop"] == derive_private_key(m.TEST_SEED, "laptop/1")
    assert run.observed("vpn", "private_keys[laptop]").value == run.private_keys["laptop"]
    new, old = run.exports["public_keys"].value, home.exports["public_keys"].value
    assert {n for n in new if new[n] != old[n]} == {"laptop"}
    keys = KeyRing(public=m.expected_public_keys(vpn, {"laptop": 1}))
    assert m.gateway_config(run.mocks) == render_wg_quick(vpn, "gateway", "home", keys)
    # the laptop's own config and the hub's change; the phone's and the home site's never name the laptop
    assert run.exports["laptop_config"].value != home.exports["laptop_config"].value
    assert run.exports["phone_config"].value == home.exports["phone_config"].value
    assert run.mocks.named("vpn-home-install").inputs == home.mocks.named("vpn-home-install").inputs
    assert run.mocks.named("vpn-gateway-private-key").inputs == home.mocks.named("vpn-gateway-private-key").inputs
    assert m.unwrap(run.mocks.one(m.INSTANCE).inputs) == m.unwrap(home.mocks.one(m.INSTANCE).inputs)
    # any string works as a rotation too
    dated = m.run_stack("home", config={"wgsites:keyRotations": {"phone": "2026-11"}})
    assert dated.private_keys["phone"] == derive_private_key(m.TEST_SEED, "phone/2026-11")
    assert dated.exports["public_keys"].value["phone"] == m.public_key_of(dated.private_keys["phone"])


@pytest.mark.parametrize(
    ("rotations", "fragment"),
    [
        ({"home": 1}, "wgsites:keyRotations.home: makes its own key on the host"),
        ({"nobody": 1}, "wgsites:keyRotations.nobody: is not a node of wgsites:vpn"),
        ({"laptop": [1]}, "wgsites:keyRotations.laptop: [1] is not a number or a string"),
    ],
)
def test_bad_key_rotations_fail_before_any_resource(rotations, fragment):
    error, mocks = failing_run("home", config={"wgsites:keyRotations": rotations})
    assert str(error).startswith(fragment)
    assert mocks.resources == []


def test_a_peer_with_its_own_public_key_gets_no_key_and_a_config_without_one():
    own = m.public_key_of(m.seeded_private_key("on the phone"))
    raw = vpn_of("home")
    raw["peers"][1]["publicKey"] = own
    run = m.run_stack("home", vpn=raw)
    assert set(run.vpn_component.private_keys) == {"gateway", "laptop"}
    config = run.exports["phone_config"].value
    assert not re.search(r"(?m)^\s*PrivateKey\s*=", config) and run.exports["phone_config"].secret
    assert "add a line here with the key name PrivateKey" in config  # the device's app needs one pasted
    vpn = m.model(run)
    keys = KeyRing(public=m.expected_public_keys(vpn))
    assert config == render_wg_quick(vpn, "phone", "home", keys, hub_endpoint=m.EIP)
    assert f"PublicKey = {own}\n" in m.gateway_config(run.mocks)
    assert run.exports["public_keys"].value["phone"] == own


def test_a_peer_file_is_written_from_stdin_0600(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    raw = vpn_of("home")
    raw["peers"][0]["file"] = "~/wireguard/home0.conf"
    run = m.run_stack("home", vpn=raw)
    command = run.mocks.named("vpn-laptop-file")
    config = run.exports["laptop_config"].value
    target = tmp_path / "wireguard" / "home0.conf"
    assert command.name == "vpn-laptop-file"
    assert command.inputs["create"] == write_command("~/wireguard/home0.conf")
    assert str(target) in command.inputs["create"] and "~" not in command.inputs["create"]
    assert command.inputs["delete"] == remove_command("~/wireguard/home0.conf")
    assert m.is_secret_input(command.inputs["stdin"]) and m.unwrap(command.inputs["stdin"]) == config
    assert "PrivateKey" not in command.inputs["create"]
    assert command.inputs["logging"] == "none"
    assert m.secret_outputs_of(run, "vpn-laptop-file") >= {"stdout", "stderr"}
    # and the command really writes it, private
    subprocess.run(["sh", "-c", command.inputs["create"]], input=config, text=True, check=True)
    assert target.read_text() == config
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    target.chmod(0o644)
    subprocess.run(["sh", "-c", command.inputs["create"]], input=config, text=True, check=True)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    # destroy removes it while it is wgsites' own, and leaves a file the user put there since
    subprocess.run(["sh", "-c", command.inputs["delete"]], check=True)
    assert not target.exists()
    target.write_text("# my own config\n")
    subprocess.run(["sh", "-c", command.inputs["delete"]], check=True)
    assert target.read_text() == "# my own config\n"


@pytest.mark.parametrize("kind", ["someone else's file", "a symlink", "a directory", "a folder others can write"])
def test_a_peer_file_never_replaces_what_wgsites_did_not_write(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("HOME", str(tmp_path))
    target, other = tmp_path / "home0.conf", tmp_path / "resolv.conf"
    other.write_text("nameserver 192.0.2.53\n")
    if kind == "someone else's file":
        target.write_text("[Interface]\n# the user's own tunnel\n")
    elif kind == "a symlink":
        target.symlink_to(other)
    elif kind == "a directory":
        target.mkdir()
    else:  # another local user could plant a link at the name it is written through
        tmp_path.chmod(0o777)
    raw = vpn_of("home")
    raw["peers"][0]["file"] = "~/home0.conf"
    error, mocks = failing_run("home", vpn=raw)
    # the check `wgsites check` makes too (wgsites.stack.validate.check_file_targets), in the same words
    assert str(error).startswith("wgsites:vpn.peers[0].file: '~/home0.conf' ")
    fix = "is writable by every user" if kind == "a folder others can write" else "pick another path"
    assert fix in str(error), str(error)
    assert [c.name for c in mocks.of_type(m.LOCAL) if c.name.endswith("-file")] == []
    assert other.read_text() == "nameserver 192.0.2.53\n"


def test_ssh_private_key_from_secret_config_only_in_secret_inputs():
    run = m.run_stack("sites", config={"wgsites:sshPrivateKey": FAKE_SSH_KEY}, secret_keys=["wgsites:sshPrivateKey"])
    commands = run.mocks.of_type(m.REMOTE)
    assert len(commands) == 6  # key, install, repair per host
    for command in commands:
        assert m.is_secret_input(command.inputs["connection"])
        assert m.unwrap(command.inputs["connection"])["privateKey"] == FAKE_SSH_KEY
    for resource in run.mocks.resources:
        assert "wgsites-test-not-a-real-key" not in "\n".join(m.plain_parts(resource.inputs)), resource.name
    for observed in run.outputs + list(run.exports.values()):
        assert observed.secret or "wgsites-test-not-a-real-key" not in repr(observed.value), observed.owner


def test_ssh_private_key_path(tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text(FAKE_SSH_KEY)
    run = m.run_stack("router", config={"wgsites:sshPrivateKeyPath": str(key)})
    for command in run.mocks.of_type(m.REMOTE):
        assert m.unwrap(command.inputs["connection"])["privateKey"] == FAKE_SSH_KEY
    error, mocks = failing_run("router", config={"wgsites:sshPrivateKeyPath": str(tmp_path / "missing")})
    assert str(error).startswith(f"wgsites:sshPrivateKeyPath: '{tmp_path / 'missing'}' cannot be read")
    assert mocks.resources == []


def test_the_secret_key_wins_over_the_path(tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text("from the file")
    run = m.run_stack(
        "router",
        config={"wgsites:sshPrivateKeyPath": str(key), "wgsites:sshPrivateKey": FAKE_SSH_KEY},
        secret_keys=["wgsites:sshPrivateKey"],
    )
    assert m.unwrap(run.mocks.named("vpn-router-key").inputs["connection"])["privateKey"] == FAKE_SSH_KEY


SEED_FIX = 'pulumi config set --secret wgsites:keySeed "$(head -c 32 /dev/urandom | base64)"'


@pytest.mark.parametrize(("stack", "nodes"), [("home", "gateway, laptop, phone"), ("router", "laptop")])
def test_a_missing_seed_says_how_to_make_one_before_any_resource(stack, nodes):
    error, mocks = failing_run(stack, key_seed=None)
    assert str(error) == (
        f"wgsites:keySeed: missing; the keys of {nodes} are derived from it; set it once for this stack: {SEED_FIX}"
    )
    assert mocks.resources == [] and mocks.calls == []


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        ("not base64!", "is not base64"),
        (base64.b64encode(b"x" * 16).decode(), "decodes to 16 bytes, fewer than 32"),
        (base64.b64encode(b"x" * 65).decode(), "decodes to 65 bytes, more than 64"),
    ],
)
def test_a_bad_seed_is_named_without_showing_it(seed, problem):
    error, mocks = failing_run("home", config={"wgsites:keySeed": seed}, secret_keys=["wgsites:keySeed"], key_seed=None)
    assert str(error) == (
        f"wgsites:keySeed: the value {problem}; it must be base64 of 32 to 64 random bytes; set a new one: {SEED_FIX}"
    )
    assert seed not in str(error)
    assert mocks.resources == []


def test_a_seed_in_plain_text_is_refused():
    error, mocks = failing_run("home", config={"wgsites:keySeed": m.TEST_SEED}, key_seed=None)
    assert str(error) == (
        "wgsites:keySeed: stored in plain text in Pulumi.home.yaml, where it gives away the keys of gateway, laptop, "
        f"phone; set a new one as a secret: {SEED_FIX}"
    )
    assert mocks.resources == []


def test_a_stack_of_ssh_hosts_needs_no_seed():
    run = m.run_stack("sites", key_seed=None)
    assert run.vpn_component.private_keys == {}
    assert len(run.mocks.of_type(m.REMOTE)) == 6


def test_a_long_seed_wrapped_by_base64_works():
    seed = base64.encodebytes(bytes(range(64))).decode()  # 88 characters, wrapped after 76 as `base64` does
    assert "\n" in seed.strip()
    run = m.run_stack("travel", key_seed=seed)
    assert run.exports["public_keys"].value["laptop"] == m.public_key_of(derive_private_key(seed, "laptop/0"))
    assert derive_private_key(seed, "laptop/0") == derive_private_key(seed.replace("\n", ""), "laptop/0")


def test_another_seed_gives_every_derived_key_anew_and_no_other(home):
    other = m.run_stack("home", key_seed=m.seeded_private_key("another stack"))
    new, old = other.exports["public_keys"].value, home.exports["public_keys"].value
    assert {n for n in new if new[n] != old[n]} == {"gateway", "laptop", "phone"}  # home's key is made on the host


ZERO_KEY = "A" * 43 + "="
BETA = m.ssh_host_public_key("vpn-beta")  # what beta's key command prints when all is well
HOSTILE_ANSWERS = {
    "a second [Peer] that takes all traffic": f"{BETA}\n[Peer]\nPublicKey = {ZERO_KEY}\nAllowedIPs = 0.0.0.0/0\n",
    "a hook": f"{BETA}\nPostUp = touch /tmp/pwned",
    "nothing": "",
    "the all-zero key": ZERO_KEY + "\n",
    "not a key": "wg: command not found\n",
}


@pytest.mark.parametrize("answer", HOSTILE_ANSWERS.values(), ids=HOSTILE_ANSWERS.keys())
def test_a_host_whose_key_answer_is_not_one_key_fails_and_nothing_is_pushed_with_it(answer):
    """A compromised site must not add lines to the hub's config: its answer is checked first."""
    error, mocks = failing_run("sites", host_answers={"vpn-beta-key": answer})
    assert str(error).startswith("vpn-beta: the host ") and "nothing was pushed with it" in str(error)
    assert "PostUp = touch" not in str(error) and "0.0.0.0/0" not in str(error)  # the answer is not echoed
    for resource in mocks.of_type(m.REMOTE):
        stdin = str(resource.inputs.get("stdin", ""))
        assert "0.0.0.0/0" not in stdin and "pwned" not in stdin and ZERO_KEY not in stdin, resource.name


def _public(stack: str, node: str) -> str:
    return m.public_key_of(derive_private_key(m.TEST_SEED, f"{node}/0"))


ANOTHER_NODES_KEY = {
    # stack, the host that answers, the node whose key it answers, that key
    "a site answers a phone's derived key (aws hub)": ("home", "home", "phone", _public("home", "phone")),
    "an ssh hub answers its laptop's derived key": ("router", "router", "laptop", _public("router", "laptop")),
    "a site answers the ssh hub's key": ("sites", "beta", "alpha", m.ssh_host_public_key("vpn-alpha")),
    "a site answers the aws hub's derived key": ("home", "home", "gateway", _public("home", "gateway")),
}


@pytest.mark.parametrize("case", ANOTHER_NODES_KEY.values(), ids=ANOTHER_NODES_KEY.keys())
def test_a_host_answering_another_nodes_key_fails_naming_both_and_nothing_is_pushed_with_it(case):
    """Public keys are a plain export: a compromised host can answer one, which passes every format check.
    The hub would get two [Peer] sections with one key, and WireGuard would merge them."""
    stack, host, other, key = case
    error, mocks = failing_run(stack, host_answers={f"vpn-{host}-key": key + "\n"})
    message = str(error)
    assert message.startswith(f"vpn-{host}: {host} answered with the public key of {other}: "), message
    assert "nothing was pushed with it" in message and f"pulumi up --replace 'urn:pulumi:{stack}::" in message
    assert "rm /etc/wireguard/" in message and "compromised" in message
    for resource in mocks.resources:  # no config (a pushed stdin, an SSM bundle) lists the key twice
        assert str(m.unwrap(resource.inputs)).count(key) <= 1, resource.name


def test_two_sites_answering_one_key_fail_the_later_naming_the_other():
    raw = vpn_of("sites")
    raw["network"], raw["hub"]["address"], raw["sites"][0]["address"] = "10.10.9.0/24", "10.10.9.1", "10.10.9.2"
    gamma = {"name": "gamma", "address": "10.10.9.3", "interface": "wgC", "lans": ["10.10.12.0/24"]}
    raw["sites"].append({**gamma, "endpoint": "gamma.example.net:51000", "ssh": {"host": "10.10.12.1"}})
    error, _ = failing_run("sites", vpn=raw, host_answers={"vpn-gamma-key": m.ssh_host_public_key("vpn-beta") + "\n"})
    assert str(error).startswith("vpn-beta: beta answered with the public key of gamma") or str(error).startswith(
        "vpn-gamma: gamma answered with the public key of beta"
    ), error


def test_each_host_answering_its_own_key_passes_the_check():
    run = m.run_stack("sites")
    keys = run.exports["public_keys"].value
    assert len(set(keys.values())) == len(keys) == 2
