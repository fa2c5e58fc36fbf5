"""WireGuardKey's provider (which mocks never call), resource options, and Pulumi.yaml."""

from __future__ import annotations

import base64
import subprocess
import sys

import wgmocks as m
import yaml
from pulumi.dynamic.dynamic import serialize_provider

from components.keys import WireGuardKeyProvider
from wgsites.keys import is_valid_key, public_key_of


def test_create_makes_a_real_key_pair():
    result = WireGuardKeyProvider().create({"rotation": 0})
    outs = result.outs
    assert is_valid_key(outs["private_key"]) and is_valid_key(outs["public_key"])
    assert public_key_of(outs["private_key"]) == outs["public_key"]
    assert result.id == outs["public_key"]  # the id is public: never the private key
    assert WireGuardKeyProvider().create({}).outs["private_key"] != outs["private_key"]


def test_diff_keeps_the_key_unless_rotation_changes():
    provider = WireGuardKeyProvider()
    olds = {"rotation": 0.0, "private_key": "x", "public_key": "y"}
    for same in ({"rotation": 0}, {"rotation": 0.0}, {"rotation": "0"}, {}):
        assert provider.diff("id", olds, same).changes is False
    diff = provider.diff("id", olds, {"rotation": 1})
    assert diff.changes is True and diff.replaces == ["rotation"] and diff.delete_before_replace is False
    assert provider.diff("id", {"rotation": 1.0}, {"rotation": 1}).changes is False
    assert provider.diff("id", {"rotation": "2024-06"}, {"rotation": "2025-01"}).changes is True


def test_the_serialized_provider_is_stable_and_loads_where_the_engine_runs_it():
    serialized = serialize_provider(WireGuardKeyProvider())
    assert serialized == serialize_provider(WireGuardKeyProvider())  # no diff between runs
    assert len(base64.b64decode(serialized)) < 200  # captures nothing
    # the engine starts `python -m pulumi.dynamic` in the program's directory (ctx.Pwd)
    script = (
        "import base64, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.argv[1]))\n"
        "outs = provider.create({'rotation': 0}).outs\n"
        "from wgsites.keys import public_key_of\n"
        "assert public_key_of(outs['private_key']) == outs['public_key']\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script, serialized], cwd=m.ROOT, capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr


def test_options_that_keep_secrets_and_hosts_safe(home):
    requests = home.mocks.requests
    for name in ("vpn-gateway-keypair", "vpn-laptop-keypair", "vpn-phone-keypair"):
        assert list(requests[name].additionalSecretOutputs) == ["private_key"]
    for name in ("vpn-home-key", "vpn-home-install"):
        assert {"stdout", "stderr"} <= set(requests[name].additionalSecretOutputs)
        assert not requests[name].deleteBeforeReplace
    install = requests["vpn-home-install"]
    assert any(dep.endswith("::vpn-home-key") for dep in install.dependencies)
    instance = requests["vpn-gateway-instance"]
    assert list(instance.ignoreChanges) == ["ami"]  # a new Ubuntu image never replaces the gateway
    for needed in ("::vpn-gateway-config", "::vpn-gateway-private-key", "::vpn-gateway-read-parameters"):
        assert any(dep.endswith(needed) for dep in instance.dependencies), needed


def test_every_resource_is_inside_the_vpn_component(run):
    assert "pulumi:pulumi:Stack" in run.mocks.requests["vpn"].parent
    for name, request in run.mocks.requests.items():
        parent = request.parent.rsplit("::", 1)[-1]
        if name not in ("vpn", "wgsites-" + run.stack):
            assert parent == "vpn" or (parent.startswith("vpn-") and name.startswith(parent + "-")), name


def test_project_file():
    project = yaml.safe_load((m.ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "wgsites"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    # only scalars, each typed and described; a declared key without a default would be required
    assert set(project["config"]) == {"sshPrivateKeyPath"}
    for spec in project["config"].values():
        assert spec["type"] in ("string", "boolean", "integer") and spec["description"]
        assert "default" in spec
