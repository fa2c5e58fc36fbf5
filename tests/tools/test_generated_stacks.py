"""Random valid stacks (tests/strategies.py): parsed, every node rendered, every device config
imported by the three apps' rules, and, for a few, every config loaded by `wg setconf` on a real interface."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings

from tests import apps
from tests.stacks import render_stack
from tests.strategies import stacks
from wgsites.stack.keys import generate_private_key
from wgsites.stack.parse import parse_vpn

# wg resolves an Endpoint host name at once and this machine has no DNS: a documentation address instead
NAMED_ENDPOINT = re.compile(r"(?m)^Endpoint = [a-z0-9.-]+\.example\.net:")


def render(raw):
    vpn = parse_vpn(raw)
    with tempfile.TemporaryDirectory() as keys:  # empty: every key is made anew, as a first render does
        return render_stack("generated", Path(keys), vpn)


@settings(max_examples=200, deadline=None)
@given(stacks())
def test_every_drawn_stack_parses_renders_and_its_devices_import_in_every_app(raw):
    rendered = render(raw)
    event(f"hub {rendered.vpn.hub.kind}")
    devices = [node for node in rendered.vpn.nodes if node.is_device]
    event(f"{len(devices)} device(s), {sum(node.key_source == 'own' for node in devices)} with their own key")
    assert set(rendered.files) == {node.name for node in rendered.vpn.nodes}
    for node in rendered.vpn.nodes:
        config = rendered.conf(node.name)
        assert config.count("[Peer]") == (len(rendered.vpn.spokes) if node is rendered.vpn.hub else 1)
        if node.is_device:
            if node.key_source == "own":  # as the user does it, where the comment says
                config = re.sub(r"(?m)^(# Your own key: .*\n)", rf"\1PrivateKey = {generate_private_key()}\n", config)
            refused = apps.refusals(config, node.interface)
            assert not refused, f"{node.name}: refused by {refused}"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=stacks())
def test_every_config_of_a_drawn_stack_passes_wg_setconf(raw, wg_interface):
    lab_node, iface = wg_interface
    rendered = render(raw)
    with tempfile.TemporaryDirectory() as folder:
        for node in rendered.vpn.nodes:
            conf = Path(folder) / node.name / f"{node.interface}.conf"  # wg-quick wants a valid interface name
            conf.parent.mkdir()
            conf.write_text(NAMED_ENDPOINT.sub("Endpoint = 192.0.2.1:", rendered.conf(node.name)))
            stripped = subprocess.run(["wg-quick", "strip", str(conf)], check=True, capture_output=True, text=True).stdout
            setconf = lab_node.run(["wg", "setconf", iface, "/dev/stdin"], input=stripped, check=False)
            assert setconf.returncode == 0, f"{node.name}: {setconf.stderr}"
            shown = lab_node.run(["wg", "show", iface, "peers"]).stdout.split()
            assert len(shown) == rendered.conf(node.name).count("[Peer]")
