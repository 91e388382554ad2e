import { useEffect, useReducer, useRef } from "react";

/**
 * The socket types, their paths for this visitor, and why one is unavailable.
 * Every socket carries the page's session; the server decides who may open
 * what, and this only avoids offering what it would refuse.
 */
export function tryTypes({ loggedIn, consultation, feeds }) {
  const login = loggedIn ? null : "Log in first.";
  const seat = login ?? (consultation ? null : "Needs a consultation you take part in.");
  const staff = login ?? (feeds ? null : "Needs staff (or the feed permission).");
  return [
    {
      type: "call",
      path: `/ws/call/${consultation}/`,
      what: "a peer in your consultation's call",
      unavailable: seat,
    },
    { type: "stt", path: "/ws/stt/", what: "a speech-to-text stream", unavailable: login },
    {
      type: "stt_room",
      path: `/ws/stt/room/?consultation=${consultation}`,
      what: "you, in your consultation's transcript room",
      unavailable: seat,
    },
    { type: "stt_sales", path: "/ws/stt/sales/", what: "the sales feed", unavailable: staff },
    { type: "stt_admin", path: "/ws/stt/admin/", what: "the admin feed", unavailable: staff },
  ];
}

function wsUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

function describeClose(event) {
  if (event.code === 1000 || event.code === 1005) return "closed";
  if (event.code === 1012) return "closed: server restarting (1012)";
  if (event.code === 1006) return "closed: connection lost (1006)";
  if (event.code === 4401) return "closed: session ended (4401)";
  return `closed by the server (${event.code})`;
}

/**
 * Opens and closes real sockets of each type from this browser, so the
 * indicator has something to count.
 */
export function TryItPanel({ loggedIn = false, consultation = null, feeds = false }) {
  const types = tryTypes({ loggedIn, consultation, feeds });
  const sockets = useRef(new Map(types.map(({ type }) => [type, new Set()])));
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
        poll. They use your session and close when you leave the page or log out.
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
          {types.map(({ type, path, what, unavailable }) => {
            const set = sockets.current.get(type);
            const openCount = [...set].filter((ws) => ws.readyState === WebSocket.OPEN).length;
            if (unavailable) {
              return (
                <tr key={type} data-type={type}>
                  <th scope="row">
                    <code>{type}</code>
                  </th>
                  <td>{what}</td>
                  <td className="try__count">–</td>
                  <td colSpan={2}>{unavailable}</td>
                </tr>
              );
            }
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
        </tbody>
      </table>
    </section>
  );
}
