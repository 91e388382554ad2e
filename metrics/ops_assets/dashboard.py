"""The Grafana dashboard, built with grafana-foundation-sdk from a ``Config``.

Its queries follow the dashboard's variables (``$cluster``, ``$namespace``,
``$job``, ``$instance``, ``$type``), never a hard-coded target; the job
variable defaults to the configured job.

>>> from metrics.ops_assets.config import Config
>>> build(Config()).uid
'vidai-websockets'
>>> title, expr = panel_queries(Config())[0]
>>> title, '$job' in expr and '$instance' in expr
('Open connections', True)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Final

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders.common import (
    GraphThresholdsStyleConfig,
    ReduceDataOptions,
    StackingConfig,
    VizLegendOptions,
    VizTooltipOptions,
)
from grafana_foundation_sdk.builders.dashboard import (
    AnnotationQuery,
    DashboardLink,
    DatasourceVariable,
    FieldColor,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.dashboard import Dashboard as DashboardBuilder
from grafana_foundation_sdk.builders.prometheus import Dataquery as PromQuery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, prometheus
from grafana_foundation_sdk.models import dashboard as model

from ..contract import (
    AGE,
    CLOSED,
    CONNECTIONS,
    DURATION,
    HANDSHAKE,
    LIMIT,
    MESSAGE_BYTES,
    MESSAGES,
    OPENED,
    REJECTED,
    TRACKING_ERRORS,
    WORKER_REFRESH,
)
from .config import DASHBOARD_UID, Config

__all__ = ["build", "panel_queries", "render"]

# Every selector carries these matchers, so the dashboard follows its variables
# and never a hard-coded target. `type` only where the series has that label.
# A label a setup lacks (cluster, namespace) is empty, which All (.*) matches.
_FLEET: Final = 'cluster=~"$cluster", namespace=~"$namespace", job=~"$job"'
_TARGET: Final = f'{_FLEET}, instance=~"$instance"'
_TYPED: Final = f'{_TARGET}, type=~"$type"'

# "All" matches any value, not just the listed ones: the type list comes from the
# open-connections gauge, which has no `unknown` type (rejections do).
_ALL: Final = ".*"

_NEGATIVE_Y: Final = model.DynamicConfigValue(id_val="custom.transform", value="negative-Y")

_UP_MAPPING: Final = model.ValueMap(
    options={
        "0": model.ValueMappingResult(text="DOWN", color="red", index=0),
        "1": model.ValueMappingResult(text="UP", color="green", index=1),
    }
)


def build(config: Config) -> model.Dashboard:
    """Build the dashboard model for ``config``."""
    board = (
        DashboardBuilder("Vidai WebSockets")
        .uid(DASHBOARD_UID)
        .description(
            "WebSocket connections of the Vidai consultation service, from the "
            "vidai_websocket_* metrics and their vidai:* recording rules."
        )
        .tags(["vidai", "websockets", "django-channels", "prometheus"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone(common.TimeZoneBrowser)
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        # Grafana adds its built-in annotation itself when the list lacks it, and
        # that one would carry a datasource uid other than ${datasource}.
        .annotations(
            [
                AnnotationQuery()
                .name("Firing alerts")
                .datasource(_datasource())
                .enable(True)
                .icon_color("red")
                .expr(f'ALERTS{{alertstate="firing", {_FLEET}}}')
            ]
        )
        .links(
            [
                DashboardLink("Runbook")
                .type(model.DashboardLinkType.LINK)
                .url(config.runbook_url)
                .icon("doc")
                .tooltip("What each alert means and what to do")
                .target_blank(True),
                DashboardLink("Alerts")
                .type(model.DashboardLinkType.LINK)
                .url(f"{config.grafana_url.rstrip('/')}/alerting/list?search=VidaiWebSocket")
                .icon("bolt")
                .tooltip("The WebSocket alerts and their state")
                .target_blank(True),
            ]
        )
        .with_variable(
            DatasourceVariable("datasource")
            .label("Data source")
            .description("The Prometheus that scrapes Vidai's /metrics.")
            .type("prometheus")
        )
        .with_variable(
            _label_variable("cluster", f"label_values({CONNECTIONS}, cluster)")
            .label("Cluster")
            .description("Kubernetes cluster, where the targets carry the label.")
            .include_all(True)
            .all_value(_ALL)
        )
        .with_variable(
            _label_variable(
                "namespace",
                f'label_values({CONNECTIONS}{{cluster=~"$cluster"}}, namespace)',
            )
            .label("Namespace")
            .description("Kubernetes namespace, where the targets carry the label.")
            .include_all(True)
            .all_value(_ALL)
        )
        .with_variable(
            _label_variable(
                "job",
                f'label_values({CONNECTIONS}{{cluster=~"$cluster", namespace=~"$namespace"}}, job)',
            )
            .label("Job")
            .description("Prometheus job scraping the Vidai deployment.")
            .current(model.VariableOption(selected=True, text=config.job, value=config.job))
        )
        .with_variable(
            _label_variable("instance", f"label_values({CONNECTIONS}{{{_FLEET}}}, instance)")
            .label("Instance")
            .description("Scraped Vidai processes or hosts.")
            .multi(True)
            .include_all(True)
            .all_value(_ALL)
        )
        .with_variable(
            _label_variable("type", f"label_values({CONNECTIONS}{{{_FLEET}}}, type)")
            .label("Endpoint type")
            .description(
                "WebSocket endpoint types. All also matches `unknown`, the type of "
                "handshakes to paths no route matches."
            )
            .multi(True)
            .include_all(True)
            .all_value(_ALL)
        )
        .with_row(Row("Overview"))
        .with_panel(
            _stat(
                "Open connections",
                "WebSockets accepted and not yet closed, summed over the selected "
                "instances and types.",
                "short",
                _query("A", f"sum(vidai:websocket_connections:sum{{{_TYPED}}})", "open"),
                _thresholds("green"),
            )
        )
        .with_panel(
            _stat(
                "Oldest open connection",
                "Age of the longest-lived open WebSocket. A socket that never goes away "
                "(a leaked or stuck session) shows as a steadily growing age.",
                "s",
                _query(
                    "A",
                    f"max(vidai:websocket_oldest_connection_age_seconds{{{_TYPED}}})",
                    "oldest",
                ),
                _thresholds("green"),
            ).no_value("none open")
        )
        .with_panel(
            _stat(
                "Tracking errors",
                "Errors inside socket tracking over the dashboard's time range. The "
                "sockets carried on, but the numbers may be off: anything above 0 is "
                "red and worth a look at the logs.",
                "short",
                _query(
                    "A",
                    f"sum(increase({TRACKING_ERRORS}_total{{{_TARGET}}}[$__range]))",
                    "errors",
                ).instant(),
                _thresholds("green", (1, "red")),
                color_mode=common.BigValueColorMode.BACKGROUND,
            )
            .graph_mode(common.BigValueGraphMode.NONE)
            .decimals(0)
        )
        .with_panel(
            _stat(
                "Targets up",
                "Share of the selected scrape targets Prometheus reached on its last "
                "scrape. Red below 100%: see Scrape health.",
                "percentunit",
                _query("A", f"avg(up{{{_TARGET}}})", "up"),
                _thresholds("red", (1, "green")),
                color_mode=common.BigValueColorMode.BACKGROUND,
            )
            .min(0)
            .max(1)
        )
        .with_panel(
            _stat(
                "Handshakes without server error",
                "Share of handshakes over the time range that did not fail in the "
                f"server (rejected with reason `error`); the objective is "
                f"{config.handshake_objective:.3%}. Refusals count as successes: "
                "refusing a client without a login is the server working.",
                "percentunit",
                _query("A", _success_ratio(_HANDSHAKE_ERRORS, _HANDSHAKES), "handshakes").instant(),
                _thresholds("red", (config.handshake_objective, "green")),
                color_mode=common.BigValueColorMode.BACKGROUND,
            ).decimals(3)
        )
        .with_panel(
            _stat(
                "Closes without server error",
                "Share of closes over the time range that were not server errors "
                f"(`internal_error`, 1011); the objective is {config.close_objective:.3%}.",
                "percentunit",
                _query("A", _success_ratio(_CLOSE_ERRORS, _CLOSES), "closes").instant(),
                _thresholds("red", (config.close_objective, "green")),
                color_mode=common.BigValueColorMode.BACKGROUND,
            ).decimals(3)
        )
        .with_panel(
            _stat(
                "Capacity used",
                "Open WebSockets as a share of the configured connection limit "
                "(VIDAI_METRICS CONNECTION_LIMIT), over the selected instances. "
                "Empty when no limit is configured.",
                "percentunit",
                _query(
                    "A",
                    f'sum({CONNECTIONS}{{{_TYPED}}})\n/\nsum({LIMIT}{{{_TARGET}, type=""}})',
                    "used",
                ),
                _thresholds("green", (config.capacity_ratio, "orange"), (1, "red")),
            )
            .no_value("no limit configured")
            .min(0)
        )
        .with_panel(
            _stat(
                "Handshake p99",
                "99th percentile of handshake durations over the last 5 minutes: from "
                "the handshake reaching the outermost tracking layer to its accept or "
                "refusal, Origin checks and authentication included.",
                "s",
                _query("A", _handshake_quantile(0.99, "5m"), "p99"),
                _thresholds("green", (config.handshake_p99_seconds, "red")),
            ).no_value("no handshake")
        )
        .with_row(Row("Connections"))
        .with_panel(
            _timeseries(
                "Open connections by type",
                "Open WebSockets per endpoint type, stacked: the top line is the total.",
                "short",
                [
                    _query(
                        "A",
                        f"sum by (type) (vidai:websocket_connections:sum{{{_TYPED}}})",
                        "{{type}}",
                    )
                ],
                span=24,
                stacked=True,
            )
        )
        .with_panel(
            _timeseries(
                "Opened and closed per second",
                "Accepted handshakes (above the axis) and closes after accept (below), "
                "per type, as 5-minute rates. Both sides match when the number of open "
                "sockets is steady.",
                "ops",
                [
                    _query(
                        "A",
                        f"sum by (type) (vidai:websocket_connections_opened:rate5m{{{_TYPED}}})",
                        "opened {{type}}",
                    ),
                    _query(
                        "B",
                        f"sum by (type) (vidai:websocket_connections_closed:rate5m{{{_TYPED}}})",
                        "closed {{type}}",
                    ),
                ],
            ).override_by_regexp("^closed ", [_NEGATIVE_Y])
        )
        .with_panel(
            _timeseries(
                "Close reasons",
                "Closes after accept by RFC 6455 close-code class and by who closed "
                "(client or server), 5-minute rates. `abnormal` means no close frame "
                "(a dropped peer on daphne); `internal_error` means the app raised.",
                "ops",
                [
                    _query(
                        "A",
                        "sum by (reason, initiator) "
                        f"(vidai:websocket_connections_closed:rate5m{{{_TYPED}}})",
                        "{{reason}} ({{initiator}})",
                    )
                ],
                stacked=True,
            )
        )
        .with_row(Row("Refusals and failures"))
        .with_panel(
            _timeseries(
                "Rejected handshakes",
                "Handshakes never accepted, by reason and type, 5-minute rates. "
                "Refusals are the server working: `unauthenticated` (4401), "
                "`forbidden` (4403), `forbidden_origin` (4400), `over_limit` (4429), "
                "`denied` (any other refusal). `error`: the app raised (a server "
                "fault, in the handshake SLO); `client_gone`: the client left first; "
                "`no_route`: no route matched the path (type `unknown`).",
                "reqps",
                [
                    _query(
                        "A",
                        "sum by (type, reason) "
                        f"(vidai:websocket_connections_rejected:rate5m{{{_TYPED}}})",
                        "{{reason}} ({{type}})",
                    )
                ],
                stacked=True,
            )
        )
        .with_panel(
            _timeseries(
                "Tracking errors by stage",
                "Errors inside socket tracking per stage (open, frame, close, reject), "
                "counted per rate interval. Swallowed so the socket carried on; "
                "anything above 0 is red.",
                "short",
                [
                    _query(
                        "A",
                        f"sum by (stage) (increase({TRACKING_ERRORS}_total"
                        f"{{{_TARGET}}}[$__rate_interval]))",
                        "{{stage}}",
                    )
                ],
            )
            .thresholds(_thresholds("green", (1, "red")))
            .thresholds_style(
                GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE_AND_AREA)
            )
            .draw_style(common.GraphDrawStyle.BARS)
            .decimals(0)
        )
        .with_row(Row("Handshakes"))
        .with_panel(
            _timeseries(
                "Handshake duration percentiles",
                "p50, p95 and p99 of handshake durations per rate interval, accepted "
                "and refused alike (a client that left first is not timed).",
                "s",
                [
                    _query("A", _handshake_quantile(0.5, "$__rate_interval"), "p50"),
                    _query("B", _handshake_quantile(0.95, "$__rate_interval"), "p95"),
                    _query("C", _handshake_quantile(0.99, "$__rate_interval"), "p99"),
                ],
            )
        )
        .with_panel(
            _timeseries(
                "Capacity used by instance",
                "Open WebSockets per instance as a share of its configured connection "
                "limit; the capacity alert fires above "
                f"{config.capacity_ratio:.0%}. Empty when no limit is configured.",
                "percentunit",
                [
                    _query(
                        "A",
                        f"sum by (instance) ({CONNECTIONS}{{{_TYPED}}})\n/\n"
                        "sum by (instance) "
                        f'({LIMIT}{{{_TARGET}, type=""}})',
                        "{{instance}}",
                    )
                ],
            )
        )
        .with_row(Row("Lifetime and age"))
        .with_panel(
            _timeseries(
                "Connection lifetime percentiles",
                "p50, p95 and p99 of how long connections lived, from the closes of "
                "the hour before each point: sessions last hours, so a shorter window "
                "is mostly empty. Buckets run from 1 s to 4 h (VIDAI_METRICS "
                "DURATION_BUCKETS).",
                "s",
                [
                    _query("A", _lifetime_quantile(0.5), "p50"),
                    _query("B", _lifetime_quantile(0.95), "p95"),
                    _query("C", _lifetime_quantile(0.99), "p99"),
                ],
                span=8,
            )
        )
        .with_panel(
            bargauge.Panel()
            .title("Open connections by age")
            .description(
                "Open WebSockets now, by age bucket (the gauge histogram "
                f"{AGE}). Its buckets are cumulative; "
                "the heatmap format turns them into counts per bucket, so each bar "
                "counts sockets older than the previous bound and at most this one "
                "(in seconds)."
            )
            .datasource(_datasource())
            .with_target(
                _query(
                    "A",
                    f"sum by (le) ({AGE}_bucket{{{_TYPED}}})",
                    "{{le}}",
                )
                .instant()
                .format(prometheus.PromQueryFormat.HEATMAP)
            )
            .unit("short")
            .min(0)
            .decimals(0)
            .thresholds(_thresholds("blue"))
            .display_mode(common.BarGaugeDisplayMode.GRADIENT)
            .orientation(common.VizOrientation.VERTICAL)
            .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
            .span(8)
            .height(8)
        )
        .with_panel(
            _timeseries(
                "Oldest open connection by type",
                "Age of the oldest open WebSocket per type (time() minus its start "
                "time). Types with no open socket have no line.",
                "s",
                [
                    _query(
                        "A",
                        "max by (type) "
                        f"(vidai:websocket_oldest_connection_age_seconds{{{_TYPED}}})",
                        "{{type}}",
                    )
                ],
                span=8,
            )
        )
        .with_row(Row("Traffic"))
        .with_panel(
            _timeseries(
                "Messages per second",
                "WebSocket frames per type: received above the axis, sent below.",
                "ops",
                [
                    _query(
                        "A",
                        f"sum by (type, direction) (rate({MESSAGES}_total"
                        f"{{{_TYPED}}}[$__rate_interval]))",
                        "{{type}} {{direction}}",
                    )
                ],
            ).override_by_regexp(" sent$", [_NEGATIVE_Y])
        )
        .with_panel(
            _timeseries(
                "Payload bytes per second",
                "WebSocket payload bytes per type (UTF-8 for text frames): received "
                "above the axis, sent below.",
                "Bps",
                [
                    _query(
                        "A",
                        "sum by (type, direction) "
                        f"(rate({MESSAGE_BYTES}_total"
                        f"{{{_TYPED}}}[$__rate_interval]))",
                        "{{type}} {{direction}}",
                    )
                ],
            ).override_by_regexp(" sent$", [_NEGATIVE_Y])
        )
        .with_row(Row("Instances"))
        .with_panel(_instances_table())
        .with_panel(
            _timeseries(
                "Open connections by instance",
                "Open WebSockets per scraped instance: uneven lines mean the load "
                "balancer spreads sockets unevenly.",
                "short",
                [
                    _query(
                        "A",
                        f"sum by (instance) (vidai:websocket_connections:sum{{{_TYPED}}})",
                        "{{instance}}",
                    )
                ],
            )
        )
        .with_row(Row("Scrape health"))
        .with_panel(
            statetimeline.Panel()
            .title("Scrape target up")
            .description(
                "Whether Prometheus could scrape each selected instance (the `up` "
                "series). DOWN (red) means no fresh numbers from that instance: "
                "check the target, the /metrics token and allowed networks."
            )
            .datasource(_datasource())
            .with_target(_query("A", f"up{{{_TARGET}}}", "{{instance}}"))
            .unit("short")
            .min(0)
            .max(1)
            .thresholds(_thresholds("red", (1, "green")))
            .color_scheme(_by_thresholds())
            .mappings([_UP_MAPPING])
            .show_value(common.VisibilityMode.NEVER)
            # Grafana's defaults, spelled out: the SDK's decoder would add them.
            .line_width(0)
            .fill_opacity(70)
            .legend(VizLegendOptions().show_legend(False))
            .span(12)
            .height(8)
        )
        .with_panel(
            _timeseries(
                "Scrape duration",
                "How long each scrape of /metrics took. Compare with the scrape "
                "timeout; the exporter's work is bounded by the number of series, "
                "not of sockets.",
                "s",
                [_query("A", f"scrape_duration_seconds{{{_TARGET}}}", "{{instance}}")],
            )
        )
        .with_panel(
            _timeseries(
                "Worker refresh age",
                "Multiprocess mode: how old each worker's refresh stamp was when it was "
                "scraped. Workers refresh every second; the WorkerStale alert fires "
                f"above {config.worker_stale_seconds} s. Empty in one-process mode.",
                "s",
                [
                    _query(
                        "A",
                        f"max by (instance, pid) (timestamp({WORKER_REFRESH}{{{_TARGET}}})"
                        f" - {WORKER_REFRESH}{{{_TARGET}}})",
                        "{{instance}} pid {{pid}}",
                    )
                ],
            )
            .thresholds(_thresholds("green", (config.worker_stale_seconds, "red")))
            .thresholds_style(
                GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
            )
        )
        .with_panel(
            _timeseries(
                "Workers",
                "Multiprocess mode: live workers per instance, each with its own refresh "
                "stamp. A drop is a worker gone; gunicorn replaces it. Empty in "
                "one-process mode.",
                "short",
                [
                    _query(
                        "A",
                        f"count by (instance) ({WORKER_REFRESH}{{{_TARGET}}})",
                        "{{instance}}",
                    )
                ],
            ).decimals(0)
        )
        .build()
    )
    for number, panel in enumerate(_all_panels(board), start=1):
        panel.id_val = number
    return board


def render(config: Config) -> str:
    """Return the dashboard as JSON text: sorted keys, 2-space indent, final newline."""
    return json.dumps(build(config), cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


def panel_queries(config: Config) -> list[tuple[str, str]]:
    """List (panel title, PromQL expression) for every target, in dashboard order.

    Expressions keep their template variables. To run one against Prometheus,
    substitute ``$cluster``, ``$namespace``, ``$job``, ``$instance`` and ``$type``
    with regexes (``.*`` is "All"), and ``$__rate_interval`` and ``$__range``
    with durations (``1m``).
    """
    return [
        (panel.title or "", target.expr)
        for panel in _all_panels(build(config))
        if isinstance(panel, model.Panel)
        for target in panel.targets or []
        if isinstance(target, prometheus.Dataquery)
    ]


_HANDSHAKES: Final = (
    f"sum(increase({OPENED}_total{{{_TYPED}}}[$__range]))"
    f" + sum(increase({REJECTED}_total{{{_TYPED}}}[$__range]))"
)
_HANDSHAKE_ERRORS: Final = f'sum(increase({REJECTED}_total{{{_TYPED}, reason="error"}}[$__range]))'
_CLOSES: Final = f"sum(increase({CLOSED}_total{{{_TYPED}}}[$__range]))"
_CLOSE_ERRORS: Final = (
    f'sum(increase({CLOSED}_total{{{_TYPED}, reason="internal_error"}}[$__range]))'
)


def _success_ratio(errors: str, total: str) -> str:
    return f"1 - (\n  {errors}\n/\n  ({total})\n)"


def _handshake_quantile(quantile: float, window: str) -> str:
    return (
        f"histogram_quantile({quantile}, sum by (le) "
        f"(rate({HANDSHAKE}_bucket{{{_TYPED}}}[{window}])))"
    )


def _datasource() -> model.DataSourceRef:
    # The variable, never a uid: an imported dashboard uses the importer's Prometheus.
    return model.DataSourceRef(type_val="prometheus", uid="${datasource}")


def _label_variable(name: str, query: str) -> QueryVariable:
    return (
        QueryVariable(name)
        .datasource(_datasource())
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def _query(ref_id: str, expr: str, legend: str | None = None) -> PromQuery:
    query = (
        PromQuery()
        .ref_id(ref_id)
        .datasource(_datasource())
        .expr(expr)
        .editor_mode(prometheus.QueryEditorMode.CODE)
        .range()
    )
    return query if legend is None else query.legend_format(legend)


def _lifetime_quantile(quantile: float) -> str:
    return f"histogram_quantile({quantile}, sum by (le) (rate({DURATION}_bucket{{{_TYPED}}}[1h])))"


def _thresholds(base: str, *steps: tuple[float, str]) -> ThresholdsConfig:
    # Always explicit: Grafana's implicit default turns values >= 80 red.
    return (
        ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [
                model.Threshold(value=None, color=base),
                *(model.Threshold(value=value, color=color) for value, color in steps),
            ]
        )
    )


def _by_thresholds() -> FieldColor:
    return FieldColor().mode(model.FieldColorModeId.THRESHOLDS)


def _stat(
    title: str,
    description: str,
    unit: str,
    target: PromQuery,
    thresholds: ThresholdsConfig,
    *,
    color_mode: common.BigValueColorMode = common.BigValueColorMode.VALUE,
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource())
        .with_target(target)
        .unit(unit)
        .thresholds(thresholds)
        .color_mode(color_mode)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .span(6)
        .height(5)
    )


def _timeseries(
    title: str,
    description: str,
    unit: str,
    targets: list[PromQuery],
    *,
    span: int = 12,
    stacked: bool = False,
) -> timeseries.Panel:
    stacking = common.StackingMode.NORMAL if stacked else common.StackingMode.NONE
    panel = timeseries.Panel().title(title).description(description).datasource(_datasource())
    for target in targets:
        panel = panel.with_target(target)
    return (
        panel.unit(unit)
        .axis_soft_min(0)
        .thresholds(_thresholds("green"))
        .fill_opacity(30 if stacked else 10)
        .stacking(StackingConfig().mode(stacking))
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .span(span)
        .height(8)
    )


def _instances_table() -> table.Panel:
    columns = {"Value #A": "Open", "Value #B": "Opened/s", "Value #C": "Oldest", "Value #D": "Up"}
    targets = [
        ("A", f"sum by (instance) (vidai:websocket_connections:sum{{{_TYPED}}})"),
        ("B", f"sum by (instance) (vidai:websocket_connections_opened:rate5m{{{_TYPED}}})"),
        ("C", f"max by (instance) (vidai:websocket_oldest_connection_age_seconds{{{_TYPED}}})"),
        ("D", f"max by (instance) (up{{{_TARGET}}})"),
    ]
    panel = (
        table.Panel()
        .title("Per-instance breakdown")
        .description(
            "One row per scraped instance, now: open WebSockets, accepted handshakes "
            "per second (5-minute rate), age of the oldest open socket, and whether "
            "the last scrape worked."
        )
        .datasource(_datasource())
        .targets(
            [
                _query(ref_id, expr).instant().format(prometheus.PromQueryFormat.TABLE)
                for ref_id, expr in targets
            ]
        )
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {"Time": True}, "renameByName": columns},
            )
        )
        .unit("short")
        .thresholds(_thresholds("green"))
        # Grafana's defaults, spelled out: the SDK's decoder would add them.
        .align(common.FieldTextAlignment.AUTO)
        .inspect(False)
        .override_by_name("Opened/s", [model.DynamicConfigValue(id_val="unit", value="ops")])
        .override_by_name("Oldest", [model.DynamicConfigValue(id_val="unit", value="s")])
        .override_by_name(
            "Up",
            [
                model.DynamicConfigValue(id_val="mappings", value=[_UP_MAPPING]),
                model.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                ),
                model.DynamicConfigValue(id_val="color", value=_by_thresholds().build()),
                model.DynamicConfigValue(
                    id_val="thresholds", value=_thresholds("red", (1, "green")).build()
                ),
            ],
        )
        .span(12)
        .height(8)
    )
    return panel


def _all_panels(board: model.Dashboard) -> Iterator[model.Panel | model.RowPanel]:
    for panel in board.panels or []:
        yield panel
        if isinstance(panel, model.RowPanel):
            yield from panel.panels
