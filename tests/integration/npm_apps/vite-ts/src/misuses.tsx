// Misuses the package's types reject. `tsc -b` fails if any line below an
// expected-error directive stops being an error (types decayed to `any` would).
import { SocketStatusIndicator, SocketStatusService, useSocketStatus } from "@vidai/socket-status";

export function Misuses() {
  const status = useSocketStatus();
  // @ts-expect-error: the total is null while unknown.
  const total: number = status.totalSockets;
  // @ts-expect-error: the interval is a number.
  SocketStatusService.initialize("fast");
  // @ts-expect-error: no such method.
  SocketStatusService.poll();
  return (
    <>
      {total}
      {/* @ts-expect-error: intervalMs is a number. */}
      <SocketStatusIndicator intervalMs="5000" />
      {/* @ts-expect-error: no such prop. */}
      <SocketStatusIndicator theme="dark" />
    </>
  );
}
