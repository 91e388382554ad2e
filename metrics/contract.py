"""The metric contract: every family's name and HELP text, written once.

Names are API (the dashboard, the alerts and the status JSON read them); the
collectors, the multiprocess files and their merge, and the ops assets take
them from here. The internal families exist only in multiprocess mode's files
and are turned back into the contract's shapes at scrape time.

>>> HELP[CONNECTIONS]
'Open WebSocket connections (accepted, not yet closed).'
"""

from __future__ import annotations

from typing import Final

CONNECTIONS: Final = "vidai_websocket_connections"
OPENED: Final = "vidai_websocket_connections_opened"
CLOSED: Final = "vidai_websocket_connections_closed"
REJECTED: Final = "vidai_websocket_connections_rejected"
DURATION: Final = "vidai_websocket_connection_duration_seconds"
OLDEST_START: Final = "vidai_websocket_oldest_connection_start_time_seconds"
AGE: Final = "vidai_websocket_connection_age_seconds"
MESSAGES: Final = "vidai_websocket_messages"
MESSAGE_BYTES: Final = "vidai_websocket_message_bytes"
TRACKING_ERRORS: Final = "vidai_websocket_tracking_errors"
HANDSHAKE: Final = "vidai_websocket_handshake_duration_seconds"
LIMIT: Final = "vidai_websocket_connections_limit"
SERVER_INFO: Final = "vidai_websocket_server_info"
WORKER_REFRESH: Final = "vidai_websocket_worker_refresh_time_seconds"

# Internal, multiprocess mode's files only: the age gauge histogram and the
# handshake histogram as sums that add across workers.
AGE_OLDER: Final = AGE + "_older"
AGE_START_SUM: Final = AGE + "_start_sum"
HANDSHAKE_IN_BUCKET: Final = HANDSHAKE + "_in_bucket"
HANDSHAKE_SECONDS: Final = HANDSHAKE + "_spent"

HELP: Final[dict[str, str]] = {
    CONNECTIONS: "Open WebSocket connections (accepted, not yet closed).",
    OPENED: "WebSocket handshakes accepted.",
    CLOSED: "WebSocket connections closed after accept, by close reason and initiator.",
    REJECTED: "WebSocket handshakes never accepted, by reason.",
    DURATION: "Lifetime of WebSocket connections, observed at close.",
    OLDEST_START: "Unix time the oldest open WebSocket connection was accepted (+Inf when none).",
    AGE: "Open WebSocket connections by age, at scrape time.",
    MESSAGES: "WebSocket frames, by direction.",
    MESSAGE_BYTES: "WebSocket payload bytes (UTF-8 for text frames), by direction.",
    TRACKING_ERRORS: "Errors inside socket tracking, swallowed so the socket carried on.",
    HANDSHAKE: "Time from a WebSocket handshake's arrival to its accept or refusal.",
    LIMIT: "Open WebSockets one instance is sized for (VIDAI_METRICS CONNECTION_LIMIT).",
    SERVER_INFO: "The ASGI server serving this process's WebSockets (value 1).",
    WORKER_REFRESH: "Unix time each live worker last re-derived its socket gauges.",
    AGE_OLDER: "Open WebSocket connections older than le seconds (internal).",
    AGE_START_SUM: "Sum of the Unix start times of open WebSocket connections (internal).",
    HANDSHAKE_IN_BUCKET: "WebSocket handshakes per duration bucket, not cumulative (internal).",
    HANDSHAKE_SECONDS: "Total duration of WebSocket handshakes (internal).",
}
