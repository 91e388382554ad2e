"""The ops assets renderer: the bundled files are its output, and any job gets its own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from metrics.ops_assets import PATHS, PROMETHEUS_RULE_PATH, RULES_PATH, Config, render
from metrics.ops_assets.__main__ import main

from ..conftest import require_tool
from ..servers import ROOT, run_command

REGENERATE = "run `make ops-assets` (python -m metrics.ops_assets) and commit the result"


@pytest.mark.parametrize("path", PATHS)
def test_the_bundled_files_are_a_fresh_render(path: str) -> None:
    bundled = (ROOT / path).read_bytes().decode("utf-8")
    assert bundled == render(Config())[path], f"{path} is stale: {REGENERATE}"


def test_check_mode_tells_a_stale_file(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    rules = tmp_path / RULES_PATH
    rules.write_text(rules.read_text().replace("> 0.5", "> 0.9"))
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert RULES_PATH in capsys.readouterr().err


def rendered_for(tmp_path: Path, *args: str) -> dict[str, str]:
    """Run the renderer as a pip user would, in a fresh interpreter; return its files."""
    run_command(sys.executable, "-m", "metrics.ops_assets", "--out", tmp_path, *args)
    return {path: (tmp_path / path).read_text(encoding="utf-8") for path in PATHS}


def test_another_job_gets_its_own_selectors_and_absolute_links(tmp_path: Path) -> None:
    files = rendered_for(
        tmp_path,
        "--job", "chat",
        "--runbook-url", "https://git.test/chat/runbook.md",
        "--grafana-url", "https://grafana.test/",
    )  # fmt: skip
    rules = files[RULES_PATH]
    assert 'job="vidai"' not in rules
    assert rules.count('job="chat"') >= 30
    groups = yaml.safe_load(rules)["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    for alert in alerts:
        notes = alert["annotations"]
        assert notes["runbook_url"] == f"https://git.test/chat/runbook.md#{alert['alert'].lower()}"
        assert notes["dashboard"].startswith(
            "https://grafana.test/d/vidai-websockets/vidai-websockets?var-job="
        )
    board = json.loads(files["grafana/dashboards/vidai-websockets.json"])
    job = next(v for v in board["templating"]["list"] if v["name"] == "job")
    assert job["current"]["value"] == "chat"


def test_labels_objectives_and_severities_are_options(tmp_path: Path) -> None:
    files = rendered_for(
        tmp_path,
        "--instance-labels", "region,job,instance",
        "--fleet-labels", "region,job",
        "--handshake-objective", "0.99",
        "--page-severity", "page",
    )  # fmt: skip
    groups = yaml.safe_load(files[RULES_PATH])["groups"]
    by_name = {rule.get("record") or rule.get("alert"): rule for g in groups for rule in g["rules"]}
    assert (
        "sum by (region, job, instance, type)" in by_name["vidai:websocket_connections:sum"]["expr"]
    )
    assert "sum by (region, job)" in by_name["vidai:websocket_close_errors:ratio_rate1h"]["expr"]
    burns = [
        rule
        for group in groups
        for rule in group["rules"]
        if rule.get("alert") == "VidaiWebSocketHandshakeErrorBudgetBurn"
    ]
    # 14.4 and 6 times a 1% budget.
    assert [rule["expr"].split("> ")[1].split()[0] for rule in burns] == ["0.144", "0.06"]
    assert [rule["labels"]["severity"] for rule in burns] == ["page", "warning"]


def test_thresholds_and_durations_are_options(tmp_path: Path) -> None:
    files = rendered_for(
        tmp_path, "--set", "dropped_min_rate=0.5", "--set", "fleet_down_ratio=0.25",
        "--for", "target_down=15m",
    )  # fmt: skip
    groups = yaml.safe_load(files[RULES_PATH])["groups"]
    alerts = {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}
    assert "> 0.5" in alerts["VidaiWebSocketConnectionsDropped"]["expr"]
    assert alerts["VidaiWebSocketFleetDown"]["expr"].endswith("> 0.25")
    assert alerts["VidaiWebSocketTargetDown"]["for"] == "15m"


@pytest.mark.parametrize(
    "option", [["--set", "job=x"], ["--set", "capacity_ratio=most"], ["--for", "nope=5m"]]
)
def test_an_unknown_or_malformed_option_is_a_usage_error(option, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["--out", str(tmp_path), *option])
    assert usage.value.code == 2


def test_the_prometheus_rule_holds_the_same_groups() -> None:
    files = render(Config())
    resource = yaml.safe_load(files[PROMETHEUS_RULE_PATH])
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["metadata"]["name"] == "vidai-websockets"
    assert resource["spec"]["groups"] == yaml.safe_load(files[RULES_PATH])["groups"]


@pytest.mark.system_tool
def test_promtool_accepts_a_render_for_another_job(tmp_path: Path) -> None:
    files = rendered_for(tmp_path, "--job", "chat", "--instance-labels", "job,instance,pod")
    assert files
    done = subprocess.run(
        [require_tool("promtool"), "check", "rules", "--lint=all", "--lint-fatal",
         str(tmp_path / RULES_PATH)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_make_ops_assets_passes_its_variables(tmp_path: Path) -> None:
    done = run_command(
        "make", "-n", "ops-assets", "JOB=chat", f"OUT_DIR={tmp_path}",
        "RUNBOOK_URL=https://r.test/runbook.md", "GRAFANA_URL=https://g.test",
    )  # fmt: skip
    command = " ".join(done.stdout.split()).replace(" \\", "")
    assert (
        f"-m metrics.ops_assets --job 'chat' --out '{tmp_path}' "
        "--runbook-url 'https://r.test/runbook.md' --grafana-url 'https://g.test'"
    ) in command


@pytest.mark.parametrize("module", ["yaml", "grafana_foundation_sdk"])
def test_without_the_ops_extra_the_error_names_it(module: str) -> None:
    hide = f"import sys; sys.modules[{module!r}] = None; import metrics.ops_assets"
    done = run_command(sys.executable, "-c", hide, ok=False)
    assert done.returncode == 1
    assert "pip install 'vidai-socket-status[ops]'" in done.stderr


RECORD_REFERENCE = re.compile(r"vidai:[a-z0-9_:]+(?P<matchers>\{[^}]*\})?")


def test_every_expression_reading_a_record_selects_the_job() -> None:
    """Records keep the job label: two renders in one Prometheus never read each other's."""
    groups = yaml.safe_load(render(Config(job="chat"))[RULES_PATH])["groups"]
    references = [
        (rule.get("alert") or rule["record"], found.group(0))
        for group in groups
        for rule in group["rules"]
        for found in RECORD_REFERENCE.finditer(rule["expr"])
    ]
    assert len(references) >= 30
    unscoped = [ref for ref in references if 'job="chat"' not in ref[1]]
    assert unscoped == []


@pytest.mark.parametrize("option", ["--instance-labels", "--fleet-labels"])
def test_labels_without_job_are_a_usage_error(option: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["--out", str(tmp_path), option, "cluster,instance"])
    assert usage.value.code == 2
    assert "must include 'job'" in capsys.readouterr().err


@pytest.mark.system_tool
def test_two_renders_in_one_prometheus_alert_once_each(tmp_path: Path) -> None:
    """Another job's rules loaded beside these neither read nor duplicate their records."""
    for job in ("chat", "vidai"):
        (tmp_path / f"{job}.yml").write_text(render(Config(job=job))[RULES_PATH])
    groups = yaml.safe_load(render(Config(job="chat"))[RULES_PATH])["groups"]
    rule = next(
        rule
        for group in groups
        for rule in group["rules"]
        if rule.get("alert") == "VidaiWebSocketUnroutedHandshakes"
    )
    instance = "chat-1:8000"

    def filled(text: str) -> str:
        return text.replace("{{ $labels.instance }}", instance).replace("{{ $labels.job }}", "chat")

    labels = {"job": "chat", "instance": instance, "type": "unknown", "reason": "no_route"}
    series = ", ".join(f'{name}="{value}"' for name, value in labels.items())
    case = {
        "rule_files": ["chat.yml", "vidai.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f"vidai_websocket_connections_rejected_total{{{series}}}",
                        "values": "0+60x30",  # one a second, past the 0.1/s threshold
                    }
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "25m",
                        "alertname": "VidaiWebSocketUnroutedHandshakes",
                        "exp_alerts": [
                            {
                                "exp_labels": {**labels, **rule["labels"]},
                                "exp_annotations": {
                                    key: filled(value) for key, value in rule["annotations"].items()
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(case))
    done = subprocess.run(
        [require_tool("promtool"), "test", "rules", "test.yml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
