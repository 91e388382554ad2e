// Type-level tests, checked by `npm run typecheck` (never run). Every
// expected-error directive below fails the check if the line after it stops
// being an error: types that decayed to `any` would fail here.
import {
  createSocketStatusService,
  type SocketStatus,
  SocketStatusIndicator,
  SocketStatusService,
  type StatusDocument,
  useSocketStatus,
} from "../src/index.js";

export function Good() {
  const status: SocketStatus = useSocketStatus(10_000);
  const total: number | null = status.totalSockets;
  const count: number | null = SocketStatusService.getSocketCountByType("call");
  const counts: Record<string, number> | null = SocketStatusService.getSocketCountByType();
  const unsubscribe: () => void = SocketStatusService.subscribe((s) => console.log(s.state));
  unsubscribe();
  return (
    <p>
      {total} {count} {counts?.stt}
      <SocketStatusIndicator compact intervalMs={5000} label="Sockets" />
    </p>
  );
}

export const document: StatusDocument = {
  active: true,
  total_sockets: 1,
  sockets_by_type: { call: 1 },
  timestamp: "2026-01-01T00:00:00+00:00",
  ws_endpoints: { call: "/ws/call/<room>/" },
  oldest_connection_age_seconds: { call: 3.5 },
  source: "process",
};

export function Misuse() {
  const status = useSocketStatus();
  // @ts-expect-error: totalSockets may be null (unknown), never a fake 0.
  const total: number = status.totalSockets;
  // @ts-expect-error: the state is one of four words.
  const never: boolean = status.state === "broken";
  // @ts-expect-error: the interval is a number of ms.
  SocketStatusService.initialize("10s");
  // @ts-expect-error: no such method.
  SocketStatusService.start();
  // @ts-expect-error: an unknown option.
  createSocketStatusService({ endpoint: "/status/" });
  return (
    <>
      {total}
      {never}
      {/* @ts-expect-error: compact is a boolean. */}
      <SocketStatusIndicator compact="yes" />
      {/* @ts-expect-error: no such prop. */}
      <SocketStatusIndicator size="small" />
    </>
  );
}

export const wrongDocument: StatusDocument = {
  active: true,
  total_sockets: 1,
  sockets_by_type: { call: 1 },
  timestamp: "2026-01-01T00:00:00+00:00",
  ws_endpoints: {},
  oldest_connection_age_seconds: {},
  // @ts-expect-error: the source is one of three words.
  source: "redis",
};
