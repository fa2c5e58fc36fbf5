"""The pack as the engine loads it: every policy MANDATORY, each reporting its rule's messages, the port from the stack."""

from __future__ import annotations

import importlib.util
import json
from types import SimpleNamespace

import pytest
import stack_settings
import wgsites_rules as rules
from programs import ROOT_PACK, program
from pulumi_policy import EnforcementLevel, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import unknown_checking_proxy


def load_pack():
    """policy/__main__.py imported under another name, so it defines its policies without serving."""
    spec = importlib.util.spec_from_file_location("wgsites_policy_pack", ROOT_PACK / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PACK = load_pack()


def violations(policy, typ: str, props: dict, config: dict | None = None) -> list[str]:
    reported: list[str] = []
    opts = PolicyResourceOptions(False, [], None, [], None, [], None)
    args = ResourceValidationArgs(typ, unknown_checking_proxy(props), "urn:pulumi:t::p::x::y", "y", opts, None, config)
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def policy_named(name: str):
    return next(p for p in PACK.POLICIES if p.name == name)


def test_every_policy_is_mandatory_and_named_once():
    names = [p.name for p in PACK.POLICIES]
    assert len(names) == len(set(names)) == 9
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in PACK.POLICIES)


@pytest.mark.parametrize(
    ("policy", "suffix", "breaks"),
    [
        ("wgsites-imdsv2-required", "gateway-instance", lambda p: p["metadataOptions"].update(httpTokens="optional")),
        ("wgsites-encrypted-volumes", "gateway-instance", lambda p: p["rootBlockDevice"].update(encrypted=False)),
        ("wgsites-no-private-key-in-plain-parameter", "gateway-private-key", lambda p: p.update(type="String")),
        ("wgsites-no-world-open-ingress", "gateway-sg", lambda p: p["ingress"][0].update(protocol="tcp")),
    ],
)
def test_policies_report_their_rule(policy, suffix, breaks):
    r = program("home").named(suffix)
    props = r.copy()
    assert [v for p in PACK.POLICIES for v in violations(p, r.type, r.copy())] == []
    breaks(props)
    assert violations(policy_named(policy), r.type, props)


def test_command_policies_report():
    r = program("router").named("router-install")
    props = r.copy()
    props["logging"] = "stdoutAndStderr"
    props["stdin"] = "[Interface]\nPrivateKey = " + "A" * 43 + "=\n"
    assert violations(policy_named("wgsites-command-logging-none"), r.type, props)
    assert violations(policy_named("wgsites-no-private-key-in-command"), r.type, props)
    props["stdin"] += "[Peer]\nPresharedKey = " + "A" * 43 + "=\n"
    assert violations(policy_named("wgsites-no-preshared-key-in-pushed-config"), r.type, props)


def test_ingress_port_comes_from_the_stack_config(monkeypatch):
    """travel listens on 51000: its group passes with travel's config and fails with another port."""
    r = program("travel").named("gateway-sg")
    policy = policy_named("wgsites-no-world-open-ingress")
    monkeypatch.setattr(stack_settings, "_stack_config", {})
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"wgsites:vpn": json.dumps({"listenPort": 51000})}))
    assert violations(policy, r.type, r.copy()) == []
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"wgsites:vpn": json.dumps({"listenPort": 51820})}))
    assert violations(policy, r.type, r.copy())
    assert violations(policy, r.type, r.copy(), config={"listenPort": 51000}) == []  # --policy-pack-config wins


def test_configure_stack_is_captured(monkeypatch):
    """The engine's ConfigureStack carries the stack config; the pack keeps `wgsites:vpn` and nothing else."""
    monkeypatch.setattr(stack_settings, "_stack_config", {})
    calls = []
    monkeypatch.setattr(_PolicyAnalyzerServicer, "ConfigureStack", lambda self, request, context: calls.append(request))
    stack_settings.capture_stack_config()
    stack_settings.capture_stack_config()  # idempotent: wraps once
    request = SimpleNamespace(config={"wgsites:vpn": json.dumps({"listenPort": 51000}), "wgsites:keySeed": "not kept"}, tags={})
    _PolicyAnalyzerServicer.ConfigureStack(None, request, None)
    assert len(calls) == 1
    assert dict(stack_settings.stack_config()) == {"wgsites:vpn": request.config["wgsites:vpn"]}
    assert stack_settings.listen_port() == 51000


@pytest.mark.parametrize(
    ("config", "port"),
    [
        ({}, 51820),
        ({"wgsites:vpn": "{}"}, 51820),
        ({"wgsites:vpn": '{"listenPort": 51000}'}, 51000),
        ({"wgsites:vpn": "x"}, 51820),
    ],
)
def test_listen_port_of(config, port):
    assert stack_settings.listen_port_of(config) == port
    assert rules.DEFAULT_LISTEN_PORT == 51820


def test_the_guest_policy_reads_the_stack_config_the_engine_sent(monkeypatch):
    from test_rules_fire import office

    vpn = office()
    policy = policy_named("wgsites-no-guest-reaches-a-whole-lan")
    monkeypatch.setattr(stack_settings, "_stack_config", {"wgsites:vpn": json.dumps(vpn)})
    reported: list[str] = []
    policy.validate(None, reported.append)
    assert reported == []
    vpn["access"]["rules"].append({"from": "guests", "to": "office-lan"})
    monkeypatch.setattr(stack_settings, "_stack_config", {"wgsites:vpn": json.dumps(vpn)})
    policy.validate(None, reported.append)
    assert [m.split(",")[0] for m in reported] == ["access.rules[3] lets the guest group guests reach office-lan"]
