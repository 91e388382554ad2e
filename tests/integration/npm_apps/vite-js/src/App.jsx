import { SocketStatusIndicator, useSocketStatus } from "@vidai/socket-status";
import "@vidai/socket-status/SocketStatusIndicator.css";

export function App({ service }) {
  const { active } = useSocketStatus(10000, service ? { service } : undefined);
  return (
    <main>
      <SocketStatusIndicator compact service={service} />
      <p>{active ? "Meeting room open" : "WebSocket unavailable."}</p>
    </main>
  );
}
