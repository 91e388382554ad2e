"""App config: registers the system checks and the log redaction filter; joins the run."""

from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    label = "vidai_metrics"
    verbose_name = "WebSocket status exporter"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .conf import get_settings
        from .contrib.redaction import install

        # An invalid setting is logged and check E003, never an error here.
        install(get_settings().redact_loggers)
        _join_or_warn()


def _join_or_warn() -> None:
    """Multiprocess mode: join the directory's run before anything writes a file.

    One process: say so if this is one of several workers, counting apart.
    """
    from .conf import multiprocess_dir

    directory = multiprocess_dir()
    if directory:
        from .core.tracker import use_tracker_factory
        from .multiprocess import start_worker
        from .multiprocess.directory import files_enabled, join_run

        # Chosen once per process: the default tracker is this worker's.
        use_tracker_factory(start_worker)
        if files_enabled():
            join_run(directory)
    else:
        from .core.servers import warn_unmerged_workers

        warn_unmerged_workers()
