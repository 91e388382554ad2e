"""The log redaction filter's cost per record, against recomputing the route prefixes per record.

``RedactSocketPaths`` runs on the serving event loop for every record of the
redacted loggers: uvicorn logs "connection open" and "connection closed" for
every socket, and an access line for every HTTP request. The baseline is the
filter as it was before the routes and prefixes were cached per settings
change: routes read, and prefixes derived for each string of each record.
Records are made before each timed batch (the filter rewrites them); rounds
alternate which filter goes first, and each figure is the median round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from . import Result, median

# A record that carries no path should cost next to nothing.
TARGET_NO_PATH_US = 1.0
ROUNDS = 21
RECORDS = 5_000

# (row, logger, message, args): what uvicorn logs, as uvicorn logs it.
_RECORDS: tuple[tuple[str, str, str, tuple[object, ...]], ...] = (
    ("record without a path (uvicorn's 'connection open')", "uvicorn.error", "connection open", ()),
    (
        "WebSocket accepted line, room path and query",
        "uvicorn.error",
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:50000", "/ws/call/Jane-Doe-room/?name=Jane"),
    ),
    (
        "HTTP access line, a path outside the sockets",
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", "/consultation/socket-status/", "1.1", 200),
    ),
)


def _previous_filter(record: logging.LogRecord) -> bool:
    """The filter before caching: routes and prefixes looked up for every string."""
    from metrics.contrib.redaction import importable_routes, redact, socket_prefixes

    message = record.msg if isinstance(record.msg, str) else ""
    websocket = "websocket" in message.lower()
    routes = importable_routes()

    def one(text: str) -> str:
        prefixes = () if websocket else socket_prefixes(routes)
        return redact(text, websocket=websocket, routes=routes, prefixes=prefixes)

    if message:
        record.msg = one(message)
    if isinstance(record.args, tuple) and record.args:
        record.args = tuple(one(arg) if isinstance(arg, str) else arg for arg in record.args)
    return True


def _per_record(
    filter_: Callable[[logging.LogRecord], bool], name: str, msg: str, args: tuple[object, ...]
) -> float:
    records = [
        logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None) for _ in range(RECORDS)
    ]
    start = time.perf_counter()
    for record in records:
        filter_(record)
    return (time.perf_counter() - start) / RECORDS


def run() -> list[Result]:
    """Measure the filter's cost per record for records with and without paths."""
    from metrics.contrib.redaction import RedactSocketPaths

    current = RedactSocketPaths().filter
    results: list[Result] = []
    for index, (label, name, msg, args) in enumerate(_RECORDS):
        now: list[float] = []
        before: list[float] = []
        _per_record(current, name, msg, args)  # warm-up: routes imported, caches filled
        _per_record(_previous_filter, name, msg, args)
        for round_ in range(ROUNDS):
            pair = [(current, now), (_previous_filter, before)]
            for filter_, figures in pair if round_ % 2 == 0 else reversed(pair):
                figures.append(_per_record(filter_, name, msg, args))
        cached_us, previous_us = median(now) * 1e6, median(before) * 1e6
        results.append(
            Result(
                benchmark=f"10{'abc'[index]}. log redaction per record: {label}",
                measured=f"{cached_us:.2f} us/record (prefixes cached per settings change)",
                baseline=f"{previous_us:.2f} us/record (prefixes derived per record)",
                figure=cached_us,
                unit="us",
                target=TARGET_NO_PATH_US if not args else None,
            )
        )
    return results
