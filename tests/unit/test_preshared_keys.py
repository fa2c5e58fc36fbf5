"""Preshared keys: derived per pair and rotation from the seed, never a private key; where rendering puts them."""

from __future__ import annotations

import base64
import copy
import hashlib

import yaml

from tests import apps
from tests.stacks import stack_file
from tests.unit.test_keys import OTHER_SEED, SEED
from wgsites.operations.cli import local_keys
from wgsites.rendering.delivery import DeliveryPlan
from wgsites.rendering.render import (
    allowed_hooks,
    preshared_key_hook,
    render_preshared_keys,
    render_wg_quick,
)
from wgsites.stack.keys import derive_preshared_key, derive_private_key, is_valid_key, key_label, preshared_key_label
from wgsites.stack.parse import parse_vpn


def vpn_with(stack: str, **extra) -> object:
    raw = copy.deepcopy(yaml.safe_load(stack_file(stack).read_text())["config"]["wgsites:vpn"])
    raw.update(extra)
    return parse_vpn(raw)


def test_the_derivation_is_pinned_and_unclamped():
    """Changing it would change every deployed pair's key at once: the known answer must never change."""
    expected = hashlib.blake2b(b"psk/laptop/0", key=bytes(range(32)), person=b"wgsites-psk", digest_size=32).digest()
    assert derive_preshared_key(SEED, "psk/laptop/0") == base64.b64encode(expected).decode()
    assert preshared_key_label("laptop") == "psk/laptop/0" and preshared_key_label("beta", "2026-12") == "psk/beta/2026-12"


def test_one_key_per_pair_rotation_and_seed_and_never_a_private_key():
    labels = [preshared_key_label(s, r) for s in ("laptop", "beta", "phone") for r in (0, 1, "2026-12")]
    keys = [derive_preshared_key(seed, label) for seed in (SEED, OTHER_SEED) for label in labels]
    assert len(set(keys)) == len(keys) and all(is_valid_key(k) for k in keys)
    assert derive_preshared_key(SEED, labels[0]) == derive_preshared_key(SEED, labels[0])  # deterministic
    private = {derive_private_key(seed, label) for seed in (SEED, OTHER_SEED) for label in labels}
    private |= {
        derive_private_key(seed, key_label(s, r)) for seed in (SEED, OTHER_SEED) for s in ("laptop", "beta") for r in (0, 1)
    }
    assert not private & set(keys)


def test_a_spoke_overrides_the_stack():
    vpn = vpn_with("internal", presharedKey=True)
    assert [s.name for s in vpn.preshared_spokes] == [s.name for s in vpn.spokes]
    raw = copy.deepcopy(yaml.safe_load(stack_file("internal").read_text())["config"]["wgsites:vpn"])
    raw["presharedKey"] = True
    raw["peers"][0]["presharedKey"] = False
    assert raw["peers"][0]["name"] not in [s.name for s in parse_vpn(raw).preshared_spokes]
    assert not vpn_with("internal").preshared_spokes


def test_a_device_config_has_it_inline_and_every_app_takes_it(tmp_path):
    vpn = vpn_with("router", presharedKey=True)
    keys = local_keys(vpn, tmp_path)
    config = render_wg_quick(vpn, "laptop", "router", keys)
    assert f"PresharedKey = {keys.preshared['laptop']}\n" in config
    assert apps.refusals(config, "home0") == {}
    # the parsers do read the line: a key cut short is refused by each app
    broken = apps.refusals(config.replace(keys.preshared["laptop"], keys.preshared["laptop"][4:]), "home0")
    assert set(broken) == {"android", "apple", "windows"}, broken


def test_a_managed_host_gets_a_hook_and_a_store_never_the_key_in_its_config(tmp_path):
    vpn = vpn_with("sites", presharedKey=True)
    keys = local_keys(vpn, tmp_path)
    for node in ("alpha", "beta"):
        files = {f.name: f for f in DeliveryPlan(vpn, "sites").files(node, keys)}
        conf = files[f"{vpn.node(node).interface}.conf"].content
        assert "PresharedKey" not in conf and keys.preshared["beta"] not in conf
        assert f"{preshared_key_hook()}\n" in conf
        store = files[f"{vpn.node(node).interface}.psk"]
        assert store.mode == 0o600 and store.content == render_preshared_keys(vpn, node, "sites", keys)
        other = "beta" if node == "alpha" else "alpha"
        assert f"{keys.public[other]} {keys.preshared['beta']}\n" in store.content
    assert preshared_key_hook() in allowed_hooks("wgA")
    # a stack without preshared keys: no hook, no store
    plain = vpn_with("sites")
    assert render_preshared_keys(plain, "alpha", "sites", local_keys(plain, tmp_path / "plain")) is None
    assert str(preshared_key_hook()) not in render_wg_quick(plain, "alpha", "sites", local_keys(plain, tmp_path / "plain"))
