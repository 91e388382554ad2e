"""Prometheus recording rules and alerts, rendered from a ``Config``.

>>> from metrics.ops_assets.config import Config
>>> groups = rule_groups(Config(job="chat"))
>>> [group["name"] for group in groups]
['vidai-websockets.recording', 'vidai-websockets.slo', 'vidai-websockets.alerts']
>>> 'job="chat"' in groups[0]["rules"][0]["expr"]
True
"""

from __future__ import annotations

from typing import Any

from ..contract import (
    CLOSED,
    CONNECTIONS,
    DURATION,
    HANDSHAKE,
    LIMIT,
    OLDEST_START,
    OPENED,
    REJECTED,
    SERVER_INFO,
    TRACKING_ERRORS,
    WORKER_REFRESH,
)
from .config import Config

__all__ = ["GROUPS", "SLO_WINDOWS", "rule_groups"]

GROUPS = ("vidai-websockets.recording", "vidai-websockets.slo", "vidai-websockets.alerts")
# The SRE workbook's multi-window, multi-burn-rate pairs: (long, short, burn rate).
SLO_WINDOWS = {"page": ("1h", "5m", 14.4), "ticket": ("6h", "30m", 6.0)}
_RATIO_WINDOWS = ("5m", "30m", "1h", "6h")

Rule = dict[str, Any]


def _alert(
    config: Config,
    name: str,
    expr: str,
    *,
    severity: str,
    summary: str,
    description: str,
    duration: str | None = None,
    instance: bool = True,
) -> Rule:
    rule: Rule = {"alert": name, "expr": expr}
    if duration is not None:
        rule["for"] = config.durations[duration]
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {
        "summary": summary,
        "description": " ".join(description.split()),
        "runbook_url": config.runbook(name),
        "dashboard": config.dashboard(instance=instance),
    }
    return rule


def _unless_misreporting(config: Config) -> str:
    """Skip targets whose server reports clean closes as abnormal (1006)."""
    if not config.misreporting_servers:
        return ""
    servers = "|".join(config.misreporting_servers)
    return (
        f"\nunless on ({config.by_instance}) "
        f'{SERVER_INFO}{{{config.selector}, server=~"{servers}"}}'
    )


def _recording(config: Config) -> list[Rule]:
    sel, by = config.selector, config.by_instance
    return [
        {
            "record": "vidai:websocket_connections:sum",
            "expr": f"sum by ({by}, type) ({CONNECTIONS}{{{sel}}})",
        },
        {
            "record": "vidai:websocket_connections_opened:rate5m",
            "expr": f"sum by ({by}, type) (rate({OPENED}_total{{{sel}}}[5m]))",
        },
        {
            "record": "vidai:websocket_connections_closed:rate5m",
            "expr": f"sum by ({by}, type, reason, initiator) (rate({CLOSED}_total{{{sel}}}[5m]))",
        },
        {
            "record": "vidai:websocket_connections_rejected:rate5m",
            "expr": f"sum by ({by}, type, reason) (rate({REJECTED}_total{{{sel}}}[5m]))",
        },
        # A type with no open connection exports a start time of +Inf: no age sample.
        {
            "record": "vidai:websocket_oldest_connection_age_seconds",
            "expr": f"time() - ({OLDEST_START}{{{sel}}} < +Inf)",
        },
        # Share of closes at or under churn_lifetime seconds: reconnect loops.
        {
            "record": "vidai:websocket_short_lived:ratio_rate5m",
            "expr": (
                f"sum by ({by}, type) (rate({DURATION}_bucket"
                f'{{{sel}, le="{config.churn_lifetime!r}"}}[5m]))\n/\n'
                f"sum by ({by}, type) (rate({DURATION}_count"
                f"{{{sel}}}[5m]))"
            ),
        },
        {
            "record": "vidai:websocket_handshake_duration_seconds:p99_rate5m",
            "expr": (
                f"histogram_quantile(0.99, sum by ({by}, type, le) "
                f"(rate({HANDSHAKE}_bucket{{{sel}}}[5m])))"
            ),
        },
    ]


def _slo(config: Config) -> list[Rule]:
    sel, by = config.selector, config.by_fleet
    rules: list[Rule] = []
    for window in _RATIO_WINDOWS:
        rules.append(
            {
                "record": f"vidai:websocket_handshakes:rate{window}",
                "expr": f"sum by ({by}) "
                f"(rate({OPENED}_total{{{sel}}}[{window}]))\n"
                f"+\nsum by ({by}) "
                f"(rate({REJECTED}_total{{{sel}}}[{window}]))",
            }
        )
        rules.append(
            {
                "record": f"vidai:websocket_handshake_errors:ratio_rate{window}",
                "expr": f"sum by ({by}) (rate({REJECTED}_total"
                f'{{{sel}, reason="error"}}[{window}]))\n/\n'
                f"vidai:websocket_handshakes:rate{window}{{{sel}}}",
            }
        )
        rules.append(
            {
                "record": f"vidai:websocket_closes:rate{window}",
                "expr": f"sum by ({by}) (rate({CLOSED}_total{{{sel}}}[{window}]))",
            }
        )
        rules.append(
            {
                "record": f"vidai:websocket_close_errors:ratio_rate{window}",
                "expr": f"sum by ({by}) (rate({CLOSED}_total"
                f'{{{sel}, reason="internal_error"}}[{window}]))\n/\n'
                f"vidai:websocket_closes:rate{window}{{{sel}}}",
            }
        )
    return rules


def _burn_alerts(
    config: Config, name: str, ratio: str, volume: str, objective: float, what: str
) -> list[Rule]:
    sel, budget = config.selector, 1 - objective
    alerts = []
    for kind, (long, short, burn) in SLO_WINDOWS.items():
        threshold = round(burn * budget, 10)
        expr = (
            f"vidai:{ratio}:ratio_rate{long}{{{sel}}} > {threshold!r}\n"
            f"and\nvidai:{ratio}:ratio_rate{short}{{{sel}}} > {threshold!r}\n"
            f"and\nvidai:{volume}:rate{long}{{{sel}}} >= {config.slo_min_rate!r}"
        )
        alerts.append(
            _alert(
                config,
                name,
                expr,
                severity=config.page if kind == "page" else config.ticket,
                duration=f"{kind}_burn",
                instance=False,
                summary=f"{what} burn the error budget of job {{{{ $labels.job }}}} "
                f"{burn:g}x too fast",
                description=f"""
                Over the last {long} and {short}, {what} of job {{{{ $labels.job }}}}
                failed in the server at {burn:g} times the rate the {objective:.3%}
                objective allows: at this pace a 30-day budget lasts
                {30 / burn:.1f} days.
                """,
            )
        )
    return alerts


def _alerts(config: Config) -> list[Rule]:
    sel, by, fleet = config.selector, config.by_instance, config.by_fleet
    up = f"up{{{sel}}}"
    stale_types = "|".join(socket_type for socket_type, _ in config.stale_hours)
    stale = "\nor\n".join(
        [
            f'vidai:websocket_oldest_connection_age_seconds{{{sel}, type="{socket_type}"}} '
            f"> {hours} * 3600"
            for socket_type, hours in config.stale_hours
        ]
        + [
            f'vidai:websocket_oldest_connection_age_seconds{{{sel}, type!~"{stale_types}"}} '
            f"> {config.stale_hours_default} * 3600"
        ]
    )
    return [
        # --- Is Prometheus getting the numbers at all? ---
        _alert(
            config,
            "VidaiWebSocketTargetDown",
            f"{up} == 0",
            severity=config.ticket,
            duration="target_down",
            summary="Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }})",
            description="""
            Scrapes of {{ $labels.instance }} (job {{ $labels.job }}) keep failing: the
            process is down or unreachable, or /metrics refuses Prometheus (401/403).
            The other targets of the job carry on; its own numbers are unknown.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketFleetDown",
            f"count by ({fleet}) ({up} == 0)\n/\ncount by ({fleet}) ({up})\n"
            f"> {config.fleet_down_ratio!r}",
            severity=config.page,
            duration="fleet_down",
            instance=False,
            summary="Most targets of job {{ $labels.job }} cannot be scraped",
            description="""
            {{ $value | humanizePercentage }} of the targets of job {{ $labels.job }}
            have failed their scrapes: the service is probably down for its users.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketTargetMissing",
            f"absent({up})",
            severity=config.page,
            duration="target_missing",
            instance=False,
            summary="Prometheus has no {{ $labels.job }} target to scrape",
            description="""
            No target of job {{ $labels.job }} exists: the scrape job is missing from
            the configuration or service discovery finds no process. No other
            WebSocket alert can fire meanwhile.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketMetricsMissing",
            f"{up} == 1 unless on ({by}) {CONNECTIONS}{{{sel}}}",
            severity=config.ticket,
            duration="metrics_missing",
            summary="{{ $labels.instance }} (job {{ $labels.job }}) exposes no WebSocket metrics",
            description=f"""
            {{{{ $labels.instance }}}} (job {{{{ $labels.job }}}}) is scraped without a single
            {CONNECTIONS} series: the metrics app is not installed, no
            route is wrapped with track(), or the target is another service.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketWorkerStale",
            # timestamp() is the scrape's time: the stamp's age when it was scraped,
            # whatever the scrape interval and wherever the evaluation falls in it.
            f"timestamp({WORKER_REFRESH}{{{sel}}})\n"
            f"- {WORKER_REFRESH}{{{sel}}}\n"
            f"> {config.worker_stale_seconds}",
            severity=config.ticket,
            duration="worker_stale",
            summary="Worker {{ $labels.pid }} on {{ $labels.instance }} stopped refreshing",
            description="""
            Worker {{ $labels.pid }} on {{ $labels.instance }} (job {{ $labels.job }})
            had not refreshed its socket gauges for {{ $value | humanizeDuration }}
            when it was scraped; it refreshes every second, so its counts may be stale.
            """,
        ),
        # --- Can clients connect, and do their connections end well? ---
        _alert(
            config,
            "VidaiWebSocketConnectionsDropped",
            f"vidai:websocket_connections:sum{{{sel}}} == 0\n"
            f"and on ({by}, type)\n"
            f"sum by ({by}, type) (vidai:websocket_connections_rejected:rate5m{{{sel}}})"
            f" > {config.dropped_min_rate!r}\n"
            f"and on ({by}, type)\n"
            f"avg_over_time(vidai:websocket_connections:sum{{{sel}}}[1h])"
            f" >= {config.dropped_baseline}",
            severity=config.ticket,
            duration="dropped",
            summary="{{ $labels.type }} WebSockets on {{ $labels.instance }} fell to zero "
            "while clients keep failing to connect",
            description="""
            No {{ $labels.type }} connection is open on {{ $labels.instance }}
            (job {{ $labels.job }}), its last hour had some, and handshakes keep
            arriving and being refused or failing there.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketFleetConnectionsDropped",
            f"sum by ({fleet}, type) (vidai:websocket_connections:sum{{{sel}}}) == 0\n"
            f"and on ({fleet}, type)\n"
            f"sum by ({fleet}, type) (vidai:websocket_connections_rejected:rate5m{{{sel}}})"
            f" > {config.dropped_min_rate!r}\n"
            f"and on ({fleet}, type)\n"
            f"sum by ({fleet}, type) (avg_over_time(vidai:websocket_connections:sum{{{sel}}}[1h]))"
            f" >= {config.dropped_baseline}",
            severity=config.page,
            duration="dropped",
            instance=False,
            summary="No {{ $labels.type }} WebSocket is open in job {{ $labels.job }} "
            "while clients keep failing to connect",
            description="""
            Every instance of job {{ $labels.job }} has zero {{ $labels.type }}
            connections, the last hour had some, and handshakes keep arriving and
            being refused or failing: users cannot connect.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketHandshakeErrors",
            f'vidai:websocket_connections_rejected:rate5m{{{sel}, reason="error"}}\n'
            f"/ on ({by}, type) group_left ()\n"
            f"(\n  vidai:websocket_connections_opened:rate5m{{{sel}}}\n"
            f"  + on ({by}, type)\n"
            f"  sum by ({by}, type) (vidai:websocket_connections_rejected:rate5m{{{sel}}})\n)\n"
            f"> 0.05",
            severity=config.ticket,
            duration="handshake_errors",
            summary="{{ $labels.type }} handshakes fail in the server on {{ $labels.instance }}",
            description="""
            {{ $value | humanizePercentage }} of the {{ $labels.type }} handshakes on
            {{ $labels.instance }} (job {{ $labels.job }}) failed because the app raised
            before accepting. Refusals (denied, unauthenticated, forbidden, foreign
            Origin, over the limit) are not counted here: they are on the dashboard.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketHandshakeLatency",
            f"vidai:websocket_handshake_duration_seconds:p99_rate5m{{{sel}}}"
            f" > {config.handshake_p99_seconds!r}\n"
            f"and on ({by}, type)\n"
            f"sum by ({by}, type) (rate({HANDSHAKE}_count"
            f"{{{sel}}}[5m])) > {config.handshake_min_rate!r}",
            severity=config.ticket,
            duration="handshake_latency",
            summary="{{ $labels.type }} handshakes are slow on {{ $labels.instance }}",
            description="""
            The 99th percentile of {{ $labels.type }} handshake durations on
            {{ $labels.instance }} (job {{ $labels.job }}) is
            {{ $value | humanizeDuration }}: authentication, the session store or the
            event loop is slow.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketAbnormalCloses",
            f"sum by ({by}, type) "
            f'(vidai:websocket_connections_closed:rate5m{{{sel}, reason="abnormal"}})\n'
            f"/\nsum by ({by}, type) (vidai:websocket_connections_closed:rate5m{{{sel}}})\n"
            f"> {config.abnormal_share!r}" + _unless_misreporting(config),
            severity=config.info,
            duration="abnormal",
            summary="Many {{ $labels.type }} clients drop off {{ $labels.instance }}",
            description="""
            {{ $value | humanizePercentage }} of the {{ $labels.type }} connections
            closing on {{ $labels.instance }} (job {{ $labels.job }}) end without a
            close frame (1006): clients' networks, or a proxy cutting idle sockets.
            Server errors (1011) are the close-error SLO's business. Targets whose
            server reports clean closes as 1006 (misreporting_servers) are skipped.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketUnroutedHandshakes",
            f'vidai:websocket_connections_rejected:rate5m{{{sel}, reason="no_route"}}'
            f" > {config.unrouted_rate!r}",
            severity=config.info,
            duration="unrouted",
            summary="WebSocket handshakes to unknown paths on {{ $labels.instance }}",
            description="""
            {{ $labels.instance }} (job {{ $labels.job }}) keeps refusing handshakes to
            paths no route matches: an outdated client or a scanner.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketConnectionChurn",
            f"vidai:websocket_short_lived:ratio_rate5m{{{sel}}} > {config.churn_share!r}\n"
            f"and on ({by}, type)\n"
            f"sum by ({by}, type) (rate({DURATION}_bucket"
            f'{{{sel}, le="{config.churn_lifetime!r}"}}[5m])) > {config.churn_min_rate!r}',
            severity=config.ticket,
            duration="churn",
            summary="{{ $labels.type }} WebSockets reconnect in a loop on {{ $labels.instance }}",
            description=f"""
            {{{{ $value | humanizePercentage }}}} of the {{{{ $labels.type }}}} connections
            closing on {{{{ $labels.instance }}}} (job {{{{ $labels.job }}}}) lived
            {config.churn_lifetime:g} s or less: clients are reconnecting in a loop.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketStaleConnection",
            stale,
            severity=config.info,
            summary="The oldest {{ $labels.type }} WebSocket on {{ $labels.instance }} "
            "is open unusually long",
            description="""
            The oldest open {{ $labels.type }} connection on {{ $labels.instance }}
            (job {{ $labels.job }}) has been open for {{ $value | humanizeDuration }},
            longer than such sessions last.
            """,
        ),
        # --- Can the numbers be trusted, and is there room left? ---
        _alert(
            config,
            "VidaiWebSocketTrackingErrors",
            f"increase({TRACKING_ERRORS}_total{{{sel}}}[10m]) > 0",
            severity=config.ticket,
            summary="WebSocket tracking fails at stage {{ $labels.stage }} "
            "on {{ $labels.instance }}",
            description="""
            Socket tracking on {{ $labels.instance }} (job {{ $labels.job }}) failed at
            stage {{ $labels.stage }} in the last 10 minutes. The sockets carried on,
            but that stage's numbers may be off.
            """,
        ),
        _alert(
            config,
            "VidaiWebSocketNearCapacity",
            # No limit configured (VIDAI_METRICS CONNECTION_LIMIT): no series, no alert.
            f"sum by ({by}) ({CONNECTIONS}{{{sel}}})\n"
            f'/ on ({by}) {LIMIT}{{{sel}, type=""}}\n'
            f"> {config.capacity_ratio!r}\n"
            f"or\n"
            f"vidai:websocket_connections:sum{{{sel}}}\n"
            f'/ on ({by}, type) {LIMIT}{{{sel}, type!=""}}\n'
            f"> {config.capacity_ratio!r}",
            severity=config.ticket,
            duration="capacity",
            summary="{{ $labels.instance }} (job {{ $labels.job }}) is near its WebSocket capacity",
            description="""
            Open {{ with $labels.type }}{{ . }} {{ end }}WebSockets on
            {{ $labels.instance }} (job {{ $labels.job }}) are at
            {{ $value | humanizePercentage }} of their configured connection limit.
            """,
        ),
        *_burn_alerts(
            config,
            "VidaiWebSocketHandshakeErrorBudgetBurn",
            "websocket_handshake_errors",
            "websocket_handshakes",
            config.handshake_objective,
            "WebSocket handshakes",
        ),
        *_burn_alerts(
            config,
            "VidaiWebSocketCloseErrorBudgetBurn",
            "websocket_close_errors",
            "websocket_closes",
            config.close_objective,
            "WebSocket closes",
        ),
    ]


def rule_groups(config: Config) -> list[dict[str, Any]]:
    """Return the rule groups for ``config``, in evaluation order."""
    recording, slo, alerts = GROUPS
    return [
        {"name": recording, "rules": _recording(config)},
        {"name": slo, "rules": _slo(config)},
        {"name": alerts, "rules": _alerts(config)},
    ]
