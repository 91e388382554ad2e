"""The dedicated ``/metrics`` listener: scrapes that do not wait on the serving event loop.

Set ``VIDAI_METRICS["LISTEN"] = "127.0.0.1:9108"`` (``"0.0.0.0:9108"`` in a pod). Then:

- one process: ``start_metrics_listener()``, called from the project's
  ``asgi.py``, serves ``/metrics`` from a daemon thread. However saturated the
  event loop, the thread gets the interpreter at the next switch interval
  (5 ms), so a scrape waits for its own render, not for the loop's queue. It
  renders under the tracker's lock: ``opened - closed == open`` holds in every
  scrape, as on the app's port.
- multiprocess mode: gunicorn's ``when_ready`` hook (``metrics.gunicorn``)
  starts ``python -m metrics.listener``, one process per host that merges every
  worker's files as the app's ``/metrics`` does, and exits with the master.

The same access rules as the view (``metrics.access``) and the same exposition
(prometheus_client's ``make_wsgi_app``: text or OpenMetrics, gzip, ``name[]``).
Nothing starts it but those two calls: ``manage.py`` commands and tests that
do not ask for it never open the port.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from .access import scrape_refusal
from .conf import get_settings
from .multiprocess import merged_registry, multiprocess_dir
from .tracker import SocketTracker, default_tracker

logger = logging.getLogger(__name__)

__all__ = ["MetricsListener", "main", "start_metrics_listener"]

PATH = "/metrics"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a stuck scraper never holds the process open
    allow_reuse_address = True
    request_queue_size = 64


class _IPv6ThreadingServer(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    # A client that stalls mid-request gives its thread back after this long.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes are not worth a log line each; refusals are counted by status


class _Consistent(Collector):
    """A tracker's registry, collected under its lock: no scrape sees half an open or close."""

    def __init__(self, tracker: SocketTracker) -> None:
        self._tracker = tracker

    def collect(self) -> Iterator[Metric]:
        with self._tracker.lock:
            families = list(self._tracker.registry.collect())
        return iter(families)


def process_registry(tracker: SocketTracker) -> CollectorRegistry:
    """One process's exposition, safe to render from another thread."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Consistent(tracker))
    return registry


def multiprocess_registry() -> CollectorRegistry:
    """Every worker's files on this host, merged afresh for each scrape."""
    directory = multiprocess_dir()
    if not directory:
        raise RuntimeError("PROMETHEUS_MULTIPROC_DIR is not set")
    return merged_registry(directory)


def scrape_app(registry: Callable[[], Collector]) -> WSGIApp:
    """The listener's WSGI app: ``/metrics`` to allowed scrapers, 404 elsewhere."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found\n"]
        refusal = scrape_refusal(
            peer=str(environ.get("REMOTE_ADDR", "")),
            forwarded_for=str(environ.get("HTTP_X_FORWARDED_FOR", "")),
            authorization=str(environ.get("HTTP_AUTHORIZATION", "")),
        )
        if refusal is not None:
            phrase = HTTPStatus(refusal.status).phrase
            start_response(f"{refusal.status} {phrase}", list(refusal.headers))
            return [refusal.body]
        rendered: Iterable[bytes] = make_wsgi_app(registry())(environ, start_response)
        return rendered

    return app


class MetricsListener:
    """An HTTP server for ``/metrics`` on its own thread.

    >>> from prometheus_client import CollectorRegistry
    >>> listener = MetricsListener(("127.0.0.1", 0), CollectorRegistry).start()
    >>> listener.port > 0
    True
    >>> listener.stop()
    """

    def __init__(self, address: tuple[str, int], registry: Callable[[], Collector]) -> None:
        host, port = address
        server_class = _IPv6ThreadingServer if ":" in host else _ThreadingServer
        self._server = make_server(
            host, port, scrape_app(registry), server_class, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-listener", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on (useful with port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> MetricsListener:
        """Serve in a daemon thread; return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


_started: tuple[int, MetricsListener] | None = None
_start_lock = threading.Lock()


def start_metrics_listener() -> MetricsListener | None:
    """Start this process's dedicated ``/metrics`` listener if ``LISTEN`` asks for one.

    Idempotent; returns None when ``LISTEN`` is unset or in multiprocess mode,
    where gunicorn's ``when_ready`` hook serves the whole host from one process.
    """
    global _started
    address = get_settings().listen
    if address is None or multiprocess_dir():
        return None
    with _start_lock:
        if _started is None or _started[0] != os.getpid():  # a forked child starts its own
            tracker = default_tracker()
            registry = process_registry(tracker)
            listener = MetricsListener(address, lambda: registry).start()
            _started = (os.getpid(), listener)
            logger.info("metrics listener serving %s on %s:%d", PATH, address[0], listener.port)
        return _started[1]


def main(argv: list[str] | None = None) -> int:
    """Serve every worker's files on ``LISTEN`` until the parent process is gone."""
    parser = argparse.ArgumentParser(prog="python -m metrics.listener", description=main.__doc__)
    parser.add_argument("--parent", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        print("metrics.listener: DJANGO_SETTINGS_MODULE is not set", file=sys.stderr)
        return 2
    import django

    django.setup()
    address = get_settings().listen
    if address is None:
        return 0  # nothing asked for a listener
    if not multiprocess_dir():
        print("metrics.listener: PROMETHEUS_MULTIPROC_DIR is not set", file=sys.stderr)
        return 2
    try:
        listener = MetricsListener(address, multiprocess_registry).start()
    except OSError as error:
        logger.error("metrics listener cannot listen on %s:%d: %s", *address, error)
        return 1
    logger.info("metrics listener serving every worker on %s:%d", address[0], listener.port)
    while args.parent is None or os.getppid() == args.parent:
        time.sleep(0.5)
    listener.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
