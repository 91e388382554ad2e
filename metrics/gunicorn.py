"""gunicorn server hooks for multiprocess mode: ``metrics.contrib.gunicorn``, re-exported.

The name gunicorn config files import (see this project's ``gunicorn.conf.py``)::

    from metrics.gunicorn import (
        child_exit, on_exit, on_starting, post_worker_init, when_ready, worker_exit,
    )
"""

from .contrib.gunicorn import (
    child_exit,
    on_exit,
    on_starting,
    post_worker_init,
    when_ready,
    worker_exit,
)

__all__ = [
    "child_exit",
    "on_exit",
    "on_starting",
    "post_worker_init",
    "when_ready",
    "worker_exit",
]
