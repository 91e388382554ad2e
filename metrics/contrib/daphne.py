"""Run daphne with its access log redacted: ``python -m metrics.daphne`` takes daphne's options.

It also opens the dedicated ``/metrics`` listener at startup when
``VIDAI_METRICS["LISTEN"]`` is set (daphne has no ASGI lifespan).

daphne writes its access log straight to a stream (on by default), with
every WebSocket path; this runner rewrites those paths to route templates
before daphne's own access logger sees them.

It refuses daphne's ``--proxy-headers``, which believes ``X-Forwarded-For``
from any client: behind a proxy, the exporter reads that header itself, from
``TRUSTED_PROXIES`` only. Request heads are bounded by Twisted's HTTP server
(16 KiB for the request line and headers, at most 500 headers: 400 beyond).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server

from ..http.listener import start_metrics_listener
from .redaction import redact, routes_and_prefixes

ActionLogger = Callable[[Any, str, dict[str, Any]], None]


def redacting(action_logger: ActionLogger) -> ActionLogger:
    """Wrap a daphne action logger so logged paths, HTTP's too, carry no room ids or queries."""

    def log_action(protocol: Any, action: str, details: dict[str, Any]) -> None:
        path = details.get("path")
        if isinstance(path, str):
            websocket = protocol == "websocket"
            routes, prefixes = routes_and_prefixes()
            redacted = redact(path, websocket=websocket, routes=routes, prefixes=prefixes)
            details = {**details, "path": redacted}
        action_logger(protocol, action, details)

    return log_action


class RedactingServer(Server):  # type: ignore[misc]
    """daphne's Server whose access log goes through ``redacting``."""

    def __init__(self, *args: Any, action_logger: ActionLogger | None = None, **kwargs: Any):
        if action_logger is not None:
            action_logger = redacting(action_logger)
        super().__init__(*args, action_logger=action_logger, **kwargs)

    def run(self) -> None:
        # daphne has no lifespan: open the dedicated /metrics listener
        # (VIDAI_METRICS["LISTEN"]) now, not at the first request.
        start_metrics_listener()
        super().run()


class RedactingCommandLineInterface(CommandLineInterface):  # type: ignore[misc]
    server_class = RedactingServer

    def run(self, args: list[str]) -> None:
        """Run daphne, unless asked to believe every client's proxy headers."""
        if any(arg.startswith("--proxy-headers") for arg in args):
            self.parser.error(
                "--proxy-headers believes X-Forwarded-For from any client; "
                "list your proxies in VIDAI_METRICS['TRUSTED_PROXIES'] instead"
            )
        super().run(args)
