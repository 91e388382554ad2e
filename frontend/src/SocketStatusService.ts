/**
 * One shared poller of Vidai's status JSON (`GET /consultation/socket-status/`).
 *
 *   import { SocketStatusService } from "@vidai/socket-status";
 *
 *   SocketStatusService.initialize(10000);
 *   const unsub = SocketStatusService.subscribe((status) => {
 *     console.log(status.state, status.totalSockets);
 *   });
 *   // later
 *   unsub();
 *   SocketStatusService.stopPolling();
 *
 * However many subscribers, hooks and indicators a page has, one request is
 * in flight at most and one is made per interval. Requests are chained with
 * setTimeout (never setInterval), so they never overlap; none is made while
 * the tab is hidden; errors back off with jitter; each request is aborted
 * after a timeout; `If-None-Match` turns unchanged answers into 304s.
 */

// ---- the status document (the server's side of the contract) -------------

/** Where the numbers come from: this process, this host's workers, or the fleet. */
export type StatusSource = "process" | "multiprocess" | "prometheus";

/**
 * The status JSON the server answers with (`GET /consultation/socket-status/`,
 * built by `metrics/status.py`): the seed's keys plus the two additions.
 */
export interface StatusDocument {
  /** Whether this deployment can serve WebSockets now. */
  active: boolean;
  /** Open sockets of every type. */
  total_sockets: number;
  /** Open sockets per type; every known type is present, 0 when none is open. */
  sockets_by_type: Record<string, number>;
  /** When the document was made, ISO 8601 with a UTC offset. */
  timestamp: string;
  /** Each type's path template, e.g. `{ call: "/ws/call/<room>/" }`. */
  ws_endpoints: Record<string, string>;
  /** Age in seconds of each type's oldest open socket; `null` when none is open. */
  oldest_connection_age_seconds: Record<string, number | null>;
  /** Where the numbers come from. */
  source: StatusSource;
}

// ---- the snapshot the service, the hook and the indicator hand out ---------

/**
 * `loading`: no answer yet. `ok`: the server answered and can serve WebSockets.
 * `inactive`: the server answered `active: false`. `unreachable`: no usable
 * answer (network error, timeout, HTTP error, malformed body): counts unknown.
 */
export type StatusState = "loading" | "ok" | "inactive" | "unreachable";

/** The total open sockets one poll found: `null` when it got no usable answer. */
export interface TrendPoint {
  /** When the answer (or the failure) came, ms since the epoch (the service's clock). */
  readonly at: number;
  readonly total: number | null;
}

/** One frozen snapshot of what the service knows; a change makes a new one. */
export interface SocketStatus {
  readonly state: StatusState;
  /** `true` only when the last answer came and said the server can serve WebSockets. */
  readonly active: boolean;
  /** Total open sockets; `null` when unknown (loading or unreachable), never a fake 0. */
  readonly totalSockets: number | null;
  readonly socketsByType: Readonly<Record<string, number>>;
  /** The server's ages, as of `receivedAt`; `oldestAgeSeconds()` ages them to now. */
  readonly oldestConnectionAgeSeconds: Readonly<Record<string, number | null>>;
  readonly wsEndpoints: Readonly<Record<string, string>>;
  readonly source: StatusSource | null;
  /** The document's `timestamp`. */
  readonly serverTimestamp: string | null;
  /** When the last full document arrived (ms since the epoch, the service's clock). */
  readonly receivedAt: number | null;
  /** When the server last answered, 304s included. */
  readonly lastUpdated: number | null;
  /** No answer for `STALE_AFTER_INTERVALS` intervals (e.g. while the tab is hidden). */
  readonly stale: boolean;
  /** Why the last request failed, in words; `null` after a good answer. */
  readonly error: string | null;
  readonly consecutiveErrors: number;
  /** The polling interval in force. */
  readonly intervalMs: number;
  /** The totals of the last `TREND_POINTS` polls, oldest first (200s, 304s and failures). */
  readonly trend: readonly TrendPoint[];
}

export type StatusListener = (status: SocketStatus) => void;
export type Unsubscribe = () => void;

/** The part of `fetch` the service uses. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** The part of `document` the service uses to pause while the tab is hidden. */
export type VisibilitySource = Pick<
  Document,
  "visibilityState" | "addEventListener" | "removeEventListener"
>;

/** Options of `createSocketStatusService()`; every one has a default. */
export interface SocketStatusServiceOptions {
  /** The status JSON's URL (default `STATUS_URL`). */
  url?: string;
  /** Default: the global `fetch`, looked up per request. */
  fetch?: FetchLike;
  /** Abort a request after this long (default: the interval, at most 10 s). */
  timeoutMs?: number | null;
  /** For the retry jitter (default `Math.random`). */
  random?: () => number;
  /** A clock in ms (default `Date.now`). */
  now?: () => number;
  /** For visibility (default: the global `document`); `null`: never paused. */
  document?: VisibilitySource | null;
}

export const STATUS_URL = "/consultation/socket-status/";
export const MIN_INTERVAL_MS = 5_000;
export const MAX_INTERVAL_MS = 60_000;
export const DEFAULT_INTERVAL_MS = 30_000;
/** Data older than this many intervals is marked `stale`. */
export const STALE_AFTER_INTERVALS = 3;
/** How many polls `SocketStatus.trend` remembers. */
export const TREND_POINTS = 30;
/** Retries after errors wait at most this many intervals (and never over a minute). */
export const MAX_BACKOFF_INTERVALS = 4;
const MAX_BACKOFF_MS = 60_000;
const MAX_TIMEOUT_MS = 10_000;

/** Every `StatusState`, in the order a page usually meets them. */
export const STATES: readonly StatusState[] = Object.freeze([
  "loading",
  "ok",
  "inactive",
  "unreachable",
] as const);

/** Clamp a polling interval to 5-60 s; anything not a number gives the default. */
export function clampInterval(intervalMs?: number | string | null): number {
  const value = Number(intervalMs);
  if (intervalMs == null || !Number.isFinite(value)) return DEFAULT_INTERVAL_MS;
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.round(value)));
}

const INITIAL: SocketStatus = Object.freeze({
  state: "loading",
  active: false,
  totalSockets: null,
  socketsByType: Object.freeze({}),
  oldestConnectionAgeSeconds: Object.freeze({}),
  wsEndpoints: Object.freeze({}),
  source: null,
  serverTimestamp: null,
  receivedAt: null,
  lastUpdated: null,
  stale: false,
  error: null,
  consecutiveErrors: 0,
  intervalMs: DEFAULT_INTERVAL_MS,
  trend: Object.freeze([]),
});

const UNKNOWN_COUNTS: Partial<SocketStatus> = {
  totalSockets: null,
  socketsByType: INITIAL.socketsByType,
  oldestConnectionAgeSeconds: INITIAL.oldestConnectionAgeSeconds,
};

class StatusError extends Error {}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

type DocumentFields = Pick<
  SocketStatus,
  | "active"
  | "totalSockets"
  | "socketsByType"
  | "oldestConnectionAgeSeconds"
  | "wsEndpoints"
  | "source"
  | "serverTimestamp"
>;

/** Check the JSON against the contract; return the fields the snapshot keeps. */
function parseDocument(json: unknown): DocumentFields {
  // Only `active` and `sockets_by_type` are required; the rest is checked as read.
  const body = json as Partial<Record<keyof StatusDocument, unknown>> | null;
  if (body === null || typeof body !== "object" || typeof body.active !== "boolean") {
    throw new StatusError("unexpected status document");
  }
  const byType = body.sockets_by_type as Record<string, unknown> | null | undefined;
  if (byType === null || typeof byType !== "object" || !Object.values(byType).every(isCount)) {
    throw new StatusError("unexpected sockets_by_type in status document");
  }
  const counts = byType as Record<string, number>;
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  const ages = body.oldest_connection_age_seconds;
  const endpoints = body.ws_endpoints;
  return {
    active: body.active,
    totalSockets: isCount(body.total_sockets) ? body.total_sockets : total,
    socketsByType: Object.freeze({ ...counts }),
    oldestConnectionAgeSeconds: Object.freeze(ages && typeof ages === "object" ? { ...ages } : {}),
    wsEndpoints: Object.freeze(endpoints && typeof endpoints === "object" ? { ...endpoints } : {}),
    source: typeof body.source === "string" ? (body.source as StatusSource) : null,
    serverTimestamp: typeof body.timestamp === "string" ? body.timestamp : null,
  };
}

function describeError(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  if (error instanceof StatusError) return error.message;
  if (error instanceof SyntaxError) return "status document is not JSON";
  return "network error";
}

/**
 * Age in seconds, now, of the oldest open socket of `type` (or of any type
 * when `type` is omitted); `null` when none is open or the counts are unknown.
 * The server's ages are aged locally by the time since the document arrived,
 * so a 304 needs no new body and clock skew does not matter.
 */
export function oldestAgeSeconds(
  status: Pick<SocketStatus, "oldestConnectionAgeSeconds" | "receivedAt">,
  type?: string,
  now: number = Date.now(),
): number | null {
  const ages = status.oldestConnectionAgeSeconds;
  const values = (type === undefined ? Object.values(ages) : [ages[type]]).filter(
    (age): age is number => typeof age === "number",
  );
  if (values.length === 0 || status.receivedAt == null) return null;
  return Math.max(...values) + Math.max(0, now - status.receivedAt) / 1000;
}

/** A one-line summary of a status snapshot, for titles, logs and screen readers. */
export function formatStatus(
  status: Pick<SocketStatus, "state" | "stale" | "error" | "totalSockets" | "socketsByType">,
): string {
  const staleNote = status.stale ? " (stale)" : "";
  switch (status.state) {
    case "loading":
      return "Checking WebSocket status…";
    case "unreachable":
      return `Status server unreachable${status.error ? `: ${status.error}` : ""}`;
    case "inactive":
      return `WebSockets unavailable: the server cannot serve them now${staleNote}`;
    default: {
      const total = status.totalSockets;
      if (total === 0) return `No open WebSockets${staleNote}`;
      const parts = Object.entries(status.socketsByType)
        .filter(([, count]) => count > 0)
        .map(([type, count]) => `${type} ${count}`);
      const noun = total === 1 ? "WebSocket" : "WebSockets";
      return `${total} open ${noun} (${parts.join(", ")})${staleNote}`;
    }
  }
}

/**
 * A poller of the status JSON. Use the shared `SocketStatusService`; make
 * your own with `createSocketStatusService()` for another URL or in tests.
 *
 * Options: `url`, `fetch` (default: the global fetch, looked up per request),
 * `timeoutMs` (default: the interval, at most 10 s), `random` (for jitter),
 * `now` (a clock in ms), `document` (for visibility; default: the global one).
 */
export class SocketStatusPoller {
  private readonly _url: string;
  private readonly _fetch: FetchLike;
  private readonly _timeoutMs: number | null;
  private readonly _random: () => number;
  private readonly _now: () => number;
  private readonly _document: VisibilitySource | null | undefined;
  private _status: SocketStatus;
  private readonly _listeners: Set<{ callback: StatusListener }>;
  private _explicitInterval: number | null;
  private readonly _holds: Map<object, number | null>;
  private _timer: ReturnType<typeof setTimeout> | null;
  private _staleTimer: ReturnType<typeof setTimeout> | null;
  private _inflight: Promise<void> | null;
  private _controller: AbortController | null;
  private _generation: number;
  private _etag: string | null;
  private _lastAttemptAt: number | null;
  private _eventsAttached: boolean;

  constructor(options: SocketStatusServiceOptions = {}) {
    this._url = options.url ?? STATUS_URL;
    this._fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    this._timeoutMs = options.timeoutMs ?? null;
    this._random = options.random ?? Math.random;
    this._now = options.now ?? Date.now;
    this._document = options.document;

    this._status = INITIAL;
    this._listeners = new Set();
    this._explicitInterval = null; // set by initialize()
    this._holds = new Map(); // token -> requested interval or null, from retain()
    this._timer = null;
    this._staleTimer = null;
    this._inflight = null;
    this._controller = null;
    this._generation = 0;
    this._etag = null;
    this._lastAttemptAt = null;
    this._eventsAttached = false;

    // Bound, so they can be handed to useSyncExternalStore or used as callbacks.
    this.subscribe = this.subscribe.bind(this);
    this.getStatus = this.getStatus.bind(this);
    this._tick = this._tick.bind(this);
    this._onVisibilityChange = this._onVisibilityChange.bind(this);
    this._onOnline = this._onOnline.bind(this);
  }

  // ---- the seed's API ----------------------------------------------------

  /** Start polling every `intervalMs` (clamped to 5-60 s); the first request goes now. */
  initialize(intervalMs: number = DEFAULT_INTERVAL_MS): void {
    this._explicitInterval = clampInterval(intervalMs);
    this._start();
  }

  /** Stop polling now: cancel timers, abort a request in flight. */
  stopPolling(): void {
    this._explicitInterval = null;
    this._holds.clear();
    this._stop();
  }

  /** The current snapshot: a frozen object, replaced (never mutated) on each change. */
  getStatus(): SocketStatus {
    return this._status;
  }

  /** True when the last answer came and said the server can serve WebSockets. */
  isSocketActive(): boolean {
    return this._status.active;
  }

  /** Count of one type (0 for a type with none), or a copy of all counts; `null` when unknown. */
  getSocketCountByType(): Record<string, number> | null;
  getSocketCountByType(type: string): number | null;
  getSocketCountByType(type?: string): Record<string, number> | number | null {
    const { socketsByType, totalSockets } = this._status;
    if (totalSockets === null) return null;
    if (type === undefined) return { ...socketsByType };
    return socketsByType[type] ?? 0;
  }

  /** Total open sockets, or `null` when unknown (loading or unreachable), never a fake 0. */
  getTotalSocketCount(): number | null {
    return this._status.totalSockets;
  }

  /** Call `callback(status)` on every change; returns the function that unsubscribes. */
  subscribe(callback: StatusListener): Unsubscribe {
    const entry = { callback };
    this._listeners.add(entry);
    return () => {
      this._listeners.delete(entry);
    };
  }

  /** Ask the server now (sharing a request already in flight); resolves to `isSocketActive()`. */
  async testConnection(): Promise<boolean> {
    await this._poll();
    if (this._isRunning() && !this._isHidden()) this._schedule(this._nextDelay());
    return this._status.active;
  }

  /** The current status as one line of text (see `formatStatus`). */
  getFormattedStatus(): string {
    return formatStatus(this._status);
  }

  // ---- sharing between hooks --------------------------------------------

  /**
   * Keep polling while the returned release function has not been called.
   * The poller runs at the shortest interval anyone asked for (`null`: no
   * preference). `useSocketStatus` calls this on mount and releases on unmount.
   */
  retain(intervalMs: number | null = null): () => void {
    const token = {};
    this._holds.set(token, intervalMs == null ? null : clampInterval(intervalMs));
    this._start();
    return () => {
      if (!this._holds.delete(token)) return;
      if (this._isRunning()) this._start();
      else this._stop();
    };
  }

  /** The interval in force: the shortest asked for, or the default. */
  get intervalMs(): number {
    const asked = [this._explicitInterval, ...this._holds.values()].filter(
      (ms): ms is number => ms != null,
    );
    return asked.length ? Math.min(...asked) : DEFAULT_INTERVAL_MS;
  }

  // ---- internals ----------------------------------------------------------

  private _doc(): VisibilitySource | null | undefined {
    return this._document !== undefined ? this._document : globalThis.document;
  }

  private _isHidden(): boolean {
    return this._doc()?.visibilityState === "hidden";
  }

  private _isRunning(): boolean {
    return this._explicitInterval !== null || this._holds.size > 0;
  }

  private _set(changes: Partial<SocketStatus>): void {
    const next = Object.freeze({ ...this._status, ...changes });
    this._status = next;
    for (const { callback } of [...this._listeners]) {
      try {
        callback(next);
      } catch (error) {
        // A broken subscriber must not stop the others or the poller.
        console.error("SocketStatusService subscriber failed", error);
      }
    }
  }

  private _start(): void {
    this._attachEvents();
    if (this._status.intervalMs !== this.intervalMs) this._set({ intervalMs: this.intervalMs });
    if (this._inflight || this._isHidden()) return;
    const last = this._lastAttemptAt;
    const due = last === null ? 0 : last + this._nextDelay() - this._now();
    if (due <= 0) {
      this._clearTimer();
      this._tick();
    } else {
      this._schedule(due);
    }
  }

  private _stop(): void {
    this._generation += 1; // answers to requests made before now are ignored
    this._controller?.abort();
    this._controller = null;
    this._inflight = null;
    this._clearTimer();
    clearTimeout(this._staleTimer ?? undefined);
    this._staleTimer = null;
    this._detachEvents();
  }

  private _attachEvents(): void {
    const doc = this._doc();
    if (this._eventsAttached || !doc?.addEventListener) return;
    doc.addEventListener("visibilitychange", this._onVisibilityChange);
    globalThis.addEventListener?.("online", this._onOnline);
    this._eventsAttached = true;
  }

  private _detachEvents(): void {
    if (!this._eventsAttached) return;
    this._doc()?.removeEventListener("visibilitychange", this._onVisibilityChange);
    globalThis.removeEventListener?.("online", this._onOnline);
    this._eventsAttached = false;
  }

  private _onVisibilityChange(): void {
    if (!this._isRunning()) return;
    if (this._isHidden()) this._clearTimer();
    else this._start();
  }

  private _onOnline(): void {
    if (this._isRunning() && this._status.consecutiveErrors > 0 && !this._isHidden()) {
      this._clearTimer();
      this._tick();
    }
  }

  private _clearTimer(): void {
    clearTimeout(this._timer ?? undefined);
    this._timer = null;
  }

  private _schedule(delayMs: number): void {
    this._clearTimer();
    this._timer = setTimeout(this._tick, Math.max(0, delayMs));
  }

  /** Delay before the next request: the interval, or a jittered backoff after errors. */
  private _nextDelay(): number {
    const interval = this.intervalMs;
    const errors = this._status.consecutiveErrors;
    if (errors === 0) return interval;
    const cap = Math.max(interval, Math.min(MAX_BACKOFF_MS, interval * MAX_BACKOFF_INTERVALS));
    const backoff = Math.min(cap, interval * 2 ** (errors - 1));
    // "Equal jitter": between half and all of the backoff, so clients spread out.
    return Math.round(backoff / 2 + (this._random() * backoff) / 2);
  }

  private _tick(): void {
    this._timer = null;
    if (!this._isRunning() || this._isHidden()) return;
    const generation = this._generation;
    this._poll().then(() => {
      if (generation === this._generation && this._isRunning() && !this._isHidden()) {
        this._schedule(this._nextDelay());
      }
    });
  }

  /** Make one request, or join the one in flight. Never rejects. */
  private _poll(): Promise<void> {
    if (this._inflight) return this._inflight;
    const generation = this._generation;
    const controller = new AbortController();
    const timeoutMs = this._timeoutMs ?? Math.min(MAX_TIMEOUT_MS, this.intervalMs);
    let timedOut = false;
    const timeout = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    this._controller = controller;
    this._lastAttemptAt = this._now();

    const request = (async () => {
      try {
        const headers: Record<string, string> = { Accept: "application/json" };
        if (this._etag) headers["If-None-Match"] = this._etag;
        // no-store: the browser's cache must not answer for the server or hide 304s.
        const response = await this._fetch(this._url, {
          headers,
          cache: "no-store",
          credentials: "same-origin",
          signal: controller.signal,
        });
        if (response.status === 304 && this._etag) {
          if (generation === this._generation) this._onNotModified();
          return;
        }
        if (!response.ok) throw new StatusError(`HTTP ${response.status}`);
        const fields = parseDocument(await response.json());
        if (generation === this._generation) {
          this._onDocument(fields, response.headers?.get?.("ETag") ?? null);
        }
      } catch (error) {
        if (generation === this._generation) this._onError(error, timedOut, timeoutMs);
      } finally {
        clearTimeout(timeout);
        if (generation === this._generation) {
          this._inflight = null;
          this._controller = null;
        }
      }
    })();
    this._inflight = request;
    return request;
  }

  /** The trend with this poll's total added, the oldest dropped past `TREND_POINTS`. */
  private _trendWith(at: number, total: number | null): readonly TrendPoint[] {
    const point = Object.freeze({ at, total });
    return Object.freeze([...this._status.trend, point].slice(-TREND_POINTS));
  }

  private _onDocument(fields: DocumentFields, etag: string | null): void {
    const now = this._now();
    this._etag = etag;
    this._set({
      ...fields,
      trend: this._trendWith(now, fields.totalSockets),
      state: fields.active ? "ok" : "inactive",
      receivedAt: now,
      lastUpdated: now,
      stale: false,
      error: null,
      consecutiveErrors: 0,
    });
    this._armStaleTimer();
  }

  private _onNotModified(): void {
    const previous = this._status;
    const now = this._now();
    this._set({
      trend: this._trendWith(now, previous.totalSockets),
      state: previous.active ? "ok" : "inactive",
      lastUpdated: now,
      stale: false,
      error: null,
      consecutiveErrors: 0,
    });
    this._armStaleTimer();
  }

  private _onError(error: unknown, timedOut: boolean, timeoutMs: number): void {
    // After an outage the first answer is a full one: forget the validator.
    this._etag = null;
    this._set({
      ...UNKNOWN_COUNTS,
      trend: this._trendWith(this._now(), null),
      state: "unreachable",
      active: false,
      error: describeError(error, timedOut, timeoutMs),
      consecutiveErrors: this._status.consecutiveErrors + 1,
    });
  }

  private _armStaleTimer(): void {
    clearTimeout(this._staleTimer ?? undefined);
    this._staleTimer = null;
    if (!this._isRunning()) return;
    const updated = this._status.lastUpdated;
    this._staleTimer = setTimeout(() => {
      this._staleTimer = null;
      if (this._status.lastUpdated === updated && !this._status.stale) this._set({ stale: true });
    }, STALE_AFTER_INTERVALS * this.intervalMs);
  }
}

/** A new, independent poller (for another endpoint, or a test). */
export function createSocketStatusService(options?: SocketStatusServiceOptions): SocketStatusPoller {
  return new SocketStatusPoller(options);
}

/** The shared poller every hook and indicator uses unless given another. */
export const SocketStatusService: SocketStatusPoller = createSocketStatusService();

export default SocketStatusService;
