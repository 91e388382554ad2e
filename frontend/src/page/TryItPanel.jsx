import { useEffect, useReducer, useRef } from "react";

// Placeholders only: the page never carries a real room id or person's name.
const DEMO_ROOM = `demo-${Math.random().toString(36).slice(2, 10)}`;

export const TRY_TYPES = [
  { type: "call", path: `/ws/call/${DEMO_ROOM}/`, what: "a peer in a demo call room" },
  { type: "stt", path: "/ws/stt/", what: "a speech-to-text stream" },
  {
    type: "stt_room",
    path: "/ws/stt/room/?role=observer&name=Demo",
    what: "an observer named “Demo” in the transcript room",
  },
  { type: "stt_sales", path: "/ws/stt/sales/", what: "the sales feed" },
];

function wsUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

function describeClose(event) {
  if (event.code === 1000 || event.code === 1005) return "closed";
  if (event.code === 1012) return "closed: server restarting (1012)";
  if (event.code === 1006) return "closed: connection lost (1006)";
  return `closed by the server (${event.code})`;
}

/**
 * Opens and closes real sockets of each type from this browser, so the
 * indicator has something to count.
 */
export function TryItPanel() {
  const sockets = useRef(new Map(TRY_TYPES.map(({ type }) => [type, new Set()])));
  const lastEvent = useRef({});
  const [, rerender] = useReducer((n) => n + 1, 0);

  useEffect(() => {
    const all = sockets.current;
    const closeAll = () => {
      for (const set of all.values()) for (const ws of set) ws.close(1000);
    };
    window.addEventListener("pagehide", closeAll);
    return () => {
      window.removeEventListener("pagehide", closeAll);
      closeAll();
    };
  }, []);

  const open = (type, path) => {
    const ws = new WebSocket(wsUrl(path));
    const set = sockets.current.get(type);
    set.add(ws);
    lastEvent.current[type] = "connecting…";
    ws.addEventListener("open", () => {
      lastEvent.current[type] = "opened";
      rerender();
    });
    ws.addEventListener("close", (event) => {
      set.delete(ws);
      lastEvent.current[type] = describeClose(event);
      rerender();
    });
    rerender();
  };

  const closeAll = (type) => {
    for (const ws of sockets.current.get(type)) ws.close(1000);
  };

  return (
    <section className="try" aria-labelledby="try-heading">
      <h2 id="try-heading">Try it</h2>
      <p>
        Open real test sockets from this browser and watch the indicators count them within one
        poll. They close when you leave the page.
      </p>
      <table className="try__table">
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Connects as</th>
            <th scope="col">Open here</th>
            <th scope="col">Actions</th>
            <th scope="col">Last event</th>
          </tr>
        </thead>
        <tbody>
          {TRY_TYPES.map(({ type, path, what }) => {
            const set = sockets.current.get(type);
            const openCount = [...set].filter((ws) => ws.readyState === WebSocket.OPEN).length;
            return (
              <tr key={type} data-type={type}>
                <th scope="row">
                  <code>{type}</code>
                </th>
                <td>{what}</td>
                <td className="try__count" data-testid={`open-${type}`}>
                  {openCount}
                </td>
                <td className="try__actions">
                  <button type="button" onClick={() => open(type, path)}>
                    Open <span className="visually-hidden">{type} socket</span>
                  </button>
                  <button type="button" onClick={() => closeAll(type)} disabled={set.size === 0}>
                    Close all <span className="visually-hidden">{type} sockets</span>
                  </button>
                </td>
                <td aria-live="polite">{lastEvent.current[type] ?? "–"}</td>
              </tr>
            );
          })}
          <tr data-type="stt_admin">
            <th scope="row">
              <code>stt_admin</code>
            </th>
            <td>the staff-only admin feed</td>
            <td className="try__count">–</td>
            <td colSpan={2}>Denied: needs a staff session, so this page does not try.</td>
          </tr>
        </tbody>
      </table>
    </section>
  );
}
