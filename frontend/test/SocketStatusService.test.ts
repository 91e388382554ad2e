import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  clampInterval,
  createSocketStatusService,
  DEFAULT_INTERVAL_MS,
  oldestAgeSeconds,
  type SocketStatus,
  type SocketStatusPoller,
  type SocketStatusServiceOptions,
  SocketStatusService,
  TREND_POINTS,
} from "../src/SocketStatusService.js";
import { advance, type FakeServer, fakeServer, setVisibility, statusDoc } from "./helpers.js";

// Set by make(); afterEach stops it (stopping a stopped poller does nothing).
let service!: SocketStatusPoller;

beforeEach(() => {
  vi.useFakeTimers();
  setVisibility("visible");
});

afterEach(() => {
  service?.stopPolling();
  vi.useRealTimers();
  setVisibility("visible");
});

function make(server: FakeServer, options: SocketStatusServiceOptions = {}): SocketStatusPoller {
  service = createSocketStatusService({ fetch: server.fetch, random: () => 1, ...options });
  return service;
}

describe("clampInterval", () => {
  it("clamps to 5-60 s and defaults what is not a number", () => {
    expect(clampInterval(1000)).toBe(5000);
    expect(clampInterval(10000)).toBe(10000);
    expect(clampInterval(600000)).toBe(60000);
    expect(clampInterval(undefined)).toBe(DEFAULT_INTERVAL_MS);
    expect(clampInterval("soon")).toBe(DEFAULT_INTERVAL_MS);
  });
});

describe("polling", () => {
  it("asks at once, then once per interval, with If-None-Match after the first answer", async () => {
    const server = fakeServer(statusDoc({ counts: { call: 2, stt_room: 1 } }));
    make(server).initialize(10000);
    await advance(0);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    expect(server.calls[0].url).toBe("/consultation/socket-status/");
    expect(server.calls[0].init.headers["If-None-Match"]).toBeUndefined();
    expect(server.calls[0].init.cache).toBe("no-store");
    expect(service.getStatus()).toMatchObject({ state: "ok", active: true, totalSockets: 3 });

    await advance(9999);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(server.fetch).toHaveBeenCalledTimes(2);
    expect(server.calls[1].init.headers["If-None-Match"]).toBe('W/"v1"');
    await advance(20000);
    expect(server.fetch).toHaveBeenCalledTimes(4);
  });

  it("clamps the interval: 1 s polls every 5 s", async () => {
    const server = fakeServer();
    make(server).initialize(1000);
    await advance(0);
    await advance(4999);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(server.fetch).toHaveBeenCalledTimes(2);
    expect(service.getStatus().intervalMs).toBe(5000);
  });

  it("keeps the document on 304 and refreshes lastUpdated", async () => {
    const server = fakeServer(statusDoc({ counts: { stt: 4 }, ages: { stt: 30 } }));
    make(server).initialize(5000);
    await advance(0);
    const first = service.getStatus();
    await advance(5000);
    const second = service.getStatus();
    expect(server.calls[1].init.headers["If-None-Match"]).toBe('W/"v1"');
    expect(second).not.toBe(first);
    expect(second.totalSockets).toBe(4);
    expect(second.socketsByType.stt).toBe(4);
    expect(second.lastUpdated! - first.lastUpdated!).toBe(5000);
    // The server's ages are aged locally since the 200 arrived.
    expect(oldestAgeSeconds(second, "stt", Date.now())).toBeCloseTo(35);
    expect(oldestAgeSeconds(second, "call", Date.now())).toBeNull();
  });

  it("keeps the last polls' totals for the trend: 304s repeat, failures are null", async () => {
    const server = fakeServer(statusDoc({ counts: { call: 2 } }));
    make(server).initialize(5000);
    await advance(0);
    await advance(5000); // 304
    server.doc = statusDoc({ counts: { call: 2, stt: 1 } });
    server.etag = 'W/"v2"';
    await advance(5000);
    server.down = true;
    await advance(5000);
    const { trend } = service.getStatus();
    expect(trend.map((point) => point.total)).toEqual([2, 2, 3, null]);
    expect(trend.map((point) => point.at - trend[0].at)).toEqual([0, 5000, 10000, 15000]);
    expect(Object.isFrozen(trend)).toBe(true);

    server.down = false;
    await advance(60000 * TREND_POINTS);
    expect(service.getStatus().trend).toHaveLength(TREND_POINTS);
    expect(service.getStatus().trend.at(-1)!.total).toBe(3);
  });

  it("takes a new document when the ETag changes", async () => {
    const server = fakeServer(statusDoc());
    make(server).initialize(5000);
    await advance(0);
    expect(service.getTotalSocketCount()).toBe(0);
    server.doc = statusDoc({ counts: { call: 1 } });
    server.etag = 'W/"v2"';
    await advance(5000);
    expect(service.getTotalSocketCount()).toBe(1);
    expect(service.getSocketCountByType("call")).toBe(1);
  });

  it("never overlaps requests: the next waits for a slow one", async () => {
    const server = fakeServer();
    let release;
    server.fetch.mockImplementationOnce(
      (url, init) =>
        new Promise((resolve, reject) => {
          release = () => resolve(new Response(JSON.stringify(statusDoc()), { status: 200 }));
          init.signal!.addEventListener("abort", () => reject(new DOMException("", "AbortError")));
        }),
    );
    make(server, { timeoutMs: 60000 }).initialize(5000);
    await advance(12000);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    release!();
    await advance(0);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    await advance(5000);
    expect(server.fetch).toHaveBeenCalledTimes(2);
  });

  it("shares one poller: N subscribers and holders make 1 request per interval", async () => {
    const server = fakeServer();
    make(server);
    const seen = [];
    const releases = [];
    for (let i = 0; i < 10; i += 1) {
      service.subscribe((status) => seen.push(status));
      releases.push(service.retain(5000));
    }
    service.initialize(5000);
    await advance(0);
    await advance(15000);
    expect(server.fetch).toHaveBeenCalledTimes(4);
    expect(seen.length).toBeGreaterThan(0);
    for (const release of releases) release();
  });

  it("runs at the shortest interval asked for, and back when that holder leaves", async () => {
    const server = fakeServer();
    make(server);
    const releaseSlow = service.retain(30000);
    await advance(0);
    const releaseFast = service.retain(5000);
    expect(service.getStatus().intervalMs).toBe(5000);
    await advance(5000);
    expect(server.fetch).toHaveBeenCalledTimes(2);
    releaseFast();
    expect(service.getStatus().intervalMs).toBe(30000);
    await advance(29999);
    expect(server.fetch).toHaveBeenCalledTimes(2);
    await advance(1);
    expect(server.fetch).toHaveBeenCalledTimes(3);
    releaseSlow();
    expect(vi.getTimerCount()).toBe(0);
    await advance(120000);
    expect(server.fetch).toHaveBeenCalledTimes(3);
  });
});

describe("visibility", () => {
  it("makes no request while the tab is hidden and asks at once when it shows again", async () => {
    const server = fakeServer();
    make(server).initialize(5000);
    await advance(0);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    setVisibility("hidden");
    await advance(60000);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    setVisibility("visible");
    await advance(0);
    expect(server.fetch).toHaveBeenCalledTimes(2);
    await advance(5000);
    expect(server.fetch).toHaveBeenCalledTimes(3);
  });

  it("does not start polling in a hidden tab", async () => {
    const server = fakeServer();
    setVisibility("hidden");
    make(server).initialize(5000);
    await advance(30000);
    expect(server.fetch).not.toHaveBeenCalled();
    expect(service.getStatus().state).toBe("loading");
  });

  it("marks data stale after three intervals without an answer, and fresh again after one", async () => {
    const server = fakeServer(statusDoc({ counts: { call: 1 } }));
    make(server).initialize(5000);
    await advance(0);
    setVisibility("hidden");
    await advance(14999);
    expect(service.getStatus().stale).toBe(false);
    await advance(1);
    expect(service.getStatus()).toMatchObject({ stale: true, state: "ok", active: true });
    expect(service.getFormattedStatus()).toBe("1 open WebSocket (call 1) (stale)");
    setVisibility("visible");
    await advance(0);
    expect(service.getStatus().stale).toBe(false);
  });
});

describe("errors", () => {
  it("reports an unreachable server as its own state, not as 0 sockets", async () => {
    const server = fakeServer(statusDoc());
    make(server).initialize(5000);
    await advance(0);
    expect(service.getStatus()).toMatchObject({ state: "ok", totalSockets: 0, active: true });
    expect(service.getTotalSocketCount()).toBe(0);
    expect(service.getFormattedStatus()).toBe("No open WebSockets");

    server.down = true;
    await advance(5000);
    expect(service.getStatus()).toMatchObject({
      state: "unreachable",
      active: false,
      totalSockets: null,
      error: "network error",
      consecutiveErrors: 1,
    });
    expect(service.isSocketActive()).toBe(false);
    expect(service.getTotalSocketCount()).toBeNull();
    expect(service.getSocketCountByType("call")).toBeNull();
    expect(service.getFormattedStatus()).toBe("Status server unreachable: network error");
  });

  it("backs off with jitter, capped at four intervals, and recovers with a full answer", async () => {
    const server = fakeServer();
    make(server, { random: () => 1 }).initialize(5000);
    await advance(0);
    server.down = true;
    const callTimes: number[] = [];
    server.fetch.mockImplementation(async (url, init) => {
      callTimes.push(Date.now());
      server.calls.push({ url, init: { ...init, headers: init.headers as Record<string, string> } });
      if (server.down) throw new TypeError("Failed to fetch");
      return new Response(JSON.stringify(statusDoc({ counts: { stt: 2 } })), {
        status: 200,
        headers: { ETag: 'W/"v9"' },
      });
    });
    await advance(5000 + 5000 + 10000 + 20000 + 20000);
    const gaps = callTimes.slice(1).map((t, i) => t - callTimes[i]);
    expect(gaps).toEqual([5000, 10000, 20000, 20000]);
    expect(service.getStatus().consecutiveErrors).toBe(5);

    server.down = false;
    await advance(20000);
    expect(service.getStatus()).toMatchObject({ state: "ok", totalSockets: 2, consecutiveErrors: 0 });
    // The validator was forgotten during the outage: a full answer, not a 304.
    expect(server.calls.at(-1)!.init.headers["If-None-Match"]).toBeUndefined();
    await advance(5000);
    expect(server.calls.at(-1)!.init.headers["If-None-Match"]).toBe('W/"v9"');
  });

  it("spreads retries with jitter between half and all of the backoff", async () => {
    const server = fakeServer();
    server.down = true;
    make(server, { random: () => 0 }).initialize(10000);
    await advance(0);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    await advance(4999);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(server.fetch).toHaveBeenCalledTimes(2);
    await advance(10000); // second error: half of 2 intervals
    expect(server.fetch).toHaveBeenCalledTimes(3);
  });

  it("aborts a request after the timeout with AbortController", async () => {
    const server = fakeServer();
    let signal: AbortSignal | null | undefined;
    server.fetch.mockImplementation(
      (url, init) =>
        new Promise((resolve, reject) => {
          signal = init.signal;
          init.signal!.addEventListener("abort", () => reject(new DOMException("", "AbortError")));
        }),
    );
    make(server).initialize(5000);
    await advance(4999);
    expect(service.getStatus().state).toBe("loading");
    expect(signal!.aborted).toBe(false);
    await advance(1);
    expect(signal!.aborted).toBe(true);
    expect(service.getStatus()).toMatchObject({
      state: "unreachable",
      error: "no answer within 5 s",
    });
  });

  it("treats HTTP errors and malformed documents as unreachable", async () => {
    const server = fakeServer();
    server.fetch.mockResolvedValueOnce(new Response("oops", { status: 500 }));
    make(server).initialize(5000);
    await advance(0);
    expect(service.getStatus()).toMatchObject({ state: "unreachable", error: "HTTP 500" });

    server.fetch.mockResolvedValueOnce(new Response(JSON.stringify({ active: true }), { status: 200 }));
    await advance(5000);
    expect(service.getStatus().state).toBe("unreachable");
    expect(service.getStatus().error).toMatch(/sockets_by_type/);

    server.fetch.mockResolvedValueOnce(new Response("<html>", { status: 200 }));
    await advance(20000);
    expect(service.getStatus()).toMatchObject({ error: "status document is not JSON" });
  });

  it("tells 'server cannot serve WebSockets' apart from unreachable", async () => {
    const server = fakeServer(statusDoc({ active: false }));
    make(server).initialize(5000);
    await advance(0);
    expect(service.getStatus()).toMatchObject({ state: "inactive", active: false, totalSockets: 0 });
    expect(service.getFormattedStatus()).toMatch(/^WebSockets unavailable/);
  });
});

describe("the seed's API", () => {
  it("subscribe returns an unsubscribe function", async () => {
    const server = fakeServer();
    make(server);
    const calls: SocketStatus["state"][] = [];
    const unsub = service.subscribe((status) => calls.push(status.state));
    service.initialize(5000);
    await advance(0);
    expect(calls).toContain("ok");
    const count = calls.length;
    unsub();
    server.down = true;
    await advance(5000);
    expect(service.getStatus().state).toBe("unreachable");
    expect(calls.length).toBe(count);
  });

  it("a throwing subscriber does not stop the others", async () => {
    const server = fakeServer();
    make(server);
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const good = vi.fn();
    service.subscribe(() => {
      throw new Error("boom");
    });
    service.subscribe(good);
    service.initialize(5000);
    await advance(0);
    expect(good).toHaveBeenCalled();
    expect(error).toHaveBeenCalled();
  });

  it("counts by type, total and active", async () => {
    const server = fakeServer(statusDoc({ counts: { call: 2, stt_room: 1 } }));
    make(server);
    expect(service.getTotalSocketCount()).toBeNull();
    expect(service.getFormattedStatus()).toBe("Checking WebSocket status…");
    service.initialize(5000);
    await advance(0);
    expect(service.isSocketActive()).toBe(true);
    expect(service.getTotalSocketCount()).toBe(3);
    expect(service.getSocketCountByType("call")).toBe(2);
    expect(service.getSocketCountByType("nope")).toBe(0);
    expect(service.getSocketCountByType()).toMatchObject({ call: 2, stt: 0, stt_room: 1 });
    expect(service.getFormattedStatus()).toBe("3 open WebSockets (call 2, stt_room 1)");
  });

  it("testConnection asks now, shares a request in flight, and resolves to active", async () => {
    const server = fakeServer();
    make(server);
    const [a, b] = await Promise.all([service.testConnection(), service.testConnection()]);
    expect([a, b]).toEqual([true, true]);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    server.down = true;
    await expect(service.testConnection()).resolves.toBe(false);
    // Not polling: testConnection left no timer behind.
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stopPolling aborts the request in flight and leaves no timer", async () => {
    const server = fakeServer();
    let signal: AbortSignal | null | undefined;
    server.fetch.mockImplementation(
      (url, init) =>
        new Promise((resolve, reject) => {
          signal = init.signal;
          init.signal!.addEventListener("abort", () => reject(new DOMException("", "AbortError")));
        }),
    );
    make(server).initialize(5000);
    await advance(1000);
    service.stopPolling();
    await advance(0);
    expect(signal!.aborted).toBe(true);
    // An abort we asked for is not an outage.
    expect(service.getStatus().state).toBe("loading");
    expect(vi.getTimerCount()).toBe(0);
    await advance(60000);
    expect(server.fetch).toHaveBeenCalledTimes(1);
  });

  it("the shared SocketStatusService uses the global fetch", async () => {
    const server = fakeServer(statusDoc({ counts: { stt_sales: 1 } }));
    vi.stubGlobal("fetch", server.fetch);
    service = SocketStatusService;
    SocketStatusService.initialize(10000);
    await advance(0);
    expect(SocketStatusService.getTotalSocketCount()).toBe(1);
    const unsub = SocketStatusService.subscribe(() => {});
    expect(typeof unsub).toBe("function");
    unsub();
  });
});
