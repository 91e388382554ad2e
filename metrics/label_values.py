"""The bounded label values of the metric contract: close reasons and friends.

Every label value the exporter writes comes from this module or from a
socket type named in code, never from client input.
"""

from typing import Final

# Close reasons (RFC 6455 section 7.4), grouped so that the series stay few.
NORMAL: Final = "normal"
GOING_AWAY: Final = "going_away"
PROTOCOL_ERROR: Final = "protocol_error"
POLICY_VIOLATION: Final = "policy_violation"
INTERNAL_ERROR: Final = "internal_error"
SERVICE_RESTART: Final = "service_restart"
ABNORMAL: Final = "abnormal"
APPLICATION: Final = "application"
OTHER: Final = "other"
# Accepted by a worker that died without counting the close (multiprocess mode).
WORKER_LOST: Final = "worker_lost"

CLOSE_REASONS: Final = (
    NORMAL,
    GOING_AWAY,
    PROTOCOL_ERROR,
    POLICY_VIOLATION,
    INTERNAL_ERROR,
    SERVICE_RESTART,
    ABNORMAL,
    APPLICATION,
    OTHER,
    WORKER_LOST,
)

# Who closed: the peer's close frame (or its vanishing) versus our side.
CLIENT: Final = "client"
SERVER: Final = "server"
INITIATORS: Final = (CLIENT, SERVER)
# Every (reason, initiator) a close is counted under: a lost worker's closes
# are the server's alone.
CLOSE_LABELS: Final = tuple(
    (reason, initiator)
    for reason in CLOSE_REASONS
    for initiator in INITIATORS
    if (reason, initiator) != (WORKER_LOST, CLIENT)
)
# Codes only a server sends (the IANA registry: service restart, try again
# later, bad gateway): the server's close, even when the app hears it as a
# disconnect (uvicorn's shutdown hands the app 1012). Not 1011: RFC 6455's
# errata 3227 lets either side send it, and clients do (a websockets client
# whose pings go unanswered closes with 1011).
SERVER_ONLY_CODES: Final = frozenset({1012, 1013, 1014})

# Why a handshake was never accepted.
DENIED: Final = "denied"
UNAUTHENTICATED: Final = "unauthenticated"
FORBIDDEN: Final = "forbidden"
FORBIDDEN_ORIGIN: Final = "forbidden_origin"
OVER_LIMIT: Final = "over_limit"
ERROR: Final = "error"
CLIENT_GONE: Final = "client_gone"
NO_ROUTE: Final = "no_route"
REJECT_REASONS: Final = (
    DENIED,
    UNAUTHENTICATED,
    FORBIDDEN,
    FORBIDDEN_ORIGIN,
    OVER_LIMIT,
    ERROR,
    CLIENT_GONE,
    NO_ROUTE,
)
# The reasons a route's handshake can end with (no_route is the catch-all's alone).
ROUTE_REJECT_REASONS: Final = tuple(r for r in REJECT_REASONS if r != NO_ROUTE)

# An app names why it refuses a handshake by the code of the close it sends
# before accepting (the server answers 403 whatever the code); any other code,
# or none, is ``denied``.
REFUSAL_CODES: Final[dict[int, str]] = {
    4400: FORBIDDEN_ORIGIN,
    4401: UNAUTHENTICATED,
    4403: FORBIDDEN,
    4429: OVER_LIMIT,
}

# Frame directions.
RECEIVED: Final = "received"
SENT: Final = "sent"
DIRECTIONS: Final = (RECEIVED, SENT)

UNKNOWN_TYPE: Final = "unknown"

# The ASGI servers vidai_websocket_server_info names (metrics.core.servers).
UNKNOWN_SERVER: Final = "unknown"
SERVER_NAMES: Final = ("granian", "hypercorn", "daphne", "uvicorn", UNKNOWN_SERVER)

_REASON_BY_CODE: Final[dict[int, str]] = {
    1000: NORMAL,
    # 1005 is a close frame without a status code: what a browser's ws.close() sends.
    1005: NORMAL,
    1001: GOING_AWAY,
    1002: PROTOCOL_ERROR,
    1003: PROTOCOL_ERROR,
    1007: PROTOCOL_ERROR,
    1009: PROTOCOL_ERROR,
    1010: PROTOCOL_ERROR,
    1008: POLICY_VIOLATION,
    1011: INTERNAL_ERROR,
    1012: SERVICE_RESTART,
    1013: SERVICE_RESTART,
    1014: SERVICE_RESTART,
    1006: ABNORMAL,
}


def refusal_reason(code: object) -> str:
    """Map the code of a close sent before accept to one of REJECT_REASONS.

    >>> refusal_reason(4401), refusal_reason(None), refusal_reason(1000)
    ('unauthenticated', 'denied', 'denied')
    """
    if isinstance(code, int) and not isinstance(code, bool):
        return REFUSAL_CODES.get(code, DENIED)
    return DENIED


def close_reason(code: object) -> str:
    """Map a close code (or its absence) to one of CLOSE_REASONS."""
    if code is None:
        return ABNORMAL
    if not isinstance(code, int) or isinstance(code, bool):
        return OTHER
    if 3000 <= code <= 4999:
        return APPLICATION
    return _REASON_BY_CODE.get(code, OTHER)
