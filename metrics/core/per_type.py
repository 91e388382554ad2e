"""A table of plain per-type counts that the event loop adds to and a scrape reads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["PerType"]

T = TypeVar("T")


class PerType(Generic[T]):
    """Each socket type's counts object, made by ``factory`` on first use, in that order.

    >>> table = PerType(dict)
    >>> table.counts("call")["frames"] = 1
    >>> table.items()
    [('call', {'frames': 1})]
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._counts: dict[str, T] = {}
        self._lock = threading.Lock()

    def counts(self, socket_type: str) -> T:
        """Return a type's counts, made on first use."""
        found = self._counts.get(socket_type)
        if found is None:
            with self._lock:
                found = self._counts.get(socket_type)
                if found is None:
                    found = self._counts[socket_type] = self._factory()
        return found

    def items(self) -> list[tuple[str, T]]:
        """Return ``(type, counts)`` pairs, in the order the types were first used."""
        return list(self._counts.items())
