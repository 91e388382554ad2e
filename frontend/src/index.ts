export {
  clampInterval,
  createSocketStatusService,
  DEFAULT_INTERVAL_MS,
  formatStatus,
  MAX_BACKOFF_INTERVALS,
  MAX_INTERVAL_MS,
  MIN_INTERVAL_MS,
  oldestAgeSeconds,
  SocketStatusPoller,
  SocketStatusService,
  STALE_AFTER_INTERVALS,
  STATES,
  STATUS_URL,
  TREND_POINTS,
} from "./SocketStatusService.js";
export type {
  FetchLike,
  SocketStatus,
  SocketStatusServiceOptions,
  StatusDocument,
  StatusListener,
  StatusSource,
  StatusState,
  TrendPoint,
  Unsubscribe,
  VisibilitySource,
} from "./SocketStatusService.js";
export {
  formatDuration,
  indicatorKind,
  SocketStatusIndicator,
  trendPath,
} from "./SocketStatusIndicator.js";
export type { IndicatorKind, SocketStatusIndicatorProps } from "./SocketStatusIndicator.js";
export { useSocketStatus } from "./useSocketStatus.js";
export type { UseSocketStatusOptions } from "./useSocketStatus.js";
