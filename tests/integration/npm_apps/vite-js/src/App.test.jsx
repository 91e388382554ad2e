import { createSocketStatusService } from "@vidai/socket-status";
import { render, screen } from "@testing-library/react";
import { expect, it } from "vitest";

import { App } from "./App.jsx";

const DOCUMENT = {
  active: true,
  total_sockets: 2,
  sockets_by_type: { call: 2, stt: 0 },
  timestamp: "2026-01-01T00:00:00+00:00",
  ws_endpoints: { call: "/ws/call/<room>/", stt: "/ws/stt/" },
  oldest_connection_age_seconds: { call: 12.5, stt: null },
  source: "process",
};

it("renders the indicator from the status JSON", async () => {
  const service = createSocketStatusService({
    fetch: async () => new Response(JSON.stringify(DOCUMENT), { status: 200 }),
  });
  render(<App service={service} />);
  expect(await screen.findByText("2 sockets")).toBeTruthy();
  expect(screen.getByText("Meeting room open")).toBeTruthy();
  service.stopPolling();
});
