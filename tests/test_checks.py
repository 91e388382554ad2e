import logging
import os
import sys

import pytest
from django.conf import settings
from django.core.checks import Warning, run_checks
from django.test import override_settings
from django.urls import path

from metrics.conf import get_settings

from .servers import ROOT, run_command


def security_messages():
    return [m for m in run_checks(include_deployment_checks=True) if m.id.startswith("vidai_")]


OPEN_NETWORKS = {
    "everything": (["0.0.0.0/0"], "0.0.0.0/0"),
    "everything in halves": (["0.0.0.0/1", "128.0.0.0/1"], "0.0.0.0/1, 128.0.0.0/1"),
    "one public host": (["10.0.0.0/8", "203.0.113.7/32"], "203.0.113.7/32"),
    "public IPv6": (["::/0"], "::/0"),
    "a private range widened": (["10.0.0.0/7"], "10.0.0.0/7"),
}


@pytest.mark.parametrize(("networks", "named"), OPEN_NETWORKS.values(), ids=OPEN_NETWORKS)
def test_metrics_open_to_public_addresses_without_token_warns(networks, named) -> None:
    with override_settings(DEBUG=False, VIDAI_METRICS={"ALLOWED_NETWORKS": networks}):
        assert security_messages() == [
            Warning(
                f"/metrics is readable from public addresses ({named}) "
                "without a token while DEBUG is False.",
                hint="Set VIDAI_METRICS['TOKEN'] (VIDAI_METRICS_TOKEN) or narrow ALLOWED_NETWORKS.",
                id="vidai_metrics.W001",
            )
        ]


@override_settings(
    DEBUG=False,
    VIDAI_METRICS={
        "ALLOWED_NETWORKS": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    },
)
def test_private_networks_without_a_token_are_quiet() -> None:
    assert security_messages() == []


@override_settings(DEBUG=False, VIDAI_METRICS={"ALLOWED_NETWORKS": ["0.0.0.0/0"], "TOKEN": "t"})
def test_a_token_silences_the_warning() -> None:
    assert security_messages() == []


@override_settings(DEBUG=False, VIDAI_METRICS={})
def test_the_loopback_default_is_quiet() -> None:
    assert security_messages() == []


def untracked_app(scope, receive, send):
    raise AssertionError("never called by a check")


untracked_routes = [
    path("ws/plain/", untracked_app),
]


@override_settings(VIDAI_METRICS={"WEBSOCKET_ROUTES": "tests.test_checks.untracked_routes"})
def test_an_untracked_route_warns() -> None:
    messages = [m for m in run_checks() if m.id.startswith("vidai_")]
    assert [(m.id, m.obj) for m in messages] == [("vidai_metrics.W002", "/ws/plain/")]


@override_settings(VIDAI_METRICS={"WEBSOCKET_ROUTES": "tests.routing.websocket_urlpatterns"})
def test_the_projects_routes_are_all_tracked() -> None:
    assert [m for m in run_checks() if m.id.startswith("vidai_")] == []


@override_settings(VIDAI_METRICS={"WEBSOCKET_ROUTES": "tests.no_such_module.routes"})
def test_unimportable_routes_are_an_error() -> None:
    assert [m.id for m in run_checks() if m.id.startswith("vidai_")] == ["vidai_metrics.E002"]


def test_missing_multiprocess_dir_is_an_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert [m.id for m in run_checks() if m.id.startswith("vidai_")] == ["vidai_metrics.E001"]
    (tmp_path / "missing").mkdir()
    assert [m.id for m in run_checks() if m.id.startswith("vidai_")] == []


INVALID_SETTINGS = {
    "STATUS_SOURCE": ({"STATUS_SOURCE": "redis"}, "STATUS_SOURCE must be one of"),
    "fleet without URL": ({"STATUS_SOURCE": "prometheus"}, "needs PROMETHEUS_URL"),
    "rate limit": ({"STATUS_RATE_LIMIT": "many"}, "STATUS_RATE_LIMIT"),
    "zero-second rate": ({"STATUS_RATE_LIMIT": "10/0"}, "STATUS_RATE_LIMIT"),
    "CORS wildcard": ({"STATUS_CORS_ORIGINS": ["*"]}, "without '*'"),
    "CORS string": ({"STATUS_CORS_ORIGINS": "https://a.test"}, "STATUS_CORS_ORIGINS"),
    "networks string": ({"ALLOWED_NETWORKS": "10.0.0.0/8"}, "ALLOWED_NETWORKS must be a list"),
    "bad CIDR": ({"TRUSTED_PROXIES": ["10.0.0.0/33"]}, "TRUSTED_PROXIES"),
    "buckets": ({"AGE_BUCKETS": [10, -1]}, "AGE_BUCKETS"),
    "empty buckets": ({"DURATION_BUCKETS": []}, "DURATION_BUCKETS"),
    "refresh": ({"WORKER_REFRESH_SECONDS": 0}, "WORKER_REFRESH_SECONDS"),
    "timeout": ({"PROMETHEUS_TIMEOUT": "soon"}, "PROMETHEUS_TIMEOUT"),
    "token type": ({"TOKEN": 1234}, "TOKEN must be a string"),
    "unknown key": ({"TOKNE": "x"}, "unknown keys ['TOKNE']"),
    "listen without port": ({"LISTEN": "127.0.0.1"}, "LISTEN must be host:port"),
    "listen port range": ({"LISTEN": "0.0.0.0:70000"}, "LISTEN must be host:port"),
    "limit zero": ({"CONNECTION_LIMIT": 0}, "CONNECTION_LIMIT must be a positive integer"),
    "limit text": ({"CONNECTION_LIMIT": "5000"}, "CONNECTION_LIMIT must be a positive integer"),
    "limit per type": ({"CONNECTION_LIMIT_BY_TYPE": {"call": -1}}, "CONNECTION_LIMIT_BY_TYPE"),
    "limits as list": ({"CONNECTION_LIMIT_BY_TYPE": [["call", 9]]}, "CONNECTION_LIMIT_BY_TYPE"),
}


@pytest.mark.parametrize(
    ("text", "address"),
    [("127.0.0.1:9108", ("127.0.0.1", 9108)), ("[::1]:9108", ("::1", 9108)), (None, None)],
)
def test_listen_is_host_and_port(text, address) -> None:
    with override_settings(VIDAI_METRICS={"LISTEN": text}):
        assert get_settings().listen == address


@pytest.mark.parametrize(("overrides", "message"), INVALID_SETTINGS.values(), ids=INVALID_SETTINGS)
def test_an_invalid_setting_is_a_check_error_not_a_traceback(overrides, message, caplog) -> None:
    with override_settings(VIDAI_METRICS={**settings.VIDAI_METRICS, **overrides}):
        errors = [m for m in run_checks() if m.id.startswith("vidai_")]
        assert [m.id for m in errors] == ["vidai_metrics.E003"]
        assert message in errors[0].msg
        with caplog.at_level(logging.ERROR, logger="metrics.conf"):
            config = get_settings()  # logged, with safe defaults: never a traceback
        assert message in caplog.text
        assert config.status_source == "local"
        assert config.connection_limit is None
        assert config.connection_limit_by_type == ()
    assert get_settings().status_source == "local"  # back to the test settings


def test_an_unreadable_protection_fails_closed() -> None:
    broken = {"TOKEN": 1234, "ALLOWED_NETWORKS": "0.0.0.0/0", "STATUS_RATE_LIMIT": "lots"}
    with override_settings(VIDAI_METRICS=broken):
        config = get_settings()
    assert config.token is not None
    assert len(config.token) == 64  # a token nobody knows
    assert [str(n) for n in config.allowed_networks or ()] == ["127.0.0.0/8", "::1/128"]
    assert config.status_rate_limit == (600, 60.0)


def test_the_defaults_are_valid_and_limit_the_status_json() -> None:
    with override_settings(VIDAI_METRICS={}):
        assert [m for m in run_checks() if m.id.startswith("vidai_")] == []
        assert get_settings().status_rate_limit == (600, 60.0)
        assert get_settings().status_cors_origins == ()


def test_manage_py_check_reports_an_invalid_setting_without_a_traceback(tmp_path) -> None:
    (tmp_path / "invalid_settings.py").write_text(
        "from tests.settings import *  # noqa: F403\n"
        "VIDAI_METRICS = {**VIDAI_METRICS, 'STATUS_RATE_LIMIT': 'many'}  # noqa: F405\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "invalid_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    done = run_command(sys.executable, "-m", "django", "check", env=env, ok=False)
    assert done.returncode == 1
    assert "vidai_metrics.E003" in done.stderr
    assert "STATUS_RATE_LIMIT" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@override_settings(VIDAI_STATUS_RATE_LIMIT="10/60")
def test_a_setting_of_an_earlier_release_warns() -> None:
    messages = [m for m in run_checks() if m.id.startswith("vidai_")]
    assert [(m.id, m.obj) for m in messages] == [("vidai_metrics.W003", "VIDAI_STATUS_RATE_LIMIT")]
    assert "STATUS_RATE_LIMIT" in messages[0].hint


@override_settings(
    VIDAI_METRICS={
        "WEBSOCKET_ROUTES": "tests.routing.websocket_urlpatterns",
        "CONNECTION_LIMIT_BY_TYPE": {"call": 100, "cal": 50},
    }
)
def test_a_limit_for_a_type_no_route_has_warns() -> None:
    messages = [m for m in run_checks() if m.id.startswith("vidai_")]
    assert [(m.id, m.obj) for m in messages] == [("vidai_metrics.W004", "cal")]
    assert "stt_admin" in messages[0].hint


@override_settings(VIDAI_METRICS={"DURATION_BUCKETS": (1, 10, 60)})
def test_lifetime_buckets_without_the_churn_bound_warn() -> None:
    assert [m.id for m in run_checks() if m.id.startswith("vidai_")] == ["vidai_metrics.W005"]


def test_the_churn_bound_is_the_renderers_default() -> None:
    from metrics.checks import CHURN_BOUND
    from metrics.ops_assets import Config

    assert Config().churn_lifetime == CHURN_BOUND
    assert CHURN_BOUND in get_settings().duration_buckets  # the default buckets: quiet
