import { act, cleanup, fireEvent, render, renderHook, screen } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SocketStatusIndicator, trendPath } from "../src/SocketStatusIndicator.js";
import { createSocketStatusService, type SocketStatusPoller } from "../src/SocketStatusService.js";
import { useSocketStatus } from "../src/useSocketStatus.js";
import { advance, type FakeServer, fakeServer, setVisibility, statusDoc } from "./helpers.js";

// Set by make(); afterEach stops it (stopping a stopped poller does nothing).
let service!: SocketStatusPoller;

beforeEach(() => {
  vi.useFakeTimers();
  setVisibility("visible");
});

afterEach(() => {
  cleanup();
  service?.stopPolling();
  vi.useRealTimers();
  setVisibility("visible");
});

function make(server: FakeServer): SocketStatusPoller {
  service = createSocketStatusService({ fetch: server.fetch, random: () => 1 });
  return service;
}

async function tick(ms: number): Promise<void> {
  await act(async () => {
    await advance(ms);
  });
}

describe("useSocketStatus", () => {
  it("returns the seed's fields and follows the server (Example 1)", async () => {
    const server = fakeServer(statusDoc({ counts: { call: 2 } }));
    make(server);
    const { result } = renderHook(() => useSocketStatus(5000, { service }));
    expect(result.current).toMatchObject({ state: "loading", active: false, totalSockets: null });
    await tick(0);
    const { active, totalSockets } = result.current;
    expect(active).toBe(true);
    expect(totalSockets).toBe(2);
    server.doc = statusDoc({ counts: { call: 2, stt: 3 } });
    server.etag = 'W/"v2"';
    await tick(5000);
    expect(result.current.totalSockets).toBe(5);
  });

  it("stops polling and leaves no timer when the last component unmounts", async () => {
    const server = fakeServer();
    make(server);
    const first = renderHook(() => useSocketStatus(5000, { service }));
    const second = renderHook(() => useSocketStatus(5000, { service }));
    await tick(0);
    first.unmount();
    await tick(5000);
    expect(server.fetch).toHaveBeenCalledTimes(2);
    second.unmount();
    expect(vi.getTimerCount()).toBe(0);
    await tick(60000);
    expect(server.fetch).toHaveBeenCalledTimes(2);
  });

  it("in StrictMode, mounting twice still makes one request", async () => {
    const server = fakeServer();
    make(server);
    renderHook(() => useSocketStatus(5000, { service }), { wrapper: StrictMode });
    await tick(0);
    expect(server.fetch).toHaveBeenCalledTimes(1);
  });

  it("switches a meeting room off when the server is unreachable (Example 4)", async () => {
    const server = fakeServer(statusDoc());
    make(server);
    function Consultation() {
      const { active } = useSocketStatus(5000, { service });
      return active ? <p>Meeting room</p> : <div>WebSocket unavailable.</div>;
    }
    render(<Consultation />);
    expect(screen.getByText("WebSocket unavailable.")).toBeTruthy();
    await tick(0);
    // Zero open sockets is still a working server.
    expect(screen.getByText("Meeting room")).toBeTruthy();
    server.down = true;
    await tick(5000);
    expect(screen.getByText("WebSocket unavailable.")).toBeTruthy();
  });
});

describe("SocketStatusIndicator", () => {
  it("N indicators on one page make 1 request per interval", async () => {
    const server = fakeServer(statusDoc({ counts: { stt: 1 } }));
    make(server);
    render(
      <>
        {Array.from({ length: 8 }, (_, i) => (
          <SocketStatusIndicator key={i} compact={i % 2 === 0} intervalMs={5000} service={service} />
        ))}
      </>,
    );
    await tick(0);
    await tick(15000);
    expect(server.fetch).toHaveBeenCalledTimes(4);
    expect(screen.getAllByText("1 socket")).toHaveLength(4);
    expect(screen.getAllByText("1 open socket")).toHaveLength(4);
  });

  it("a hidden tab makes no request, whatever is mounted", async () => {
    const server = fakeServer();
    make(server);
    render(
      <>
        <SocketStatusIndicator compact intervalMs={5000} service={service} />
        <SocketStatusIndicator intervalMs={5000} service={service} />
      </>,
    );
    await tick(0);
    setVisibility("hidden");
    await tick(120000);
    expect(server.fetch).toHaveBeenCalledTimes(1);
    expect(screen.getByText("0 sockets (stale)")).toBeTruthy();
  });

  it("compact: a live status region with a symbol and words for ok, zero and unreachable", async () => {
    const server = fakeServer(statusDoc({ counts: { call: 3 } }));
    make(server);
    const { container } = render(<SocketStatusIndicator compact intervalMs={5000} service={service} />);
    const region = screen.getByRole("status");
    expect(region.getAttribute("aria-live")).toBe("polite");
    expect(region.textContent).toBe("…WebSockets: Checking");
    await tick(0);
    const root = container.firstChild as HTMLElement;
    expect(root.dataset.state).toBe("ok");
    expect(region.textContent).toBe("●WebSockets: 3 sockets");
    expect(region.querySelector(".vidai-ssi__symbol")!.getAttribute("aria-hidden")).toBe("true");

    server.doc = statusDoc();
    server.etag = 'W/"zero"';
    await tick(5000);
    expect(root.dataset.state).toBe("zero");
    expect(region.textContent).toBe("○WebSockets: 0 sockets");

    server.down = true;
    await tick(5000);
    expect(root.dataset.state).toBe("unreachable");
    expect(region.textContent).toBe("✕WebSockets: Unreachable");
    expect(root.getAttribute("title")).toBe("WebSockets: network error");
  });

  it("full: details expand to counts by type, oldest age, last update and the error", async () => {
    const server = fakeServer(statusDoc({ counts: { call: 2, stt_room: 1 }, ages: { call: 125 } }));
    make(server);
    render(<SocketStatusIndicator intervalMs={5000} service={service} />);
    await tick(0);
    expect(screen.getByRole("status").textContent).toBe("●WebSockets: 3 open sockets");
    const toggle = screen.getByRole("button", { name: "Details" });
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    const details = document.getElementById(toggle.getAttribute("aria-controls")!)!;
    expect(details.hidden).toBe(true);

    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(details.hidden).toBe(false);
    const callRow = details.querySelector('tr[data-type="call"]')!;
    expect(callRow.textContent).toBe("call22 min 5 s");
    expect(details.querySelector('tr[data-type="stt_admin"]')!.textContent).toBe("stt_admin0–");
    expect(details.textContent).toContain("Oldest connection2 min 5 s");
    expect(details.textContent).toContain("Polling every5 s");
    expect(details.textContent).toContain(`Last update${new Date().toLocaleTimeString()}`);

    server.down = true;
    await tick(5000);
    expect(screen.getByRole("status").textContent).toBe("✕WebSockets: Server unreachable");
    expect(details.textContent).toContain("Counts unknown");
    expect(details.textContent).toContain("Errornetwork error");
    fireEvent.click(screen.getByRole("button", { name: "Hide details" }));
    expect(details.hidden).toBe(true);
  });
});

describe("the trend", () => {
  it("full mode draws the total over the last polls; compact mode does not", async () => {
    const server = fakeServer(statusDoc({ counts: { call: 1 } }));
    make(server);
    const { container } = render(
      <>
        <SocketStatusIndicator compact intervalMs={5000} service={service} />
        <SocketStatusIndicator intervalMs={5000} service={service} />
      </>,
    );
    expect(container.querySelector("svg")).toBeNull(); // nothing known yet
    await tick(0);
    for (const [counts, etag] of [
      [{ call: 3 }, 'W/"3"'],
      [{ call: 2 }, 'W/"2"'],
    ] as const) {
      server.doc = statusDoc({ counts });
      server.etag = etag;
      await tick(5000);
    }
    const trends = container.querySelectorAll("svg.vidai-ssi__trend");
    expect(trends).toHaveLength(1);
    expect(trends[0].closest(".vidai-ssi--full")).not.toBeNull();
    expect(trends[0].getAttribute("data-totals")).toBe("1,3,2");
    const trend = screen.getByRole("img");
    expect(trend.textContent).toBe("Open sockets over the last 3 polls: from 1 to 2, at most 3");
    expect(trend.querySelector("path")!.getAttribute("d")).toMatch(/^M[\d.]+ [\d.]+h0(L[\d.]+ [\d.]+){2}$/);

    server.down = true;
    await tick(5000);
    expect(trend.getAttribute("data-totals")).toBe("1,3,2,");
    expect(trend.textContent).toContain("; 1 without an answer");
  });

  it("trendPath: scaled from 0 to the highest, newest at the right, broken by failures", () => {
    const at = 0;
    expect(trendPath([{ at, total: 0 }, { at, total: null }, { at, total: 2 }], 120, 28, 3)).toBe(
      "M3 25h0M117 3h0",
    );
    expect(trendPath([{ at, total: 4 }, { at, total: 4 }], 120, 28, 3)).toBe("M60 3h0L117 3");
    expect(trendPath([], 120, 28)).toBe("");
  });
});
