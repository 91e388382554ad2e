from django.core.checks import Warning, run_checks
from django.test import override_settings


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
