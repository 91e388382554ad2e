import {
  type SocketStatus,
  SocketStatusIndicator,
  SocketStatusService,
  type StatusDocument,
  useSocketStatus,
} from "@vidai/socket-status";
import "@vidai/socket-status/SocketStatusIndicator.css";

function describe(status: SocketStatus): string {
  const total: number | null = status.totalSockets;
  return total === null ? "unknown" : `${total} open`;
}

export function lastSource(document: StatusDocument): "process" | "multiprocess" | "prometheus" {
  return document.source;
}

export function App() {
  const status = useSocketStatus(10_000);
  const calls: number | null = SocketStatusService.getSocketCountByType("call");
  return (
    <main>
      <SocketStatusIndicator intervalMs={5000} defaultExpanded label="Sockets" />
      <p>
        {describe(status)}, calls: {calls ?? "?"}
      </p>
    </main>
  );
}
