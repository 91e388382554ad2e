"use client";

import { type ReactElement, useId, useState } from "react";

import {
  oldestAgeSeconds,
  type SocketStatus,
  type SocketStatusPoller,
  TREND_POINTS,
  type TrendPoint,
} from "./SocketStatusService.js";
import { useSocketStatus } from "./useSocketStatus.js";

/** The five looks of the indicator: a `StatusState`, with `ok` split into `ok` and `zero`. */
export type IndicatorKind = "loading" | "ok" | "zero" | "inactive" | "unreachable";

/** Props of `SocketStatusIndicator`; all optional, and all but `service` serializable. */
export interface SocketStatusIndicatorProps {
  /** A one-line badge ("● 3 sockets") instead of the panel with details. */
  compact?: boolean;
  /** Polling interval in ms, clamped to 5-60 s (default: 30 s, or what others asked). */
  intervalMs?: number;
  /** The poller to read (default: the shared `SocketStatusService`). */
  service?: SocketStatusPoller;
  /** Full mode: show the details open at first. */
  defaultExpanded?: boolean;
  /** What the sockets are called in the text (default "WebSockets"). */
  label?: string;
  /** Extra classes on the root element. */
  className?: string;
}

interface Look {
  symbol: string;
  compact: (count: number | null) => string;
  full: (count: number | null) => string;
}

/** Which of the five looks a snapshot gets: `zero` is not `unreachable`. */
export function indicatorKind(status: Pick<SocketStatus, "state" | "totalSockets">): IndicatorKind {
  if (status.state === "ok") return status.totalSockets === 0 ? "zero" : "ok";
  return status.state;
}

// A symbol and words for each kind, so colour is never the only signal.
const LOOKS: Record<IndicatorKind, Look> = {
  loading: { symbol: "…", compact: () => "Checking", full: () => "Checking…" },
  ok: {
    symbol: "●",
    compact: (n) => `${n} ${n === 1 ? "socket" : "sockets"}`,
    full: (n) => `${n} open ${n === 1 ? "socket" : "sockets"}`,
  },
  zero: { symbol: "○", compact: () => "0 sockets", full: () => "No open sockets" },
  inactive: { symbol: "!", compact: () => "Unavailable", full: () => "WebSockets unavailable" },
  unreachable: { symbol: "✕", compact: () => "Unreachable", full: () => "Server unreachable" },
};

/** "42 s", "12 min 5 s", "3 h 20 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null) return "–";
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const TREND_WIDTH = 120;
const TREND_HEIGHT = 28;
const TREND_PAD = 3; // room for the stroke and the end dot

/**
 * SVG path data for a trend in a `width` x `height` box: one line per run of
 * known totals (a failed poll breaks the line), scaled from 0 to the highest
 * total, the newest poll at the right edge and `slots` polls across. Each run
 * starts with a zero-length segment, so a lone point still shows as a dot.
 */
export function trendPath(
  trend: readonly TrendPoint[],
  width: number,
  height: number,
  slots: number = TREND_POINTS,
): string {
  const max = Math.max(1, ...trend.map((point) => point.total ?? 0));
  const step = (width - 2 * TREND_PAD) / Math.max(1, slots - 1);
  const first = Math.max(0, slots - trend.length);
  const round = (value: number) => Math.round(value * 10) / 10;
  let path = "";
  let drawing = false;
  trend.slice(-slots).forEach((point, i) => {
    if (point.total === null) {
      drawing = false;
      return;
    }
    const x = round(TREND_PAD + (first + i) * step);
    const y = round(TREND_PAD + (1 - point.total / max) * (height - 2 * TREND_PAD));
    path += drawing ? `L${x} ${y}` : `M${x} ${y}h0`;
    drawing = true;
  });
  return path;
}

/** The total over the last polls, drawn small: is it rising or draining? */
function Trend({ trend }: { trend: readonly TrendPoint[] }): ReactElement | null {
  const known = trend.flatMap((point) => (point.total === null ? [] : [point.total]));
  if (known.length === 0) return null;
  const polls = `${trend.length} ${trend.length === 1 ? "poll" : "polls"}`;
  const label =
    `Open sockets over the last ${polls}: from ${known[0]} to ${known[known.length - 1]}` +
    `, at most ${Math.max(...known)}` +
    (known.length < trend.length ? `; ${trend.length - known.length} without an answer` : "");
  return (
    <svg
      className="vidai-ssi__trend"
      role="img"
      width={TREND_WIDTH}
      height={TREND_HEIGHT}
      viewBox={`0 0 ${TREND_WIDTH} ${TREND_HEIGHT}`}
      data-totals={trend.map((point) => point.total ?? "").join(",")}
    >
      <title>{label}</title>
      {/* The zero line across all TREND_POINTS slots: how far back the trend can reach. */}
      <line
        className="vidai-ssi__trend-base"
        x1={TREND_PAD}
        x2={TREND_WIDTH - TREND_PAD}
        y1={TREND_HEIGHT - TREND_PAD}
        y2={TREND_HEIGHT - TREND_PAD}
      />
      <path d={trendPath(trend, TREND_WIDTH, TREND_HEIGHT)} />
    </svg>
  );
}

function formatClock(ms: number | null): string {
  return ms == null ? "never" : new Date(ms).toLocaleTimeString();
}

function Details({
  id,
  status,
  hidden,
}: {
  id: string;
  status: SocketStatus;
  hidden: boolean;
}): ReactElement {
  const now = Date.now();
  const types = Object.keys(status.socketsByType);
  const known = status.totalSockets !== null;
  return (
    <div className="vidai-ssi__details" id={id} hidden={hidden}>
      {known ? (
        <table className="vidai-ssi__table">
          <caption>Open sockets by type</caption>
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Open</th>
              <th scope="col">Oldest</th>
            </tr>
          </thead>
          <tbody>
            {types.map((type) => (
              <tr key={type} data-type={type}>
                <th scope="row">{type}</th>
                <td>{status.socketsByType[type]}</td>
                <td>{formatDuration(oldestAgeSeconds(status, type, now))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="vidai-ssi__unknown">Counts unknown: no answer from the server.</p>
      )}
      <dl className="vidai-ssi__facts">
        <div>
          <dt>Oldest connection</dt>
          <dd>{formatDuration(oldestAgeSeconds(status, undefined, now))}</dd>
        </div>
        <div>
          <dt>Last update</dt>
          <dd>
            {formatClock(status.lastUpdated)}
            {status.stale ? " (stale)" : ""}
          </dd>
        </div>
        <div>
          <dt>Polling every</dt>
          <dd>{Math.round(status.intervalMs / 1000)} s</dd>
        </div>
        {status.error ? (
          <div className="vidai-ssi__error">
            <dt>Error</dt>
            <dd>{status.error}</dd>
          </div>
        ) : null}
      </dl>
    </div>
  );
}

/**
 * A status badge for Vidai's WebSockets, fed by the shared poller.
 *
 *   import { SocketStatusIndicator } from "@vidai/socket-status";
 *   import "@vidai/socket-status/SocketStatusIndicator.css";
 *
 *   <SocketStatusIndicator compact={true} />
 *   <SocketStatusIndicator intervalMs={10000} defaultExpanded />
 *
 * Only the short summary is a live region (`role="status"`), so screen
 * readers hear a change of count or state, not every poll.
 */
export function SocketStatusIndicator({
  compact = false,
  intervalMs,
  service,
  defaultExpanded = false,
  label = "WebSockets",
  className = "",
}: SocketStatusIndicatorProps): ReactElement {
  const status = useSocketStatus(intervalMs, service ? { service } : undefined);
  const [expanded, setExpanded] = useState(defaultExpanded);
  const detailsId = useId();
  const kind = indicatorKind(status);
  const look = LOOKS[kind];
  const rootClass = [
    "vidai-ssi",
    compact ? "vidai-ssi--compact" : "vidai-ssi--full",
    `vidai-ssi--${kind}`,
    status.stale ? "vidai-ssi--stale" : "",
    className,
  ]
    .filter(Boolean)
    .join(" ");
  const staleText = status.stale ? " (stale)" : "";

  if (compact) {
    return (
      <span
        className={rootClass}
        data-state={kind}
        data-stale={status.stale}
        title={status.error ? `${label}: ${status.error}` : undefined}
      >
        <span role="status" aria-live="polite" className="vidai-ssi__summary">
          <span className="vidai-ssi__symbol" aria-hidden="true">
            {look.symbol}
          </span>
          <span className="vidai-ssi__sr">{label}: </span>
          <span className="vidai-ssi__text">
            {look.compact(status.totalSockets)}
            {staleText}
          </span>
        </span>
      </span>
    );
  }

  return (
    <section className={rootClass} data-state={kind} data-stale={status.stale} aria-label={label}>
      <div className="vidai-ssi__header">
        <span role="status" aria-live="polite" className="vidai-ssi__summary">
          <span className="vidai-ssi__symbol" aria-hidden="true">
            {look.symbol}
          </span>
          <span className="vidai-ssi__label">{label}: </span>
          <span className="vidai-ssi__text">
            {look.full(status.totalSockets)}
            {staleText}
          </span>
        </span>
        <Trend trend={status.trend} />
        <button
          type="button"
          className="vidai-ssi__toggle"
          aria-expanded={expanded}
          aria-controls={detailsId}
          onClick={() => setExpanded((open) => !open)}
        >
          {expanded ? "Hide details" : "Details"}
        </button>
      </div>
      <Details id={detailsId} status={status} hidden={!expanded} />
    </section>
  );
}

export default SocketStatusIndicator;
