"""A logging filter that keeps WebSocket query strings out of server logs.

Query strings carry patient and clinician names (``?name=``); uvicorn and
daphne log the path with its query when a socket connects or is refused.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# A path followed by its query string, as servers log it ("/ws/x/?a=b").
_PATH_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")


def redact(text: str) -> str:
    """Cut every ``?query`` off the paths in ``text``."""
    return _PATH_QUERY.sub(r"\1?[redacted]", text)


class RedactQueryStrings(logging.Filter):
    """Rewrite a record's message and arguments without query strings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and "?" in arg else arg for arg in record.args
            )
        return True


def install(logger_names: Iterable[str]) -> None:
    """Add the filter to each named logger once."""
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactQueryStrings) for f in target.filters):
            target.addFilter(RedactQueryStrings())
