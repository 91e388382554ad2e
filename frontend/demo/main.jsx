import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import "@vidai/socket-status/SocketStatusIndicator.css";
import "./page.css";
import {
  clampInterval,
  createSocketStatusService,
  SocketStatusIndicator,
  SocketStatusService,
  STATUS_URL,
} from "@vidai/socket-status";
import { TryItPanel } from "./TryItPanel.jsx";

const USAGE = `import { useSocketStatus, SocketStatusIndicator } from "@vidai/socket-status";
import "@vidai/socket-status/SocketStatusIndicator.css";

function Consultation() {
  const { active } = useSocketStatus(10000);
  return active ? <MeetingRoom /> : <div>WebSocket unavailable.</div>;
}

<SocketStatusIndicator compact={true} />`;

function StatusPage({ service, intervalMs, statusUrl, access }) {
  return (
    <>
      <header className="page__header">
        <h1>Vidai WebSocket status</h1>
        <SocketStatusIndicator compact intervalMs={intervalMs} service={service} />
      </header>
      <main className="page__main">
        <section aria-labelledby="indicator-heading">
          <h2 id="indicator-heading">Indicator</h2>
          <SocketStatusIndicator intervalMs={intervalMs} service={service} defaultExpanded />
          <p className="page__note">
            Both indicators share one poller: one request to{" "}
            <a href={statusUrl}>
              <code>{statusUrl}</code>
            </a>{" "}
            every {Math.round(clampInterval(intervalMs) / 1000)} s, none while this tab is hidden.
            Add <code>?interval=5000</code> to the address to poll faster (5 s is the minimum).
          </p>
        </section>
        <TryItPanel {...access} />
        <section aria-labelledby="usage-heading">
          <h2 id="usage-heading">In your React app</h2>
          <pre className="page__code">
            <code>{USAGE}</code>
          </pre>
        </section>
      </main>
    </>
  );
}

const root = document.getElementById("vidai-status-page");
const statusUrl = root.dataset.statusUrl || STATUS_URL;
const asked = new URLSearchParams(window.location.search).get("interval");
const intervalMs = asked === null ? undefined : clampInterval(asked);
// What the server says this visitor may open: set only for a logged-in user.
const access = {
  loggedIn: root.dataset.loggedIn === "1",
  consultation: root.dataset.consultation || null,
  feeds: root.dataset.feeds === "1",
};
const service =
  statusUrl === STATUS_URL ? SocketStatusService : createSocketStatusService({ url: statusUrl });

createRoot(root).render(
  <StrictMode>
    <StatusPage service={service} intervalMs={intervalMs} statusUrl={statusUrl} access={access} />
  </StrictMode>,
);
