from django.core.checks import Warning, run_checks
from django.test import override_settings
from django.urls import path


def security_messages():
    return [m for m in run_checks(include_deployment_checks=True) if m.id.startswith("vidai_")]


@override_settings(DEBUG=False, VIDAI_METRICS={"ALLOWED_NETWORKS": ["0.0.0.0/0"]})
def test_metrics_open_to_all_without_token_warns() -> None:
    assert security_messages() == [
        Warning(
            "/metrics is readable from any address without a token while DEBUG is False.",
            hint="Set VIDAI_METRICS['TOKEN'] (VIDAI_METRICS_TOKEN) or narrow ALLOWED_NETWORKS.",
            id="vidai_metrics.W001",
        )
    ]


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


@override_settings(VIDAI_METRICS={"WEBSOCKET_ROUTES": "consultation.routing.websocket_urlpatterns"})
def test_vidai_routes_are_all_tracked() -> None:
    assert [m for m in run_checks() if m.id.startswith("vidai_")] == []


@override_settings(VIDAI_METRICS={"WEBSOCKET_ROUTES": "tests.no_such_module.routes"})
def test_unimportable_routes_are_an_error() -> None:
    assert [m.id for m in run_checks() if m.id.startswith("vidai_")] == ["vidai_metrics.E002"]


def test_missing_multiprocess_dir_is_an_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert [m.id for m in run_checks() if m.id.startswith("vidai_")] == ["vidai_metrics.E001"]
    (tmp_path / "missing").mkdir()
    assert [m.id for m in run_checks() if m.id.startswith("vidai_")] == []
