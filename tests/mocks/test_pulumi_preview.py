"""`pulumi preview` of a pull request that adds a peer: the hub's pushed config must show the new [Peer].

The mocks answer as the engine does in a preview (wgmocks): resources already in
the stack come back with their outputs, new ones with only their inputs, so
anything that waits on a new resource's output is unknown. Derived keys wait on
nothing but the seed, so the hub's config, SSM parameter and push are known.
"""

from __future__ import annotations

import copy

import pytest
import wgmocks as m

from wgsites.rendering.render import KeyRing, render_wg_quick

NEW_PEER = {
    "home": {"name": "tablet", "address": "10.99.0.12"},
    "router": {"name": "phone", "address": "10.10.11.3"},
    "travel": {"name": "phone", "address": "10.90.90.3"},
}


def preview_with_a_new_peer(stack: str) -> tuple[m.Run, m.Run]:
    """(the deployed stack, a preview of it plus one peer)."""
    deployed = m.run_stack(stack)
    raw = copy.deepcopy(deployed.vpn_raw)
    raw["peers"].append(NEW_PEER[stack])
    preview = m.run_stack(stack, vpn=raw, preview=True, existing={r.name for r in deployed.mocks.resources})
    return deployed, preview


@pytest.mark.parametrize("stack", ["home", "router", "travel"])
def test_the_hubs_config_is_known_in_preview_and_shows_every_peer(stack):
    deployed, preview = preview_with_a_new_peer(stack)
    vpn = m.model(preview)
    hub = vpn.hub.name
    keys = m.expected_public_keys(vpn)
    expected = render_wg_quick(vpn, hub, stack, KeyRing(public=keys))
    new = NEW_PEER[stack]["name"]
    if vpn.hub.kind == "aws":
        pushed = m.gateway_config(preview.mocks)
        observed = preview.observed(f"vpn-{hub}-bundle-0000", "insecure_value")
    else:
        pushed = preview.mocks.named(f"vpn-{hub}-install").inputs["stdin"]
        observed = preview.observed(f"vpn-{hub}-install", "stdin")
    assert pushed == expected  # a plain string: known, not the unknown sentinel, not a secret
    assert observed.known and not observed.secret
    assert observed.value == expected or vpn.hub.kind == "aws"  # the aws hub's config is inside its bundle's chunks
    for spoke in vpn.spokes:
        assert f"[Peer]\n# {spoke.name}\nPublicKey = {keys[spoke.name]}\n" in pushed, spoke.name
    assert f"AllowedIPs = {NEW_PEER[stack]['address']}/32\n" in pushed
    assert new in preview.exports["public_keys"].value and preview.exports["public_keys"].known
    assert "PrivateKey" not in pushed
    assert not any(key in pushed for key in preview.private_keys.values())
    assert pushed != (
        m.gateway_config(deployed.mocks) if vpn.hub.kind == "aws" else deployed.mocks.named(f"vpn-{hub}-install").inputs["stdin"]
    )


def test_the_new_peers_own_config_is_known_and_secret_in_preview():
    _, preview = preview_with_a_new_peer("home")
    config = preview.exports["tablet_config"]
    assert config.known and config.secret
    assert f"PrivateKey = {preview.private_keys['tablet']}\n" in config.value


def test_sites_that_only_name_the_hub_keep_a_known_push_in_preview():
    _, preview = preview_with_a_new_peer("home")
    push = preview.observed("vpn-home-install", "stdin")
    assert push.known and not push.secret


@pytest.mark.parametrize(("stack", "hub_push"), [("travel", "vpn-gateway-bundle-0000"), ("router", "vpn-router-install")])
def test_a_new_stack_previews_hub_configs_that_need_no_host_output(stack, hub_push):
    """Nothing exists yet: a hub whose peers all have derived keys still shows its whole config."""
    preview = m.run_stack(stack, preview=True)
    attr = "insecure_value" if "-bundle-" in hub_push else "stdin"
    assert preview.observed(hub_push, attr).known
    assert not preview.observed(hub_push, attr).secret
    # the mocks do leave a new resource's outputs unknown: what waits on them is unknown too
    waits_on_a_new_resource = "hub_endpoint" if stack == "travel" else "hub_public_key"  # the Elastic IP; the host's key
    assert not preview.exports[waits_on_a_new_resource].known


def test_what_stays_unknown_in_a_new_stacks_preview_is_what_a_new_host_reports():
    preview = m.run_stack("home", preview=True)
    assert not preview.observed("vpn", "public_keys[home]").known  # made on the host at the first `up`
    assert not preview.observed("vpn-gateway-bundle-0000", "insecure_value").known  # names home's key
    for node in ("gateway", "laptop", "phone"):
        assert preview.observed("vpn", f"public_keys[{node}]").known


def test_a_new_site_leaves_the_other_sites_pushes_known_in_preview():
    """Each host's key is checked against every other node's (no two nodes with one key), but a site's own
    config names only the hub: a new site's unknown key must not blank it (the hub's is checked against
    the keys a preview knows)."""
    deployed = m.run_stack("sites")
    raw = copy.deepcopy(deployed.vpn_raw)
    raw["network"], raw["hub"]["address"], raw["sites"][0]["address"] = "10.10.9.0/24", "10.10.9.1", "10.10.9.2"
    gamma = {"name": "gamma", "address": "10.10.9.3", "interface": "wgC", "lans": ["10.10.12.0/24"]}
    raw["sites"].append({**gamma, "endpoint": "gamma.example.net:51000", "ssh": {"host": "10.10.12.1"}})
    preview = m.run_stack("sites", vpn=raw, preview=True, existing={r.name for r in deployed.mocks.resources})
    assert preview.observed("vpn-beta-install", "stdin").known
    assert preview.observed("vpn-gamma-install", "stdin").known  # its own key is unknown, its config names the hub's
    assert not preview.observed("vpn-alpha-install", "stdin").known  # names gamma's key, unknown until gamma answers
