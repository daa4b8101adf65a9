"""Dashboards and alerts as code (deploy/monitoring): the rules pass ``promtool check rules``, the main alerts fire on
sample series (``promtool test rules``), every alert has its runbook section, and every metric a dashboard or rule
queries is one Linli exports. promtool is Debian's ``prometheus`` package, which CI installs (.ci/run)."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "deploy" / "monitoring"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool (Debian's prometheus package) is not installed; CI installs it (.ci/run)"
)
# Every module that defines Linli metrics: importing them registers their families.
METRIC_MODULES = ("service_kit.metrics", "gateway.metrics", "booking.metrics", "feedback.complaints.metrics")
METRIC_NAME = re.compile(r"\b(linli_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=MONITORING, capture_output=True, text=True, timeout=120, check=False)


@needs_promtool
def test_the_alert_rules_are_valid() -> None:
    done = promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout


@needs_promtool
def test_the_main_alerts_fire_on_sample_series() -> None:
    done = promtool("test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", (MONITORING / "alerts_test.yml").read_text()))
    assert tested == set(alert_names())  # each alert is proven to fire


@needs_promtool
def test_promtool_fails_a_rule_test_whose_alert_does_not_fire(tmp_path: Path) -> None:
    """The rule test can fail: the same rules, told to expect an alert from healthy series, do not pass."""
    (tmp_path / "alerts.yml").write_text((MONITORING / "alerts.yml").read_text())
    (tmp_path / "quiet_test.yml").write_text(
        yaml.safe_dump(
            {
                "rule_files": ["alerts.yml"],
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": [
                            {"series": 'linli_outbox_oldest_unsent_age_seconds{service="booking"}', "values": "0x10"}
                        ],
                        "alert_rule_test": [
                            {
                                "eval_time": "10m",
                                "alertname": "LinliOutboxStuck",
                                "exp_alerts": [{"exp_labels": {"severity": "page", "service": "booking"}}],
                            }
                        ],
                    }
                ],
            }
        )
    )
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "quiet_test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0


def alert_names() -> list[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return [rule["alert"] for group in rules["groups"] for rule in group["rules"]]


def test_every_alert_has_a_runbook_section() -> None:
    runbook = (MONITORING / "runbook.md").read_text()
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert f"## {rule['alert']}\n" in runbook
            assert rule["annotations"]["runbook"] == f"deploy/monitoring/runbook.md#{rule['alert'].lower()}"
            assert rule["annotations"]["summary"]


def exported_families() -> set[str]:
    for module in METRIC_MODULES:
        importlib.import_module(module)
    return {metric.name for metric in REGISTRY.collect()}


def base_name(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_dashboards_and_rules_query_only_metrics_linli_exports() -> None:
    exported = exported_families()
    queried: dict[str, set[str]] = {}
    for path in [MONITORING / "alerts.yml", *sorted((MONITORING / "dashboards").glob("*.json"))]:
        for name in METRIC_NAME.findall(path.read_text()):
            queried.setdefault(path.name, set()).add(name)
    unknown = {
        file: sorted(name for name in names if name not in exported and base_name(name) not in exported)
        for file, names in queried.items()
    }
    assert {file: names for file, names in unknown.items() if names} == {}
    # One dashboard per concern: the edge, each service, the event backbone, the domain.
    assert set(queried) >= {
        "edge.json",
        "events.json",
        "domain.json",
        *(f"service-{name}.json" for name in ("registry", "booking", "procurement", "feedback")),
    }


def test_the_dashboards_are_what_their_code_writes() -> None:
    sys.path.insert(0, str(MONITORING))
    try:
        dashboards = importlib.import_module("dashboards")
    finally:
        sys.path.remove(str(MONITORING))
    written = {path.name: path.read_text() for path in (MONITORING / "dashboards").glob("*.json")}
    expected = {name: dashboards.render(board) for name, board in dashboards.all_dashboards().items()}
    assert written == expected, "run `python deploy/monitoring/dashboards.py` after changing it"
    for text in written.values():
        board = json.loads(text)
        assert board["panels"]
        assert all(panel["targets"] for panel in board["panels"])


@needs_promtool
def test_make_runs_prometheus_configuration_is_valid(tmp_path: Path) -> None:
    """What ``make run ARGS=--prometheus`` writes: a job per process, Linli's rules, and promtool accepts it."""
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        devstack = importlib.import_module("devstack")
    finally:
        sys.path.remove(str(ROOT / "deploy"))
    urls = {"gateway": "http://127.0.0.1:9100/metrics"}
    urls |= {service.name: f"http://127.0.0.1:{service.default_port}/metrics" for service in devstack.SERVICES}
    config = devstack.prometheus_config(urls)
    path = tmp_path / "prometheus.yml"
    path.write_text(json.dumps(config))
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, "check", "config", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"linli-gateway", "linli-booking"}


def test_the_cluster_scrape_config_reads_the_annotations_the_manifests_set() -> None:
    config = yaml.safe_load((MONITORING / "prometheus-k8s.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = config["scrape_configs"]
    read = {label for rule in job["relabel_configs"] for label in rule.get("source_labels", [])}
    annotations: set[str] = set()
    for deployment in (ROOT / "deploy" / "k8s" / "base").glob("*/deployment.yaml"):
        template = yaml.safe_load(deployment.read_text())["spec"]["template"]["metadata"]
        annotations |= set(template["annotations"])
        assert template["annotations"]["prometheus.io/scrape"] == "true"
    as_meta = {"__meta_kubernetes_pod_annotation_" + a.replace(".", "_").replace("/", "_") for a in annotations}
    assert as_meta <= read, as_meta - read
    # The job is named as the rules and dashboards expect: linli-<component>.
    (naming,) = [rule for rule in job["relabel_configs"] if rule.get("target_label") == "job"]
    assert naming["replacement"] == "linli-$1"
