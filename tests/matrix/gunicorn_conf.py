"""gunicorn for the matrix project: uvicorn's worker and the exporter's hooks, nothing else."""

from metrics.gunicorn import (  # noqa: F401
    child_exit,
    on_exit,
    on_starting,
    post_worker_init,
    when_ready,
    worker_exit,
)

worker_class = "uvicorn_worker.UvicornWorker"
graceful_timeout = 5
