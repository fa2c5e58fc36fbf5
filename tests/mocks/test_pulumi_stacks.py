"""The whole program, for each example stack, under mocks: what it registers, pushes and exports.

Everything handed to a host, to SSM or to the user must be exactly the core's render.
"""

from __future__ import annotations

from collections import Counter

import pytest
import wgmocks as m

from wgsites.rendering.delivery import DeliveryPlan
from wgsites.rendering.render import KeyRing, install_command, render_wg_quick
from wgsites.rendering.status_slots import status_slots

AWS_SET = {
    "wgsites:aws_gateway:AwsGateway": 1,
    m.SG: 1,
    m.PARAMETER: 1 + 1 + 1,  # the key, the bundle's and the status' manifests; their chunks are counted per stack below
    m.ROLE: 1,
    m.ROLE_POLICY: 2,  # read the parameters, write the status
    m.PROFILE: 1,
    m.LOCAL: 1,  # the bundle's serial (components/aws_gateway.py)
    m.INSTANCE: 1,
    m.EIP_TYPE: 1,
    m.EIP_ASSOC: 1,
}
EXPECTED = {
    "home": {
        "wgsites:vpn:WireGuardVpn": 1,
        "wgsites:ssh_host:HostKey": 1,
        "wgsites:ssh_host:SshHost": 1,
        m.REMOTE: 3,
        **AWS_SET,
    },
    "router": {
        "wgsites:vpn:WireGuardVpn": 1,
        "wgsites:ssh_host:HostKey": 1,
        "wgsites:ssh_host:SshHost": 1,
        m.REMOTE: 3,
    },
    "internal": {
        "wgsites:vpn:WireGuardVpn": 1,
        "wgsites:ssh_host:HostKey": 1,
        "wgsites:ssh_host:SshHost": 1,
        m.REMOTE: 3,
    },
    "sites": {"wgsites:vpn:WireGuardVpn": 1, "wgsites:ssh_host:HostKey": 2, "wgsites:ssh_host:SshHost": 2, m.REMOTE: 6},
    "travel": {
        "wgsites:vpn:WireGuardVpn": 1,
        **AWS_SET,
    },
}
DERIVED_KEYS = {
    "home": {"gateway", "laptop", "phone"},
    "router": {"laptop"},
    "internal": {"laptop"},
    "sites": set(),
    "travel": {"gateway", "laptop"},
}


def expected_set(run) -> Counter:
    expected = Counter(EXPECTED[run.stack])
    vpn = m.model(run)
    if vpn.hub.kind == "aws":
        expected[m.PARAMETER] += DeliveryPlan(vpn, run.stack).gateway.bundle_chunks + status_slots(vpn)
    return expected


def test_resource_set(run):
    assert Counter(r.typ for r in run.mocks.resources) == expected_set(run)


def test_names_follow_the_model(run):
    vpn = m.model(run)
    names = {r.name for r in run.mocks.resources}
    for spoke in vpn.spokes:
        if spoke.delivery == "ssh":
            assert {f"vpn-{spoke.name}-key", f"vpn-{spoke.name}-install"} <= names
        else:  # a device is no resource (its config is an export); with `file:`, its command is
            assert f"vpn-{spoke.name}" not in names and (f"vpn-{spoke.name}-file" in names) == bool(spoke.file)
            assert f"{spoke.name}_config" in run.exports
    if vpn.hub.kind == "ssh":
        assert {f"vpn-{vpn.hub.name}-key", f"vpn-{vpn.hub.name}-install"} <= names
    else:
        assert f"vpn-{vpn.hub.name}-instance" in names


def test_ssh_hosts_run_exactly_the_core_command_with_the_core_config(run):
    vpn = m.model(run)
    keys = KeyRing(public=m.expected_public_keys(vpn))
    managed = [n for n in vpn.nodes if n.ssh is not None and (n is not vpn.hub or vpn.hub.kind == "ssh")]
    assert len(managed) == EXPECTED[run.stack].get("wgsites:ssh_host:SshHost", 0)
    for node in managed:
        user = node.ssh.user
        key = run.mocks.named(f"vpn-{node.name}-key").inputs
        assert key["create"] == install_command(vpn, node.name, run.stack, "public-key", user)
        assert set(key) == {"create", "connection", "logging", "addPreviousOutputInEnv"}
        install = run.mocks.named(f"vpn-{node.name}-install").inputs
        assert install["create"] == install_command(vpn, node.name, run.stack, "install", user)
        assert install["delete"] == install_command(vpn, node.name, run.stack, "remove", user)
        config = render_wg_quick(vpn, node.name, run.stack, keys, hub_endpoint=m.hub_endpoint(vpn))
        assert install["stdin"] == config
        assert "PrivateKey" not in config
        # no triggers (a replace would run the old `remove` after the new install), no environment (AcceptEnv)
        assert set(install) == {"create", "delete", "stdin", "connection", "logging", "addPreviousOutputInEnv"}
        for inputs in (key, install):
            assert inputs["logging"] == "none"
            assert inputs["addPreviousOutputInEnv"] is False
            assert m.is_secret_input(inputs["connection"])
            connection = m.unwrap(inputs["connection"])
            assert (connection["host"], connection["port"], connection["user"]) == (node.ssh.host, node.ssh.port, user)
            assert "privateKey" not in connection  # no key configured: the SSH agent
        # the config travels in the clear, so a preview shows its diff
        assert not m.is_secret_input(install["stdin"])


def test_command_streams_are_secret_and_public_keys_are_not(run):
    commands = [o for o in run.outputs if o.owner in ("Command.stdout", "Command.stderr")]
    streams = [o for o in commands if not o.resource.endswith("-bundle-serial")]
    serials = [o for o in commands if o.resource.endswith("-bundle-serial")]  # a number the manifest shows anyway
    assert len(serials) == 2 * (m.model(run).hub.kind == "aws")
    assert len(streams) == 2 * EXPECTED[run.stack].get(m.REMOTE, 0) + 2 * EXPECTED[run.stack].get(m.LOCAL, 0) - len(serials)
    assert all(o.secret for o in streams)
    for name, public in m.expected_public_keys(m.model(run)).items():
        assert run.exports["public_keys"].value[name] == public
    assert not run.exports["public_keys"].secret


def test_exports(run):
    vpn = m.model(run)
    keys = m.expected_public_keys(vpn)
    exports = run.exports
    assert exports["hub_public_key"].value == keys[vpn.hub.name] and not exports["hub_public_key"].secret
    endpoint = f"{m.EIP}:{vpn.hub.listen_port}" if vpn.hub.kind == "aws" else None
    if endpoint is None:
        host = vpn.hub.endpoint
        endpoint = host if ":" in host else f"{host}:{vpn.hub.listen_port}"
    assert exports["hub_endpoint"].value == endpoint and not exports["hub_endpoint"].secret
    peers = [s.name for s in vpn.spokes if s.delivery == "file"]
    per_peer = {f"{p}_config" for p in peers}  # no QR code: `wgsites qr` makes it from the config on demand
    assert set(exports) == {"hub_public_key", "hub_endpoint", "public_keys"} | per_peer
    assert all(exports[name].secret for name in per_peer)


def test_roaming_peers_get_the_core_config_with_their_key(run):
    vpn = m.model(run)
    for spoke in (s for s in vpn.spokes if s.delivery == "file"):
        private = run.private_keys[spoke.name]
        keys = KeyRing(public=m.expected_public_keys(vpn), private={spoke.name: private})
        config = render_wg_quick(vpn, spoke.name, run.stack, keys, hub_endpoint=m.hub_endpoint(vpn))
        assert f"PrivateKey = {private}\n" in config
        assert run.exports[f"{spoke.name}_config"].value == config


def test_no_private_key_outside_secrets(run):
    assert set(run.private_keys) == DERIVED_KEYS[run.stack]
    private_keys = list(run.private_keys.values())
    for resource in run.mocks.resources:
        text = "\n".join(m.plain_parts(resource.inputs))
        for key in private_keys:
            assert key not in text, f"a private key in a plain input of {resource.name}"
        if resource.typ == m.REMOTE:  # SSH hosts: not even as a secret
            everything = repr(m.unwrap(resource.inputs))
            assert not any(key in everything for key in private_keys), resource.name
    assert run.outputs, "no resource output observed"
    for observed in run.outputs + list(run.exports.values()):
        if not observed.secret:
            assert not any(key in repr(observed.value) for key in private_keys), observed.owner
    key_outputs = {o.attr: o for o in run.outputs if o.resource == "vpn" and o.attr.startswith("private_keys[")}
    assert {a: (o.value, o.secret) for a, o in key_outputs.items()} == {
        f"private_keys[{node}]": (key, True) for node, key in run.private_keys.items()
    }


def test_the_seed_never_leaves_the_program(run):
    for resource in run.mocks.resources:  # not even as a secret input
        assert m.TEST_SEED not in repr(m.unwrap(resource.inputs)), resource.name
    for observed in run.outputs + list(run.exports.values()):
        assert m.TEST_SEED not in repr(observed.value), observed.owner


def test_pushed_configs_stay_plain_and_peer_configs_secret(run):
    """Checked on the Outputs themselves (`is_secret`): the seed's secrecy must not taint a config without a key."""
    vpn = m.model(run)
    for node in vpn.nodes:
        config = run.observed("vpn", f"configs[{node.name}]")
        carries_key = node.name in run.private_keys and node is not vpn.hub
        assert config.secret is carries_key, node.name
        assert ("PrivateKey = " in config.value) is carries_key, node.name
    for name in run.vpn_component.hosts:
        assert run.observed(f"vpn-{name}-install", "stdin").secret is False
    if vpn.hub.kind == "aws":
        assert run.observed("vpn-gateway-bundle-0000", "insecure_value").secret is False
        assert run.observed("vpn-gateway-private-key", "value").secret is True
    for name in run.vpn_component.peers:
        assert run.exports[f"{name}_config"].secret is True


def test_a_second_stack_in_the_same_process_sees_its_own_config(home, router):
    assert home.exports["hub_endpoint"].value.startswith(m.EIP)
    assert router.exports["hub_endpoint"].value == "home.example.net:51000"
    again = m.run_stack("home")
    assert Counter(r.typ for r in again.mocks.resources) == expected_set(again)


@pytest.mark.parametrize("stack", ["home", "router"])
def test_preview_runs_without_known_values(stack):
    run = m.run_stack(stack, preview=True)
    assert Counter(r.typ for r in run.mocks.resources) == expected_set(run)
