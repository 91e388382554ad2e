"""App config: registers the system checks and the log redaction filter."""

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class MetricsConfig(AppConfig):
    name = "metrics"
    label = "vidai_metrics"
    verbose_name = "WebSocket status exporter"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .conf import DEFAULTS, get_settings
        from .redaction import install

        try:
            loggers = get_settings().redact_loggers
        except ImproperlyConfigured:
            # Check E003 says what is wrong; logs are redacted meanwhile all the same.
            loggers = DEFAULTS["REDACT_LOGGERS"]
        install(loggers)
