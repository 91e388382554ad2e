export {
  clampInterval,
  createSocketStatusService,
  DEFAULT_INTERVAL_MS,
  formatStatus,
  MAX_INTERVAL_MS,
  MIN_INTERVAL_MS,
  oldestAgeSeconds,
  SocketStatusPoller,
  SocketStatusService,
  STATES,
  STATUS_URL,
} from "./SocketStatusService.js";
export { formatDuration, indicatorKind, SocketStatusIndicator } from "./SocketStatusIndicator.jsx";
export { useSocketStatus } from "./useSocketStatus.js";
