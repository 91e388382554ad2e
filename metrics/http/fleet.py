"""Fleet-wide socket counts from the Prometheus HTTP API, for the status JSON.

Every instance exposes its own numbers; Prometheus scrapes them all. With
``STATUS_SOURCE = "prometheus"`` the status JSON shows
``sum by (type)`` of the open connections over every instance of the job,
``min by (type)`` of their oldest start times, and how many instances are up.

One instant query carries all three (tagged with a ``vidai_part`` label), so
they are evaluated at one timestamp. The answer is cached for
``FLEET_CACHE_SECONDS`` and refreshed by a background thread: a status request
never waits for Prometheus. While Prometheus does not answer (or before its
first answer) ``reading()`` returns None and the caller uses its local numbers.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..conf import cached_per_settings, get_settings
from ..core.instruments import CONNECTIONS, OLDEST_START
from .summary import SocketSummary

logger = logging.getLogger(__name__)

__all__ = ["FleetReading", "FleetSummary", "PrometheusFleet", "default_fleet", "fleet_query"]

_PART = "vidai_part"


@dataclass(frozen=True)
class FleetSummary(SocketSummary):
    """Open sockets of every instance of the job, and how many instances are up."""

    instances: int = 0
    """Targets of the job Prometheus knows."""
    instances_up: int = 0
    """Of those, how many answered their last scrape."""

    def active(self, serving: bool) -> bool:
        """This instance serves, and Prometheus sees at least one instance up."""
        return serving and self.instances_up > 0


@dataclass(frozen=True)
class FleetReading:
    """What Prometheus said about the whole fleet, and when it was asked."""

    summary: FleetSummary
    fetched_at: float
    """``time.monotonic()`` when the answer arrived."""


def fleet_query(job: str) -> str:
    """Return the PromQL instant query behind a reading."""
    selector = "{job=" + json.dumps(job) + "}"  # a JSON string is a valid PromQL string

    def part(name: str, expr: str) -> str:
        return f'label_replace({expr}, "{_PART}", "{name}", "", "")'

    return " or ".join(
        (
            part("open", f"sum by (type) ({CONNECTIONS}{selector})"),
            part("oldest", f"min by (type) ({OLDEST_START}{selector})"),
            part("up", f"up{selector}"),
        )
    )


def parse_reading(data: dict[str, Any], fetched_at: float) -> FleetReading:
    """Build a reading from the ``data`` of a successful instant query."""
    counts: dict[str, int] = {}
    starts: dict[str, float] = {}
    instances = instances_up = 0
    for series in data["result"]:
        labels, value = series["metric"], float(series["value"][1])
        part = labels.get(_PART)
        if part == "open":
            counts[labels.get("type", "")] = round(value)
        elif part == "oldest":
            starts[labels.get("type", "")] = value
        elif part == "up":
            instances += 1
            instances_up += value == 1
    oldest: dict[str, float | None] = {
        socket_type: None if math.isinf(starts.get(socket_type, math.inf)) else starts[socket_type]
        for socket_type in counts
    }
    return FleetReading(FleetSummary(counts, oldest, instances, instances_up), fetched_at)


class PrometheusFleet:
    """Cached fleet readings from one Prometheus, refreshed off the request path.

    >>> fleet = PrometheusFleet("http://127.0.0.1:9", "vidai", timeout=0.1)
    >>> fleet.fetch() is None  # nothing listens on port 9
    True
    """

    def __init__(
        self,
        url: str,
        job: str,
        *,
        timeout: float = 1.0,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self.job = job
        self.timeout = timeout
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._reading: FleetReading | None = None
        self._asked_at = -math.inf
        self._refreshing = False

    def reading(self) -> FleetReading | None:
        """Return the latest fleet reading if recent; start a refresh when one is due."""
        now = self._clock()
        with self._lock:
            reading = self._reading
            due = not self._refreshing and now - self._asked_at >= self.ttl
            if due:
                self._refreshing = True
                self._asked_at = now
        if due:
            threading.Thread(target=self._refresh, name="vidai-fleet", daemon=True).start()
        # A reading outlives its cache time by at most one refresh attempt.
        if reading is not None and now - reading.fetched_at <= 2 * self.ttl + self.timeout:
            return reading
        return None

    def fetch(self) -> FleetReading | None:
        """Ask Prometheus now (blocking, bounded by the timeout); None when it did not answer."""
        query = urllib.parse.urlencode({"query": fleet_query(self.job)})
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's setting)
            f"{self.url}/api/v1/query?{query}", headers={"Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = json.load(response)
            if body.get("status") != "success":
                raise ValueError(body.get("error", "query failed"))
            return parse_reading(body["data"], self._clock())
        except Exception as exc:
            logger.warning("Prometheus did not answer the fleet query: %s", type(exc).__name__)
            return None

    def _refresh(self) -> None:
        reading = self.fetch()
        with self._lock:
            # A failed refresh drops the old reading: fall back now, not later.
            self._reading = reading
            self._refreshing = False


@cached_per_settings
def default_fleet() -> PrometheusFleet | None:
    """Return the configured fleet source, or None when the status JSON reads local numbers."""
    config = get_settings()
    if config.status_source != "prometheus" or not config.prometheus_url:
        return None
    return PrometheusFleet(
        config.prometheus_url,
        config.prometheus_job,
        timeout=config.prometheus_timeout,
        ttl=config.fleet_cache_seconds,
    )
