"use client";

import { useEffect, useSyncExternalStore } from "react";

import { type SocketStatus, type SocketStatusPoller, SocketStatusService } from "./SocketStatusService.js";

/** Options of `useSocketStatus`. */
export interface UseSocketStatusOptions {
  /** The poller to read (default: the shared `SocketStatusService`). */
  service?: SocketStatusPoller;
}

/**
 * The shared status snapshot, re-rendering on every change.
 *
 *   const { active, totalSockets, state } = useSocketStatus(10000);
 *
 * Polling runs while at least one component using the hook is mounted (or
 * `SocketStatusService.initialize()` was called), at the shortest interval
 * any of them asked for, clamped to 5-60 s. Pass `{ service }` to read
 * another poller made with `createSocketStatusService()`.
 */
export function useSocketStatus(
  intervalMs?: number | null,
  { service = SocketStatusService }: UseSocketStatusOptions = {},
): SocketStatus {
  useEffect(() => service.retain(intervalMs), [service, intervalMs]);
  return useSyncExternalStore(service.subscribe, service.getStatus, service.getStatus);
}

export default useSocketStatus;
