"""The delivery plan (wgsites.rendering.delivery): what the Pulumi program must know before any key exists is what the
files made with the real keys turn out to need. (That `render` and the program deliver the same files:
tests/mocks/test_pulumi_delivery_plan.py.)"""

from __future__ import annotations

import copy

import pytest
import yaml

from bench.scale_stack import scale_vpn
from tests.stacks import BUNDLE_KEY, HUB_ENDPOINT, STACKS, stack_file
from wgsites.operations.cli import local_keys
from wgsites.rendering.bundle import chunk_count
from wgsites.rendering.delivery import DeliveryPlan
from wgsites.stack.model import Vpn
from wgsites.stack.parse import CONFIG_KEY, parse_vpn


def example(stack: str, preshared: bool = False) -> Vpn:
    raw = copy.deepcopy(yaml.safe_load(stack_file(stack).read_text())["config"][CONFIG_KEY])
    if preshared:
        raw["presharedKey"] = True
    return parse_vpn(raw)


CASES = [(stack, preshared) for stack in STACKS for preshared in (False, True)]


def ids(case: tuple[str, bool]) -> str:
    return f"{case[0]}{'-psk' if case[1] else ''}"


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_what_a_config_names_and_holds_is_known_before_its_keys(case, tmp_path):
    stack, preshared = case
    vpn = example(stack, preshared)
    plan = DeliveryPlan(vpn, stack, "eu-central-1")
    keys = local_keys(vpn, tmp_path)  # every key distinct
    endpoint = HUB_ENDPOINT if vpn.hub.endpoint is None else None
    for node in vpn.nodes:
        config = plan.config(node.name, keys, endpoint)
        named = {n for n, key in keys.public.items() if f"PublicKey = {key}\n" in config}
        assert set(plan.config_keys(node.name)) == named, node.name
        secret = "\nPrivateKey = " in config or "\nPresharedKey = " in config
        assert plan.holds_a_secret(node.name) == secret, node.name
        assert bool(plan.preshared_keys(node.name, keys)) == (bool(plan.preshared_peers(node.name)) and node.delivery != "file")


@pytest.mark.parametrize("case", [("home", False), ("home", True), ("travel", False), ("scale", True)], ids=ids)
def test_the_gateway_counts_are_those_of_its_real_files(case, tmp_path):
    """The program registers one SSM parameter per chunk before the keys resolve: the counts come from
    stand-in keys, and must be those of the files made with the real ones."""
    stack, preshared = case
    vpn = parse_vpn({**scale_vpn(300), "presharedKey": True}) if stack == "scale" else example(stack, preshared)
    plan = DeliveryPlan(vpn, stack, "eu-central-1")
    counts = plan.gateway  # no key exists yet
    assert counts is not None and counts.bundle_chunks > 1 and counts.status_chunks >= 1
    keys = local_keys(vpn, tmp_path)
    files = {f.name: f.content for f in plan.files(vpn.hub.name, keys, None, BUNDLE_KEY, 1)}
    assert counts.bundle_chunks == chunk_count(files["bundle.json"])
    psk = files.get(f"{vpn.hub.interface}.psk")
    assert counts.preshared_key_chunks == (chunk_count(psk) if psk else 0)
    assert (psk is not None) == (preshared or stack == "scale")


def test_an_ssh_hub_has_no_gateway_and_needs_no_region():
    plan = DeliveryPlan(example("router"), "router")
    assert plan.gateway is None
    with pytest.raises(ValueError, match="of kind ssh: it has no SSM parameters"):
        _ = plan.gateway_parameters


def test_an_aws_hub_without_its_region_or_signing_key_is_refused_by_name(tmp_path):
    vpn = example("home")
    keys = local_keys(vpn, tmp_path)
    spoke = next(s for s in vpn.spokes if s.delivery == "ssh")
    assert DeliveryPlan(vpn, "home").files(spoke.name, keys, HUB_ENDPOINT)  # the others render without it
    for plan, key in ((DeliveryPlan(vpn, "home"), BUNDLE_KEY), (DeliveryPlan(vpn, "home", "eu-central-1"), None)):
        with pytest.raises(ValueError, match="the aws hub gateway needs its region"):
            plan.files("gateway", keys, None, key)


def test_render_writes_a_qr_code_beside_the_config_of_a_device_holding_its_key(tmp_path):
    vpn = example("home")
    plan, keys = DeliveryPlan(vpn, "home", "eu-central-1"), local_keys(vpn, tmp_path)
    for node in vpn.nodes:
        files = {f.name: f for f in plan.files(node.name, keys, HUB_ENDPOINT, BUNDLE_KEY, codes=True)}
        code = {f"{node.interface}.png", f"{node.interface}.qr.txt"} & set(files)
        assert bool(code) == (node.is_device and node.key_source == "derived"), node.name
        assert all(files[name].mode == 0o600 for name in code)
        assert {f.name for f in plan.files(node.name, keys, HUB_ENDPOINT, BUNDLE_KEY)} == set(files) - code
