"""deploy/prometheus/ and deploy/grafana/: valid rules, one set of them, only metrics /metrics serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings

from registry.models import NaemonNode
from tests.services.required import require_service

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/portal-rules.yml"
PROMETHEUS_RULE = ROOT / "deploy/prometheus/prometheusrule.yaml"
DASHBOARD = ROOT / "deploy/grafana/monitoring-portal.json"
# Metrics the rules or the dashboard may name before /metrics serves them (none now); once one
# is served, test_awaited_metrics_are_not_served_yet fails: remove it from here then.
AWAITED: set[str] = set()
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def rule_groups() -> list[dict[str, Any]]:
    return list(yaml.safe_load(RULES.read_text())["groups"])


def operator_groups() -> list[dict[str, Any]]:
    document = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert document["apiVersion"] == "monitoring.coreos.com/v1" and document["kind"] == "PrometheusRule"
    return list(document["spec"]["groups"])


def test_the_prometheus_rule_carries_exactly_the_plain_rules() -> None:
    assert operator_groups() == rule_groups()
    kustomization = yaml.safe_load((RULES.parent / "kustomization.yaml").read_text())
    assert kustomization["resources"] == [PROMETHEUS_RULE.name]


def test_the_alerts_the_issue_asks_for_are_there() -> None:
    alerts = {rule["alert"]: rule for group in rule_groups() for rule in group["rules"]}
    for name in ("PortalNodeDown", "PortalNotifySnapshotStale", "PortalDeploysFailing", "PortalConfigDrift",
                 "PortalQueueBacklog"):  # fmt: skip
        assert name in alerts
        assert alerts[name]["labels"]["severity"] in ("critical", "warning")
        assert alerts[name]["annotations"]["summary"]


@pytest.mark.parametrize("source", ["plain", "operator"])
def test_promtool_accepts_the_rules(source: str, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    require_service("promtool", promtool is not None, "promtool is missing (Debian package prometheus)")
    assert promtool is not None
    path = RULES
    if source == "operator":
        path = tmp_path / "operator-rules.yml"
        path.write_text(yaml.safe_dump({"groups": operator_groups()}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def used_metrics() -> dict[str, set[str]]:
    """The portal_* names each file's expressions use."""
    names = re.compile(r"\bportal_[a-z0-9_]+")
    rules = {rule["expr"] for group in rule_groups() for rule in group["rules"]}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = {target["expr"] for panel in panels for target in panel["targets"]}
    return {
        "rules": {n for e in rules for n in names.findall(e)},
        "dashboard": {n for e in exprs for n in names.findall(e)},
    }


@pytest.fixture
def served(db: None, settings: Settings) -> set[str]:
    """Every sample name /metrics can serve (a family's own suffixes included), with one node."""
    NaemonNode.objects.create(name="n1")
    settings.METRICS_PUBLIC = True
    text = Client().get("/metrics").content.decode()
    result = set()
    for family in text_string_to_metric_families(text):
        result.add(family.name)
        result.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
    return result


def test_rules_and_dashboard_use_only_served_metrics(served: set[str]) -> None:
    for where, names in used_metrics().items():
        assert names, where
        assert names - AWAITED <= served, (where, sorted(names - AWAITED - served))
    # And the other way round: every metric of the portal's own has a panel.
    family = re.compile(r"_(total|bucket|sum|count|created)$")
    ours = {family.sub("", name) for name in served if name.startswith("portal_")}
    assert ours <= {family.sub("", name) for name in used_metrics()["dashboard"]}


def test_awaited_metrics_are_not_served_yet(served: set[str]) -> None:
    assert not AWAITED & served, "served now: remove from AWAITED in this test module"
