"""Derived keys in the Pulumi layer, resource options, and Pulumi.yaml."""

from __future__ import annotations

import pulumi
import pulumi.runtime.settings
import pytest
import wgmocks as m
import yaml

from components.vpn import WireGuardVpn, WireGuardVpnArgs
from wgsites.stack import schema
from wgsites.stack.keys import derive_private_key, is_valid_key, public_key_of
from wgsites.stack.parse import parse_vpn


def test_derived_keys_are_secret_and_their_public_halves_plain(home):
    for node in ("gateway", "laptop", "phone"):
        private = home.observed("vpn", f"private_keys[{node}]")
        public = home.observed("vpn", f"public_keys[{node}]")
        assert private.secret and private.value == derive_private_key(m.TEST_SEED, f"{node}/0")
        assert not public.secret and public.value == public_key_of(private.value)
        assert is_valid_key(private.value) and is_valid_key(public.value)
    assert not home.observed("vpn", "public_keys[home]").secret  # the SSH host's, un-secreted from stdout


def _run_component(stack: str, seed: str) -> tuple[m.RecordingMocks, dict[str, str]]:
    """WireGuardVpn built directly (not through __main__.py) with an explicit seed."""
    mocks = m.RecordingMocks(region="eu-central-1")
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="wgsites", stack=stack, monitor=m.EngineLikeMonitor(mocks))
    pulumi.runtime.set_all_config({}, [])  # no wgsites:keySeed in config: the argument is all there is
    vpn = parse_vpn(m.stack_config(stack)["wgsites:vpn"])
    seen: dict[str, str] = {}

    @pulumi.runtime.test
    def program():
        component = WireGuardVpn("vpn", WireGuardVpnArgs(vpn=vpn, stack=stack, key_seed=seed))
        return pulumi.Output.all(**component.public_keys).apply(seen.update)

    program()
    return mocks, seen


def test_the_component_takes_an_explicit_seed():
    seed = m.seeded_private_key("given to the component")
    _, public = _run_component("router", seed)
    assert public["laptop"] == public_key_of(derive_private_key(seed, "laptop/0"))


def test_an_explicit_bad_seed_fails_before_any_resource():
    with pytest.raises(pulumi.RunError) as caught:
        _run_component("router", "c2hvcnQ=")
    assert str(caught.value).startswith("wgsites:keySeed: the value decodes to 5 bytes, fewer than 32;")


def test_options_that_keep_secrets_and_hosts_safe(home):
    requests = home.mocks.requests
    for name in ("vpn-home-key", "vpn-home-install"):
        assert {"stdout", "stderr"} <= set(requests[name].additionalSecretOutputs)
        assert not requests[name].deleteBeforeReplace
    install = requests["vpn-home-install"]
    assert any(dep.endswith("::vpn-home-key") for dep in install.dependencies)
    instance = requests["vpn-gateway-instance"]
    assert list(instance.ignoreChanges) == ["ami"]  # a new Ubuntu image never replaces the gateway
    for needed in ("::vpn-gateway-bundle", "::vpn-gateway-private-key", "::vpn-gateway-read-parameters"):
        assert any(dep.endswith(needed) for dep in instance.dependencies), needed


def test_no_dynamic_provider(run):
    assert not any(r.typ.startswith("pulumi-python:dynamic") for r in run.mocks.resources)
    assert not any("__provider" in r.inputs for r in run.mocks.resources)


def test_every_resource_is_inside_the_vpn_component(run):
    assert "pulumi:pulumi:Stack" in run.mocks.requests["vpn"].parent
    for name, request in run.mocks.requests.items():
        parent = request.parent.rsplit("::", 1)[-1]
        if name not in ("vpn", "wgsites-" + run.stack):
            assert parent == "vpn" or (parent.startswith("vpn-") and name.startswith(parent + "-")), name


def test_project_file():
    text = (m.ROOT / "Pulumi.yaml").read_text()
    project = yaml.safe_load(text)
    assert project["name"] == "wgsites"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    # only scalars, each typed and described; a declared key without a default would be required
    assert set(project["config"]) == {"sshPrivateKeyPath", "autoDeploy", "driftCheck"}
    # wgsites:autoDeploy (read by check and scripts/ci-stacks, not the program) is declared as the schema has it
    auto_deploy = schema.key(schema.STACK, "wgsites:autoDeploy")
    assert project["config"]["autoDeploy"]["type"] == "boolean"
    assert project["config"]["autoDeploy"]["default"] is auto_deploy.default is False
    drift = schema.key(schema.STACK, "wgsites:driftCheck")
    assert project["config"]["driftCheck"]["type"] == "boolean"
    assert project["config"]["driftCheck"]["default"] is drift.default is True
    for spec in project["config"].values():
        assert spec["type"] in ("string", "boolean", "integer") and spec["description"]
        assert "default" in spec
    # the undeclared keys are named in its comments, the seed with the command that makes it
    for key in ("wgsites:vpn", "wgsites:sshPrivateKey", "wgsites:keyRotations", "wgsites:keySeed"):
        assert f"`{key}`" in text, key
    assert "head -c 32 /dev/urandom | base64" in text
