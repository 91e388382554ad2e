import { type Mock, vi } from "vitest";

import type { FetchLike, StatusDocument } from "../src/index.js";

export const TYPES = ["call", "stt", "stt_room", "stt_sales", "stt_admin"];

interface DocOptions {
  counts?: Record<string, number>;
  active?: boolean;
  ages?: Record<string, number>;
}

/** A status document as the server sends it. */
export function statusDoc({ counts = {}, active = true, ages = {} }: DocOptions = {}): StatusDocument {
  const socketsByType = Object.fromEntries(TYPES.map((type) => [type, counts[type] ?? 0]));
  return {
    active,
    total_sockets: Object.values(socketsByType).reduce((a, b) => a + b, 0),
    sockets_by_type: socketsByType,
    timestamp: new Date().toISOString(),
    ws_endpoints: { call: "/ws/call/<room>/", stt: "/ws/stt/" },
    oldest_connection_age_seconds: Object.fromEntries(TYPES.map((t) => [t, ages[t] ?? null])),
    source: "process",
  };
}

export function jsonResponse(
  body: unknown,
  { status = 200, etag = 'W/"v1"' }: { status?: number; etag?: string } = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ETag: etag },
  });
}

export interface FakeServer {
  doc: unknown;
  etag: string;
  down: boolean;
  /** Every request: its URL and init, with the headers the service sends as a plain object. */
  calls: { url: string; init: RequestInit & { headers: Record<string, string> } }[];
  fetch: Mock<FetchLike>;
}

/**
 * A mocked fetch answering like the server: 200 with an ETag, 304 when
 * If-None-Match matches. `server.doc`/`server.etag` change what it says,
 * `server.down = true` makes it fail like a refused connection.
 */
export function fakeServer(initial: unknown = statusDoc()): FakeServer {
  const server: FakeServer = {
    doc: initial,
    etag: 'W/"v1"',
    down: false,
    calls: [],
    fetch: vi.fn<FetchLike>(async (url, init = {}) => {
      const headers = (init.headers ?? {}) as Record<string, string>;
      server.calls.push({ url, init: { ...init, headers } });
      if (server.down) throw new TypeError("Failed to fetch");
      if (headers["If-None-Match"] === server.etag) return new Response(null, { status: 304 });
      return jsonResponse(server.doc, { etag: server.etag });
    }),
  };
  return server;
}

/** Set document.visibilityState and fire visibilitychange, as a browser does. */
export function setVisibility(state: DocumentVisibilityState): void {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  document.dispatchEvent(new Event("visibilitychange"));
}

/** Run due timers and the promises they start. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}
