"""Every config a phone or laptop gets is one the official WireGuard apps import (see tests/apps.py).

Rendered as `wgsites render` does and as the Pulumi program exports it (under mocks), for every
example stack; a bring-your-own-key device once its key is pasted. The app rules are checked to
differ where the apps do, so the three parsers are not one.
"""

from __future__ import annotations

import copy
import re

import pytest

from tests import apps
from tests.mocks import wgmocks
from tests.stacks import STACKS, render_stack, stack_file
from wgsites.stack.keys import generate_private_key, public_key_of
from wgsites.stack.model import Vpn
from wgsites.stack.parse import CONFIG_KEY, parse_vpn
from wgsites.stack.yaml_file import read_stack_document

OWN_KEY_COMMENT = re.compile(r"(?m)^# Your own key: .*PrivateKey.*\n")


def check_imports(config: str, name: str, where: str) -> None:
    """Fail unless all three apps import CONFIG as tunnel NAME; the message names the rules, never the key."""
    refused = apps.refusals(config, name)
    assert not refused, f"{where}: refused by {refused}"


def device_configs(stack: str, tmp_path, vpn: Vpn | None = None) -> dict[str, tuple[str, str]]:
    """Device name -> (interface, config) as `wgsites render` writes them."""
    rendered = render_stack(stack, tmp_path / stack, vpn)
    return {node.name: (node.interface, rendered.conf(node.name)) for node in rendered.vpn.nodes if node.is_device}


def test_every_rendered_device_config_imports_in_every_app(tmp_path):
    checked = 0
    for stack in STACKS:
        for device, (iface, config) in device_configs(stack, tmp_path).items():
            check_imports(config, iface, f"{stack}/{device}")
            checked += 1
    assert checked == 5  # home: laptop, phone; internal, router, travel: laptop


@pytest.mark.parametrize("stack", STACKS)
def test_every_device_config_the_pulumi_program_exports_imports_in_every_app(stack):
    run = wgmocks.run_stack(stack)
    vpn = wgmocks.model(run)
    devices = [node for node in vpn.nodes if node.is_device]
    for node in devices:
        exported = run.exports[f"{node.name}_config"]
        assert exported.secret
        check_imports(exported.value, node.interface, f"{stack}/{node.name} (pulumi)")
    assert len(devices) == {"home": 2, "sites": 0}.get(stack, 1)


def test_the_configs_of_hosts_wgsites_installs_are_not_for_the_apps(tmp_path):
    """The other configs keep SaveConfig and hooks (wg-quick on a host): every app refuses them, as it should."""
    for stack in STACKS:
        rendered = render_stack(stack, tmp_path / stack)
        for node in rendered.vpn.nodes:
            if not node.is_device:
                assert set(apps.refusals(rendered.conf(node.name))) == {"android", "apple", "windows"}, node.name


def with_own_key_device(stack: str, public_key: str) -> Vpn:
    """STACK with one more peer that brings its own key: only its public key is in the stack."""
    raw = copy.deepcopy(read_stack_document(stack_file(stack))["config"][CONFIG_KEY])
    vpn = parse_vpn(raw)
    used = {node.address for node in vpn.nodes}
    address = next(a for a in vpn.network.hosts() if a not in used)
    raw.setdefault("peers", []).append({"name": "tablet", "address": str(address), "interface": "tab0", "publicKey": public_key})
    return parse_vpn(raw)


@pytest.mark.parametrize("stack", ["home", "router", "travel"])
def test_a_bring_your_own_key_device_imports_once_its_key_is_pasted_where_the_comment_says(stack, tmp_path):
    private = generate_private_key()
    iface, config = device_configs(stack, tmp_path, with_own_key_device(stack, public_key_of(private)))["tablet"]
    assert "PrivateKey" not in config.replace("key name PrivateKey", "")  # only the comment names it
    as_is = apps.refusals(config, iface)
    # Android's and Windows' parsers require a PrivateKey; so does Apple's (collate: interfaceHasNoPrivateKey)
    assert {app: errors[0] for app, errors in as_is.items()} == {
        "android": "[Interface] PrivateKey: missing (Interface.java Builder.build)",
        "apple": "[Interface] PrivateKey: missing (interfaceHasNoPrivateKey)",
        "windows": "an interface must have a private key",
    }
    comment = OWN_KEY_COMMENT.search(config)
    assert comment, "no comment says where the key goes"
    pasted = config[: comment.end()] + f"PrivateKey = {private}\n" + config[comment.end() :]
    check_imports(pasted, iface, f"{stack}/tablet with its key pasted")


def a_device_config(tmp_path) -> str:
    return device_configs("home", tmp_path)["laptop"][1]


def test_the_check_can_fail_on_save_config(tmp_path):
    """SaveConfig = false, as every host config has it, makes the very check above fail."""
    config = a_device_config(tmp_path).replace("[Peer]", "SaveConfig = false\n\n[Peer]", 1)
    with pytest.raises(AssertionError, match="refused by"):
        check_imports(config, "home0", "home/laptop with SaveConfig")
    assert set(apps.refusals(config)) == {"android", "apple", "windows"}


def test_hooks_are_refused_by_the_apps_that_have_none(tmp_path):
    """PostUp: Android and Apple refuse it; Windows imports it (and runs it only if the user allows scripts)."""
    config = a_device_config(tmp_path).replace("[Peer]", "PostUp = true\n\n[Peer]", 1)
    assert set(apps.refusals(config)) == {"android", "apple"}


# A real device config with OLD replaced by NEW, and which apps refuse it: where the apps' rules differ.
ADD = "\n[Peer]"  # a line added at the end of [Interface]
DIFFERENCES = [
    # refused by one app alone
    (ADD, "\nDNS = 10.99.0.1, corp_lan" + ADD, {"android"}),  # Android takes only host names as search domains
    ("MTU = 1440", "MTU = 1440\nMTU = 1400", {"apple"}),  # Apple refuses a repeated key; the others keep the last
    ("MTU = 1440", "MTU = 500", {"windows"}),  # Windows wants 576-65535
    (ADD, "\n[Interface]\nMTU = 1400" + ADD, {"apple"}),  # a second [Interface]: Android and Windows merge it
    ("Endpoint = 203.0.113.10:", "Endpoint = vpn_host.example.net:", {"android"}),  # not a java.net.URI host
    # refused by two
    (ADD, "\nDNS = 10.99.0.1,,10.99.0.2" + ADD, {"android", "windows"}),  # Apple drops the empty item
    ("/24", "/33", {"android", "windows"}),  # Apple lowers the prefix to /32
    # accepted by one app alone
    (ADD, "\nIncludedApplications = com.example.browser" + ADD, {"apple", "windows"}),  # Android's split tunnelling
    (ADD, "\nTable = off" + ADD, {"android", "apple"}),  # Windows knows wg-quick's Table
    ("PersistentKeepalive = 25", "PersistentKeepalive = off", {"android", "apple"}),  # Windows reads off as 0
]


@pytest.mark.parametrize(("old", "new", "refused_by"), DIFFERENCES, ids=[new.strip() for _, new, _ in DIFFERENCES])
def test_the_app_rules_differ_where_the_apps_do(old, new, refused_by, tmp_path):
    config = a_device_config(tmp_path)
    assert old in config
    assert set(apps.refusals(config.replace(old, new, 1))) == refused_by


def test_each_app_refuses_something_the_other_two_import():
    alone = [refused for _, _, refused in DIFFERENCES if len(refused) == 1]
    assert set().union(*alone) == {"android", "apple", "windows"}
