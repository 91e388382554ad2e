"""gunicorn with uvicorn workers in prometheus_client's multiprocess mode.

    make run-workers WORKERS=4            # or:
    gunicorn -c gunicorn.conf.py vidai.asgi:application

Every worker writes its metrics to PROMETHEUS_MULTIPROC_DIR; /metrics and the
status JSON merge all of them. The first process of a run removes an earlier
run's files, a worker's live gauges are dropped when it exits and its counters folded into
archive files (see metrics/multiprocess/ and docs/scaling.md). Command-line
options override what is set here.
"""

import os
import tempfile

# Before anything imports prometheus_client: it chooses file-backed values
# on first import, from this variable.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "vidai-prometheus-multiproc")
)
# It must exist before the app loads (--preload loads it in the master); the
# first process of a run empties it of an earlier run's files.
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# The dedicated /metrics listener process (VIDAI_METRICS_LISTEN) reads Django's settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vidai.settings")

from metrics.gunicorn import (  # noqa: E402
    child_exit,
    on_exit,
    on_starting,
    post_worker_init,
    when_ready,
    worker_exit,
)

__all__ = ["child_exit", "on_exit", "on_starting", "post_worker_init", "when_ready", "worker_exit"]

bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# WEB_CONCURRENCY, gunicorn's own variable, or 2 per CPU.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1)))
# uvicorn's worker with Vidai's proxy trust (VIDAI_TRUSTED_PROXIES) and bounded
# request heads (h11): see vidai/serving.py.
worker_class = "vidai.serving.UvicornWorker"
# WebSockets are long-lived: give them time to close on a graceful restart.
graceful_timeout = 30
timeout = 30
keepalive = 5
