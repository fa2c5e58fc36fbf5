"""The example alert rules (docs/monitoring/wgsites-alerts.yml) as Prometheus reads them: `promtool check rules`,
and `promtool test rules` with their unit tests (each alert fires for what it is about, and only then). promtool
is Debian's `prometheus` package (apt-get install --no-install-recommends prometheus); the metric names the rules
use are checked against the families wgsites writes even without it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.stacks import ROOT
from wgsites.rendering import metrics

RULES = ROOT / "docs" / "monitoring" / "wgsites-alerts.yml"
RULE_TESTS = ROOT / "docs" / "monitoring" / "wgsites-alerts.test.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="no promtool: apt-get install --no-install-recommends prometheus")


@needs_promtool
def test_promtool_accepts_the_rules():
    done = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


@needs_promtool
def test_the_rules_fire_as_their_unit_tests_say():
    done = subprocess.run([PROMTOOL, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_use_only_metrics_wgsites_writes():
    families = {f.name for f in {*metrics.HOST_FAMILIES, *metrics.STATUS_FAMILIES}}
    groups = yaml.safe_load(RULES.read_text())["groups"]
    used = {name for group in groups for rule in group["rules"] for name in re.findall(r"\b(wgsites_[a-z_]+)", rule["expr"])}
    assert used and used <= families, used - families
    assert all({"alert", "expr", "labels", "annotations"} <= rule.keys() for group in groups for rule in group["rules"])
