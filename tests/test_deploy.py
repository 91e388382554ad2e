"""The deploy/ examples agree with each other and with the code they configure."""

from __future__ import annotations

import importlib
import runpy

import yaml

from .servers import ROOT

DEPLOY = ROOT / "deploy"


def documents(name: str) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all((DEPLOY / name).read_text())}


def test_pods_keep_worker_files_on_an_emptydir_and_are_scraped_one_by_one() -> None:
    vidai = documents("kubernetes/vidai.yaml")
    pod = vidai["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]
    assert container["command"][:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert env["GUNICORN_BIND"].endswith(f":{port}")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert env["VIDAI_METRICS_LISTEN"] == f"0.0.0.0:{ports['metrics']}"
    assert vidai["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    assert env["REDIS_URL"].startswith("redis://vidai-redis:")
    assert "$(POD_IP)" in env["DJANGO_ALLOWED_HOSTS"]  # scrapes use the pod's address

    # The fleet query's job is the job Prometheus gives the pods, both ways of scraping.
    job = env["VIDAI_PROMETHEUS_JOB"]
    monitor = documents("kubernetes/podmonitor.yaml")["PodMonitor"]["spec"]
    assert pod["metadata"]["labels"][monitor["jobLabel"]] == job
    assert monitor["podMetricsEndpoints"][0]["port"] == "metrics"  # the dedicated listener
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "scrape-pods.yml").read_text())
    assert [config["job_name"] for config in scrape["scrape_configs"]] == [job]
    port_rule = scrape["scrape_configs"][0]["relabel_configs"][1]
    assert port_rule["source_labels"] == ["__meta_kubernetes_pod_container_port_name"]
    assert port_rule["regex"] == "metrics"
    redis = documents("kubernetes/redis.yaml")
    assert redis["Service"]["metadata"]["name"] == "vidai-redis"


def test_gunicorn_config_runs_uvicorn_workers_with_the_multiprocess_hooks(monkeypatch, tmp_path):
    directory = tmp_path / "multiproc"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert directory.is_dir()  # made before any app import (--preload)
    module, _, name = config["worker_class"].rpartition(".")
    worker = getattr(importlib.import_module(module), name)
    assert issubclass(worker, importlib.import_module("uvicorn_worker").UvicornWorker)
    # make run's options: h11's bounded heads, proxy headers only from trusted proxies.
    assert worker.CONFIG_KWARGS["http"] == "h11"
    assert worker.CONFIG_KWARGS["h11_max_incomplete_event_size"] == 16 * 1024
    hooks = ("on_starting", "post_worker_init", "worker_exit", "child_exit")
    hooks += ("when_ready", "on_exit")  # the dedicated listener process
    for hook in hooks:
        assert config[hook] is getattr(importlib.import_module("metrics.gunicorn"), hook)
