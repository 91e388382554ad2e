"""The deploy/ examples agree with each other and with the code they configure."""

from __future__ import annotations

import importlib
import ipaddress
import re
import runpy

import pytest
import yaml
from django.conf import settings
from django.test import Client, override_settings

from vidai.asgi import STATUS_PATH

from ..servers import ROOT

DEPLOY = ROOT / "deploy"


def documents(name: str) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all((DEPLOY / name).read_text())}


def vidai_container() -> dict:
    pod = documents("kubernetes/vidai.yaml")["Deployment"]["spec"]["template"]
    return pod["spec"]["containers"][0]


def secret_env(container: dict) -> dict[str, tuple[str, str]]:
    """Each variable read from a Secret: its (secret, key)."""
    return {
        item["name"]: (ref["name"], ref["key"])
        for item in container["env"]
        if (ref := item.get("valueFrom", {}).get("secretKeyRef"))
    }


DEPLOYMENTS = {
    name: documents(f"kubernetes/{name}.yaml")["Deployment"]["spec"]["template"]["spec"]
    for name in ("vidai", "redis")
}


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


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_pods_run_locked_down_from_a_pinned_image(name) -> None:
    pod = DEPLOYMENTS[name]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        # A version with a dot, or a digest: never :latest, never a bare major.
        assert re.search(r"(:\w*\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$", container["image"])
        # Whatever must be written goes to a volume.
        assert all(mount["name"] in {v["name"] for v in pod["volumes"]}
                   for mount in container.get("volumeMounts", []))  # fmt: skip


def test_behind_the_ingress_proxy_headers_are_trusted_from_its_network_only() -> None:
    env = {item["name"]: item.get("value") for item in vidai_container()["env"]}
    networks = [ipaddress.ip_network(cidr) for cidr in env["VIDAI_TRUSTED_PROXIES"].split(",")]
    assert networks
    assert all(network.is_private and network.prefixlen > 0 for network in networks)
    mounts = {mount["mountPath"] for mount in vidai_container()["volumeMounts"]}
    # gunicorn's heartbeat files, with a read-only root.
    assert "/tmp" in mounts  # noqa: S108  (a path in the pod, not here)


def test_redis_needs_the_password_from_the_secret_and_only_vidai_may_reach_it() -> None:
    redis = documents("kubernetes/redis.yaml")
    container = redis["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    password = secret_env(vidai_container())["REDIS_PASSWORD"]
    assert secret_env(container) == {"REDIS_PASSWORD": password, "REDISCLI_AUTH": password}
    command = " ".join(container["command"])
    assert "requirepass %s" in command
    assert '"$REDIS_PASSWORD"' in command
    assert "--requirepass" not in command  # not on the command line, where ps shows it

    policy = redis["NetworkPolicy"]["spec"]
    assert policy["podSelector"] == redis["Deployment"]["spec"]["selector"]
    (rule,) = policy["ingress"]
    pod_labels = documents("kubernetes/vidai.yaml")["Deployment"]["spec"]["template"]["metadata"]
    assert [peer["podSelector"]["matchLabels"] for peer in rule["from"]] == [pod_labels["labels"]]
    assert [port["port"] for port in rule["ports"]] == [container["ports"][0]["containerPort"]]


@override_settings(
    SECURE_SSL_REDIRECT=True,
    VIDAI_METRICS={**settings.VIDAI_METRICS, "STATUS_RATE_LIMIT": "2/3600"},
)
def test_the_readiness_probe_is_not_rate_limited_nor_redirected(db) -> None:
    probe = vidai_container()["readinessProbe"]["httpGet"]
    client = Client()
    assert [client.get(probe["path"]).status_code for _ in range(5)] == [200] * 5
    # The status JSON, the old probe, would have failed it (over https, no redirect).
    codes = [client.get(STATUS_PATH, secure=True).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    # Prometheus scrapes the pods over plain http too.
    assert client.get("/metrics").status_code != 301
    assert client.get(STATUS_PATH).status_code == 301
