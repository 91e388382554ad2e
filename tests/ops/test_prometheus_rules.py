"""The bundled Prometheus assets: promtool's checks and unit tests, and what they promise.

promtool checks the rules and the example configuration and runs the rule unit
tests in ``prometheus/tests/``. The tests here read the same YAML to hold the
rules to their contract: the recording rules the dashboard reads, the labels
and annotations every alert carries, a runbook section behind every
``runbook_url``, and a firing and a quiet unit test case for every alert.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown.extensions.toc import slugify

from metrics.ops_assets import Config

from ..conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
TOKEN_FILE = "/etc/prometheus/vidai-metrics-token"

# The dashboard and the alerts read these names: they are API.
RECORDING_RULES = {
    "vidai:websocket_connections:sum",
    "vidai:websocket_connections_opened:rate5m",
    "vidai:websocket_connections_closed:rate5m",
    "vidai:websocket_connections_rejected:rate5m",
    "vidai:websocket_oldest_connection_age_seconds",
    "vidai:websocket_short_lived:ratio_rate5m",
    "vidai:websocket_handshake_duration_seconds:p99_rate5m",
    *(
        f"vidai:websocket_{slo}_errors:ratio_rate{window}"
        for slo in ("handshake", "close")
        for window in ("5m", "30m", "1h", "6h")
    ),
    *(
        f"vidai:websocket_{volume}:rate{window}"
        for volume in ("handshakes", "closes")
        for window in ("5m", "30m", "1h", "6h")
    ),
}
SEVERITIES = {"critical", "warning", "info"}
ANNOTATIONS = {"summary", "description", "runbook_url", "dashboard"}
CONFIG_DEFAULTS = Config()
DASHBOARD = (
    f"{CONFIG_DEFAULTS.grafana_url}/d/vidai-websockets/vidai-websockets"
    "?var-job={{ $labels.job }}"
)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [
        rule for path in RULE_FILES for group in load(path)["groups"] for rule in group["rules"]
    ]


ALERTS = {rule["alert"]: rule for rule in rules() if "alert" in rule}
# An alert name may have several rules: a burn-rate page and ticket, say.
ALERT_RULES: dict[str, list[dict[str, Any]]] = {}
for _rule in rules():
    if "alert" in _rule:
        ALERT_RULES.setdefault(_rule["alert"], []).append(_rule)


def github_anchor(heading: str) -> str:
    """Return the anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def mkdocs_anchor(heading: str) -> str:
    """Return the anchor the docs site (MkDocs' toc extension) gives a heading."""
    return slugify(heading, "-")


def runbook_anchors(anchor: Callable[[str], str] = github_anchor) -> set[str]:
    anchors, fenced = set(), False
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            anchors.add(anchor(match.group(1)))
    return anchors


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_succeeded(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n{result.stdout}{result.stderr}"
    )


def test_the_assets_exist() -> None:
    assert CONFIG.is_file()
    assert RULE_FILES, "no prometheus/rules/*.yml"
    assert RULE_TESTS, "no prometheus/tests/*.yml"
    assert ALERTS, "no alerting rule found"


def test_the_recording_rules_are_the_dashboards_contract() -> None:
    recorded = [rule for rule in rules() if "record" in rule]
    assert {rule["record"] for rule in recorded} == RECORDING_RULES
    for rule in recorded:  # every raw series is read from the configured job only
        raw = re.findall(r"\bvidai_websocket_\w+(\{[^}]*\})?", rule["expr"])
        assert raw, rule["record"]
        assert all('job="vidai"' in matchers for matchers in raw), rule["record"]


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_alert_has_a_severity_and_the_annotations(name: str) -> None:
    for alert in ALERT_RULES[name]:
        assert name.startswith("VidaiWebSocket")
        assert alert.get("labels", {}).get("severity") in SEVERITIES
        annotations = alert.get("annotations", {})
        assert not ANNOTATIONS - set(annotations), f"missing {ANNOTATIONS - set(annotations)}"
        assert "$labels." in annotations["description"]


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_runbook_url_is_absolute_and_has_its_section(name: str) -> None:
    url = ALERTS[name]["annotations"]["runbook_url"]
    assert url == f"{CONFIG_DEFAULTS.runbook_url}#{name.lower()}"
    page, _, anchor = url.partition("#")
    # The page is docs/runbook.md, whose heading has that anchor on GitHub and
    # in the docs site (built strictly by make docs).
    assert page.endswith("/" + RUNBOOK.relative_to(ROOT).as_posix())
    assert anchor in runbook_anchors()
    assert anchor in runbook_anchors(mkdocs_anchor)


def firing_labels() -> dict[str, list[dict[str, str]]]:
    """The labels of every alert the unit tests expect to fire, by alert name."""
    found: dict[str, list[dict[str, str]]] = {}
    for path in RULE_TESTS:
        for test in load(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                for alert in case.get("exp_alerts") or []:
                    found.setdefault(case["alertname"], []).append(alert["exp_labels"])
    return found


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_dashboard_link_selects_the_alerts_job_and_its_instance_if_any(name: str) -> None:
    per_instance = {"instance" in labels for labels in firing_labels()[name]}
    assert len(per_instance) == 1, f"{name} fires both per instance and fleet-wide"
    for alert in ALERT_RULES[name]:
        link = alert["annotations"]["dashboard"]
        suffix = "&var-instance={{ $labels.instance }}" if per_instance == {True} else ""
        assert link == DASHBOARD + suffix


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_only_fleet_wide_alerts_page(name: str) -> None:
    """One replica of several in trouble is a ticket: a page needs the whole job."""
    for alert in ALERT_RULES[name]:
        if alert["labels"]["severity"] == "critical":
            assert all("instance" not in labels for labels in firing_labels()[name])


def test_every_alert_has_a_firing_and_a_quiet_unit_test_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for test in load(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert set(ALERTS) - firing == set(), "alerts without a case where they fire"
    assert set(ALERTS) - quiet == set(), "alerts without a case where they stay quiet"
    assert (firing | quiet) - set(ALERTS) == set(), "cases for alerts that do not exist"


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda path: path.name)
def test_every_rule_test_file_pins_its_evaluation(path: Path) -> None:
    tests = load(path)
    # promtool 2.42 (Debian bookworm) would silently default it to 1m.
    assert "evaluation_interval" in tests
    # Without an order promtool evaluates the groups in a random one, and an alert
    # reading a recording rule sees the previous step now and then: a flaky test.
    groups = [group["name"] for rule_file in RULE_FILES for group in load(rule_file)["groups"]]
    assert tests.get("group_eval_order") == groups


@pytest.mark.system_tool
def test_promtool_accepts_the_rules() -> None:
    assert_succeeded(
        promtool("check", "rules", "--lint=all", "--lint-fatal", *map(str, RULE_FILES))
    )


@pytest.mark.system_tool
def test_the_rule_unit_tests_pass() -> None:
    assert_succeeded(promtool("test", "rules", *map(str, RULE_TESTS)))


@pytest.mark.system_tool
def test_promtool_accepts_the_example_configs_syntax() -> None:
    assert_succeeded(promtool("check", "config", "--syntax-only", str(CONFIG)))


@pytest.mark.system_tool
def test_promtool_accepts_the_example_config_with_its_token_file(tmp_path: Path) -> None:
    """The full check, rule files included, needs the token file: point it at a temporary one."""
    text = CONFIG.read_text(encoding="utf-8")
    assert text.count(TOKEN_FILE) == 1
    token = tmp_path / "vidai-metrics-token"
    token.write_text("not-a-real-token\n", encoding="utf-8")
    (tmp_path / "prometheus.yml").write_text(text.replace(TOKEN_FILE, str(token)), "utf-8")
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert_succeeded(result)
    assert "SUCCESS: 1 rule files found" in result.stdout


def first_firing_case() -> tuple[dict[str, Any], Path]:
    """Return the first unit test group with a firing case, and its file."""
    for path in RULE_TESTS:
        for test in load(path)["tests"]:
            if any(case.get("exp_alerts") for case in test.get("alert_rule_test", [])):
                return test, path
    raise AssertionError("no firing case in prometheus/tests")


def expect_another_severity(case: dict[str, Any]) -> None:
    for alert in case["exp_alerts"]:
        alert["exp_labels"]["severity"] = "page-everyone"


def expect_no_alert(case: dict[str, Any]) -> None:
    case["exp_alerts"] = []


def run_alone(test: dict[str, Any], path: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """Run one unit test group of ``path`` on its own, from a file written to ``out``."""
    alone = {**load(path), "rule_files": [str(rule_file) for rule_file in RULE_FILES]}
    alone["tests"] = [test]
    out.write_text(yaml.safe_dump(alone, sort_keys=False), encoding="utf-8")
    return promtool("test", "rules", str(out))


@pytest.mark.system_tool
@pytest.mark.parametrize(
    "mutate", [expect_another_severity, expect_no_alert], ids=lambda mutate: mutate.__name__
)
def test_the_rule_unit_tests_can_fail(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None]
) -> None:
    """A real firing case passes on its own, and fails once its expectation is broken."""
    test, path = first_firing_case()
    assert_succeeded(run_alone(test, path, tmp_path / "intact_test.yml"))
    case = next(case for case in test["alert_rule_test"] if case.get("exp_alerts"))
    mutate(case)
    result = run_alone(test, path, tmp_path / "broken_test.yml")
    assert result.returncode != 0, result.stdout + result.stderr
    assert case["alertname"] in result.stdout + result.stderr


def test_the_runbook_has_a_section_for_each_alert_and_no_other() -> None:
    sections = {anchor for anchor in runbook_anchors() if anchor.startswith("vidaiwebsocket")}
    assert sections == {name.lower() for name in ALERTS}
