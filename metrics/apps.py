"""App config: registers the system checks and the log redaction filter."""

from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    label = "vidai_metrics"
    verbose_name = "WebSocket status exporter"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .conf import get_settings
        from .redaction import install

        # An invalid setting is logged and check E003, never an error here.
        install(get_settings().redact_loggers)
