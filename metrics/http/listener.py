"""The dedicated ``/metrics`` listener: scrapes that do not wait on the serving event loop.

Set ``VIDAI_METRICS["LISTEN"] = "127.0.0.1:9108"`` (``"0.0.0.0:9108"`` in a pod). Then:

- one process: wrap the ASGI application, ``with_metrics_listener(app)``. The
  listener starts when the server starts serving (the ASGI lifespan startup;
  under daphne, which has none, ``python -m metrics.daphne`` starts it, else
  the first request does) and serves ``/metrics`` from its own threads.
  However saturated the event loop, a thread gets the interpreter at the next
  switch interval, so a scrape waits for its own render, not for the loop's
  queue; the interval is lowered to ``SWITCH_INTERVAL`` (from Python's 5 ms)
  because a scrape hands the interpreter back and forth a dozen times
  (accept, read, render slices, write). It renders under the tracker's lock: ``opened - closed ==
  open`` holds in every scrape, as on the app's port.
- multiprocess mode under gunicorn: its ``when_ready`` hook (``metrics.gunicorn``)
  starts ``python -m metrics.listener``, one process per host that merges
  every worker's files as the app's ``/metrics`` does; workers start none.
- multiprocess mode under a server without a master process of ours
  (``uvicorn --workers``, hypercorn, granian): the first worker to bind the
  address serves every worker's files from its threads; the others retry
  every ``TAKE_OVER_SECONDS`` and take over when it dies.

The same access rules as the view (``metrics.http.access``) and the same exposition
(prometheus_client's ``make_wsgi_app``: text or OpenMetrics, gzip, ``name[]``);
HEAD answers as GET without the body; 404 off ``/metrics``. Importing the
application starts nothing, so ``manage.py`` commands (whose system checks
import ``ASGI_APPLICATION``) never open the port.
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
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from ..asgi.types import ASGIApp, Message, Receive, Scope, Send
from ..conf import get_settings, multiprocess_dir
from ..core.tracker import SocketTracker, default_tracker
from ..multiprocess.directory import LISTENER_PROCESS
from .access import scrape_refusal
from .exposition import exposed_registry

logger = logging.getLogger(__name__)

__all__ = [
    "MetricsListener",
    "MetricsListenerApp",
    "finish_serving",
    "main",
    "start_metrics_listener",
    "with_metrics_listener",
]

PATH = "/metrics"
# Scrapes served at once; further connections are closed at once, so clients
# trickling bytes can hold a few threads, never the process's memory.
MAX_CONNECTIONS = 16
# Seconds a thread waiting for the interpreter waits before the running one
# must let go (sys.setswitchinterval). Only threads that contend pay for it:
# the loop's thread alone never switches.
SWITCH_INTERVAL = 0.001

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a stuck scraper never holds the process open
    allow_reuse_address = True
    request_queue_size = 64

    def server_activate(self) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().server_activate()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: this scraper retries next interval
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _IPv6ThreadingServer(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    # Each read of a stalled request gives up after this long.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per scrape is noise; the scraper sees its own errors


class _Consistent(Collector):
    """Collect ``source`` under ``lock``: no scrape sees half of an open or a close."""

    def __init__(self, lock: threading.Lock, source: Any) -> None:
        self._lock = lock
        self._source = source

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            families = list(self._source.collect())
        return iter(families)

    def restricted_registry(self, names: Iterable[str]) -> _Consistent:
        """The same, for ``name[]`` filters."""
        return _Consistent(self._lock, self._source.restricted_registry(names))


def process_registry(tracker: SocketTracker) -> Collector:
    """One process's exposition, safe to render from another thread than the loop's."""
    return _Consistent(tracker.lock, tracker.registry)


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
            start_response(refusal.status_line(), list(refusal.headers.items()))
            return [refusal.body]
        head = environ.get("REQUEST_METHOD") == "HEAD"
        if head:
            environ = {**environ, "REQUEST_METHOD": "GET"}
        body: Iterable[bytes] = make_wsgi_app(registry())(environ, start_response)
        return [] if head else body

    return app


class MetricsListener:
    """An HTTP server for ``/metrics`` on its own threads.

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


# (pid, listener or None): this process asked once; a forked child asks again.
_started: tuple[int, MetricsListener | None] | None = None
_start_lock = threading.Lock()


def start_metrics_listener() -> MetricsListener | None:
    """Start this process's dedicated ``/metrics`` listener if ``LISTEN`` asks for one.

    Idempotent and cheap after the first call. Returns None when ``LISTEN`` is
    unset, in multiprocess mode (the gunicorn hook serves the host from one
    process), or when the address cannot be bound (logged; the app serves on).
    """
    global _started
    pid = os.getpid()
    started = _started
    if started is not None and started[0] == pid:
        return started[1]
    with _start_lock:
        if _started is None or _started[0] != pid:
            _started = (pid, _start())
        return _started[1]


def _start() -> MetricsListener | None:
    address = get_settings().listen
    if address is None:
        return None
    if multiprocess_dir():
        if os.environ.get(LISTENER_PROCESS):
            return None  # gunicorn's hook runs one process for the host
        return _serve_every_worker(address)
    tracker = default_tracker()
    registry = process_registry(tracker)
    try:
        listener = MetricsListener(address, lambda: registry).start()
    except OSError as error:
        logger.error("metrics listener cannot listen on %s:%d: %s", *address, error)
        return None
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
    logger.info("metrics listener serving %s on %s:%d", PATH, address[0], listener.port)
    return listener


# Seconds between a worker's tries to take the listener over from another.
TAKE_OVER_SECONDS = 2.0


def _serve_every_worker(address: tuple[str, int]) -> MetricsListener | None:
    """Multiprocess mode without a listener process: the first worker to bind serves the host.

    The others keep trying in a daemon thread, so that when the serving
    worker dies another takes over within ``TAKE_OVER_SECONDS``.
    """

    def bind() -> MetricsListener | None:
        try:
            listener = MetricsListener(address, exposed_registry).start()
        except OSError:
            return None
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        logger.info("metrics listener serving every worker on %s:%d", address[0], listener.port)
        return listener

    listener = bind()
    if listener is None:

        def take_over() -> None:
            while bind() is None:
                time.sleep(TAKE_OVER_SECONDS)

        threading.Thread(target=take_over, name="metrics-listener-standby", daemon=True).start()
    return listener


class MetricsListenerApp:
    """ASGI wrapper that starts the dedicated listener when the server starts serving.

    It answers the lifespan protocol itself when the app below is a Channels
    ``ProtocolTypeRouter`` without a ``"lifespan"`` entry (which would refuse
    it); otherwise it passes lifespan through, starting the listener at its
    startup message and finishing the worker at its shutdown message
    (``finish_serving``). Every other scope passes through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "lifespan":
            start_metrics_listener()  # daphne has no lifespan: the first request
            return await self.app(scope, receive, send)
        mapping = getattr(self.app, "application_mapping", None)
        if isinstance(mapping, dict) and "lifespan" not in mapping:
            await _answer_lifespan(receive, send)
            return None

        async def watched_receive() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.startup":
                start_metrics_listener()
            elif message.get("type") == "lifespan.shutdown":
                finish_serving()
            return message

        return await self.app(scope, watched_receive, send)


async def _answer_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            start_metrics_listener()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # The listener stays up to the process's end: it shows the drain.
            finish_serving()
            await send({"type": "lifespan.shutdown.complete"})
            return


def with_metrics_listener(app: ASGIApp) -> MetricsListenerApp:
    """Wrap the project's ASGI application: ``LISTEN`` served from startup, workers finished.

    At lifespan shutdown a worker in multiprocess mode counts the sockets its
    server has not ended as closed by the server (``finish_serving``).
    """
    return MetricsListenerApp(app)


def finish_serving() -> None:
    """The server stopped serving: in multiprocess mode, count what this worker still holds.

    Some servers' workers end without exit handlers (granian forks them and
    leaves through ``os._exit``; uvicorn re-raises SIGTERM): lifespan
    shutdown is the last word they get. One process needs nothing: its
    registry ends with it.
    """
    if not multiprocess_dir():
        return
    from ..multiprocess import finish_worker

    try:
        finish_worker(default_tracker())
    except Exception:
        logger.exception("counting the sockets a stopping worker holds failed")


def main(argv: list[str] | None = None) -> int:
    """Serve every worker's files on ``LISTEN`` until the parent process is gone."""
    parser = argparse.ArgumentParser(prog="python -m metrics.listener", description=main.__doc__)
    parser.add_argument("--parent", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)

    def parent_alive() -> bool:
        return args.parent is None or os.getppid() == args.parent

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
    listener = None
    tries = 0
    while listener is None and parent_alive():
        try:
            listener = MetricsListener(address, exposed_registry).start()
        except OSError as error:
            # An old master's listener may still hold the port (gunicorn USR2):
            # keep trying until it lets go.
            level = logging.ERROR if tries == 0 else logging.DEBUG
            logger.log(level, "metrics listener cannot listen on %s:%d yet: %s", *address, error)
            tries += 1
            time.sleep(2)
    if listener is None:
        return 0
    logger.info("metrics listener serving every worker on %s:%d", address[0], listener.port)
    while parent_alive():
        time.sleep(0.5)
    listener.stop()
    return 0
