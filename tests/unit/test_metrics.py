"""`wgsites status --format prometheus` and the families the hosts write, read back by Prometheus's own parser.

prometheus_client.parser is the reference reader of the text exposition format: what it reads back, label for
label, is what a Prometheus server or node_exporter's textfile collector would take. (The hosts' own files, the
install script's `metrics` action and the aws hub's agent, are read the same way in
tests/lab/test_metrics_textfile.py.)
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.prometheus_text import parsed, value
from tests.stacks import ROOT, stack_file
from wgsites.operations.cli import main
from wgsites.operations.status_metrics import GatewayView, status_metrics
from wgsites.operations.status_row import StatusRow
from wgsites.rendering import metrics
from wgsites.rendering.metrics import escaped_label
from wgsites.rendering.render import render_install_script
from wgsites.stack.check import load_stack_file
from wgsites.stack.parse import ConfigError, parse_vpn

NOW = 1_800_000_000


@pytest.fixture
def hub_vpn():
    return load_stack_file(stack_file("travel"))  # an aws gateway and devices


@pytest.fixture
def site_vpn():
    return load_stack_file(stack_file("home"))  # a hub, a site and devices


def test_every_tunnel_state_becomes_metrics_the_parser_reads(site_vpn):
    hub = site_vpn.hub.name
    site, device = site_vpn.sites[0].name, site_vpn.peers[0].name
    rows = [
        StatusRow(hub, site, "ok", "-", "192.0.2.2:51820", 12, 1000, 2000),
        StatusRow(hub, device, "never", "-"),
        StatusRow(site, hub, "stale", "-", "192.0.2.1:51820", 400, 5, 6),
        StatusRow(hub, "-", "drift", "a peer by hand"),
    ]
    samples = parsed(status_metrics(site_vpn, "home", rows, now=NOW))
    ok = {"node": hub, "peer": site}
    assert value(samples, "wgsites_peer_up", **ok) == 1
    assert value(samples, "wgsites_peer_up", node=hub, peer=device) == 0
    assert value(samples, "wgsites_peer_up", node=site, peer=hub) == 0
    assert value(samples, "wgsites_peer_handshake_age_seconds", **ok) == 12
    assert value(samples, "wgsites_peer_last_handshake_timestamp_seconds", **ok) == NOW - 12
    assert value(samples, "wgsites_peer_last_handshake_timestamp_seconds", node=hub, peer=device) == 0
    # the parser names a counter's samples with their _total suffix, as exposed
    assert value(samples, "wgsites_peer_received_bytes_total", **ok) == 1000
    assert value(samples, "wgsites_peer_sent_bytes_total", **ok) == 2000
    assert value(samples, "wgsites_peers", node=hub) == 2 and value(samples, "wgsites_peers_up", node=hub) == 1
    assert value(samples, "wgsites_status_rows", node=hub, state="drift") == 1
    assert value(samples, "wgsites_peer_up", **ok, stack="home", interface=site_vpn.hub.interface, peer_kind="site") == 1
    assert value(samples, "wgsites_peer_up", node=site, peer=hub, peer_kind="hub") == 0
    assert value(samples, "wgsites_peer_up", node=hub, peer=device, peer_kind="device") == 0
    kinds = {f.name: f.type for f in text_string_to_metric_families(status_metrics(site_vpn, "home", rows, now=NOW))}
    assert kinds["wgsites_peer_received_bytes"] == "counter" and kinds["wgsites_peer_up"] == "gauge"


def test_an_aws_gateways_view_names_when_it_published_and_its_bundle_serial(hub_vpn):
    device = hub_vpn.peers[0].name
    rows = [StatusRow(hub_vpn.hub.name, device, "ok", "-", "198.51.100.7:4500", 30, 10, 20)]
    samples = parsed(status_metrics(hub_vpn, "travel", rows, GatewayView(NOW - 40, 7), now=NOW))
    hub = {"node": hub_vpn.hub.name}
    assert value(samples, "wgsites_gateway_status_published_timestamp_seconds", **hub) == NOW - 40
    assert value(samples, "wgsites_gateway_bundle_serial", **hub) == 7


HOSTILE = ['a"b', "c\\d", "e\nf", 'g\\"} 1\nwgsites_peer_up{node="x"} 5']


@pytest.mark.parametrize("stack", HOSTILE)
def test_hostile_label_values_are_escaped_and_read_back_as_they_were(site_vpn, stack):
    """A stack name is free text to this formatter: a quote, a backslash or a line feed in it must neither break
    the file nor forge a sample. (Without escaped_label, each of these fails: a parse error or a forged series.)"""
    hub, site = site_vpn.hub.name, site_vpn.sites[0].name
    text = status_metrics(site_vpn, stack, [StatusRow(hub, site, "ok", "-", None, 1, 2, 3)], now=NOW)
    samples = parsed(text)
    assert value(samples, "wgsites_peer_up", stack=stack, peer=site) == 1
    assert {n for n, _ in samples} == {
        "wgsites_peer_up",
        "wgsites_peer_last_handshake_timestamp_seconds",
        "wgsites_peer_handshake_age_seconds",
        "wgsites_peer_received_bytes_total",
        "wgsites_peer_sent_bytes_total",
        "wgsites_peers",
        "wgsites_peers_up",
        "wgsites_status_rows",
    }
    assert all(dict(labels).get("stack") == stack for _, labels in samples)


def test_escaped_label_follows_the_exposition_format():
    assert escaped_label('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_names_follow_prometheus_conventions():
    for family in {*metrics.HOST_FAMILIES, *metrics.STATUS_FAMILIES}:
        assert family.name.startswith("wgsites_")
        assert family.name.endswith("_total") == (family.type == "counter")
        # the script renders the help into an awk string inside single quotes
        assert not set(family.help) & set("'\"\\\n"), family.name


def test_metrics_hold_no_key(site_vpn):
    """Labels name nodes: no public key (nor any base64 of a key's length) in the output."""
    hub, site = site_vpn.hub.name, site_vpn.sites[0].name
    text = status_metrics(site_vpn, "home", [StatusRow(hub, site, "ok", "-", "192.0.2.2:51820", 1, 2, 3)], now=NOW)
    assert "=" not in text.replace('="', "")


def test_the_cli_prints_metrics_for_a_stack_no_host_answers(tmp_path, capsys, monkeypatch):
    """`status --format prometheus` end to end, every host unreadable (no SSH here: ssh is refused at once)."""
    monkeypatch.setattr("wgsites.operations.cli.ask_host", lambda *a: (_ for _ in ()).throw(OSError("no route")))
    code = main(["status", str(stack_file("router")), "--format", "prometheus"])
    samples = parsed(capsys.readouterr().out)
    assert code == 1
    assert value(samples, "wgsites_peer_up", node="router", peer="laptop") == 0
    assert value(samples, "wgsites_status_rows", node="router", state="unknown") == 1


def test_metrics_dir_is_checked_and_rendered_into_the_install_script():
    raw = yaml.safe_load((ROOT / "examples" / "Pulumi.sites.yaml").read_text())["config"]["wgsites:vpn"]
    with pytest.raises(ConfigError) as refused:
        parse_vpn({**raw, "metricsDir": "/var/lib/x y"})
    assert refused.value.messages == [
        "wgsites:vpn.metricsDir: '/var/lib/x y' is not an absolute folder; write it like /var/lib/prometheus/node-exporter"
    ]
    vpn = parse_vpn({**raw, "metricsDir": "/var/lib/prometheus/node-exporter/"})
    assert vpn.metrics_dir == "/var/lib/prometheus/node-exporter"
    script = render_install_script(vpn, vpn.hub.name, "sites")
    assert "METRICS_DIR='/var/lib/prometheus/node-exporter'" in script and "METRICS_TIMER=yes" in script
    assert "readonly METRICS_DIR=''\n" in render_install_script(dataclasses.replace(vpn, metrics_dir=None), vpn.hub.name, "sites")


def test_an_aws_hubs_script_leaves_the_metrics_to_its_agent(hub_vpn):
    vpn = dataclasses.replace(hub_vpn, metrics_dir="/var/lib/prometheus/node-exporter")
    assert "METRICS_TIMER=no" in render_install_script(vpn, vpn.hub.name, "travel")
