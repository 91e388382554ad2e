"""One configuration for every ops asset: selectors, labels, thresholds, durations, URLs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Final

__all__ = ["DASHBOARD_UID", "Config"]

DASHBOARD_UID: Final = "vidai-websockets"


@dataclass(frozen=True)
class Config:
    """What the rules, the alerts, the dashboard and the PrometheusRule are rendered from.

    >>> config = Config(job="chat")
    >>> config.selector
    'job="chat"'
    >>> config.runbook("VidaiWebSocketTargetDown")
    'https://vidai.example.org/docs/runbook.md#vidaiwebsockettargetdown'
    """

    # The scrape job whose targets serve /metrics: every selector names it.
    job: str = "vidai"
    # Labels that tell one scrape target apart; labels a setup lacks are simply absent.
    instance_labels: tuple[str, ...] = ("cluster", "namespace", "job", "instance", "pod")
    # Labels that tell one deployment (a fleet of targets) apart.
    fleet_labels: tuple[str, ...] = ("cluster", "namespace", "job")
    # Absolute URLs: notifications are read in chat and pagers, far from the repository.
    runbook_url: str = "https://vidai.example.org/docs/runbook.md"
    grafana_url: str = "https://grafana.example.org"
    # Severities: a page wakes someone, a ticket waits for working hours.
    page: str = "critical"
    ticket: str = "warning"
    info: str = "info"
    # SLOs: the share of handshakes and of closes the server gets right.
    handshake_objective: float = 0.999
    close_objective: float = 0.999
    # Burn-rate alerts need this many handshakes (closes) per second over their
    # long window: one failure in a quiet night hour is no burn.
    slo_min_rate: float = 1 / 60
    # Staleness of a multiprocess worker's refresh stamp, against its scrape time.
    worker_stale_seconds: int = 30
    # A type counts as dropped when its hour averaged this many open connections
    # and handshakes keep failing or being refused at this many per second: many
    # users locked out, not one logged-out tab retrying once a minute at night.
    dropped_baseline: int = 5
    dropped_min_rate: float = 0.05
    # Share of targets down that pages, fleet-wide.
    fleet_down_ratio: float = 0.5
    # Churn: share of closes in the lifetime histogram's bucket at or under
    # churn_lifetime seconds (a DURATION_BUCKETS bound), and a floor on their rate.
    churn_lifetime: float = 5.0
    churn_share: float = 0.5
    churn_min_rate: float = 0.1
    # Clients dropping (1006) share of closes, information only.
    abnormal_share: float = 0.1
    # Servers that report clean closes as 1006 (hypercorn, its issue #127): the
    # abnormal-close alert skips targets whose server_info names one.
    misreporting_servers: tuple[str, ...] = ("hypercorn",)
    # Handshake latency: p99 above this many seconds, with at least min_rate handshakes/s.
    handshake_p99_seconds: float = 1.0
    handshake_min_rate: float = 0.05
    # Share of the configured connection limit (VIDAI_METRICS CONNECTION_LIMIT).
    capacity_ratio: float = 0.8
    # Longest expected session per type, in hours; other types get stale_hours_default.
    stale_hours: tuple[tuple[str, int], ...] = (("call", 4), ("stt", 8), ("stt_room", 8))
    stale_hours_default: int = 24
    # Handshakes to unrouted paths per second worth a note.
    unrouted_rate: float = 0.1
    # "for:" durations.
    durations: dict[str, str] = field(
        default_factory=lambda: {
            "target_down": "5m",
            "fleet_down": "5m",
            "target_missing": "5m",
            "metrics_missing": "5m",
            "worker_stale": "2m",
            "dropped": "10m",
            "churn": "15m",
            "abnormal": "15m",
            "handshake_errors": "10m",
            "handshake_latency": "10m",
            "capacity": "5m",
            "unrouted": "15m",
            "page_burn": "2m",
            "ticket_burn": "15m",
        }
    )

    def __post_init__(self) -> None:
        # Recording rules keep these labels, and every expression reading a
        # record selects the job on it: without "job" a record could not be
        # told from another render's, nor found by this one's alerts.
        for field_name in ("instance_labels", "fleet_labels"):
            if "job" not in getattr(self, field_name):
                raise ValueError(f"{field_name} must include 'job'")

    @property
    def selector(self) -> str:
        """The matcher every expression carries."""
        return f'job="{self.job}"'

    @property
    def by_instance(self) -> str:
        return ", ".join(self.instance_labels)

    @property
    def by_fleet(self) -> str:
        return ", ".join(self.fleet_labels)

    def runbook(self, alert: str) -> str:
        """Return the absolute runbook URL of an alert's section."""
        return f"{self.runbook_url.rstrip('/')}#{alert.lower()}"

    def dashboard(self, *, instance: bool) -> str:
        """Return the absolute dashboard link an alert's annotation carries."""
        link = (
            f"{self.grafana_url.rstrip('/')}/d/{DASHBOARD_UID}/{DASHBOARD_UID}"
            "?var-job={{ $labels.job }}"
        )
        return link + ("&var-instance={{ $labels.instance }}" if instance else "")

    def replace(self, **changes: object) -> Config:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
