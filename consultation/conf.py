"""Vidai's WebSocket policy: ``settings.VIDAI_WEBSOCKETS``, read at each use.

Read per call rather than cached, so ``override_settings`` simply works and
the cost is one small dict merge per handshake. A value that cannot be used
falls back to its default and is reported by the system check
``vidai.E001`` (``consultation.checks``), never raised at a socket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Origins allowed besides the site's own hosts (ALLOWED_HOSTS), e.g. "https://app.example".
    "ALLOWED_ORIGINS": (),
    # Concurrent sockets one user may hold in one process; 0: no cap.
    "SOCKETS_PER_USER": 20,
    # Frames a socket may send: "FRAMES/SECONDS", a burst of FRAMES refilled over SECONDS.
    # 20 ms audio chunks are 50 a second; the default leaves room for that.
    "MESSAGE_RATE": "600/5",
    # How often an open socket re-checks its session and its right to its room.
    "RECHECK_SECONDS": 60.0,
}
MAX_RECHECK_SECONDS = 300.0


@dataclass(frozen=True)
class Policy:
    allowed_origins: frozenset[str]
    sockets_per_user: int
    message_burst: int
    message_seconds: float
    recheck_seconds: float


def _origins(raw: Any) -> frozenset[str]:
    if isinstance(raw, str) or not all(isinstance(item, str) for item in raw):
        raise ValueError("a list of origins")
    origins = frozenset(item.rstrip("/").lower() for item in raw)
    if any(origin in ("*", "null") or "://" not in origin for origin in origins):
        raise ValueError("each origin is scheme://host[:port]; never * or null")
    return origins


def _cap(raw: Any) -> int:
    cap = int(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else -1
    if cap < 0:
        raise ValueError("a whole number, 0 for no cap")
    return cap


def _rate(raw: Any) -> tuple[int, float]:
    frames, _, seconds = str(raw).partition("/")
    burst, period = int(frames), float(seconds)
    if burst < 1 or not (math.isfinite(period) and period > 0):
        raise ValueError('"FRAMES/SECONDS", both positive')
    return burst, period


def _recheck(raw: Any) -> float:
    seconds = float(raw)
    if not 0 < seconds <= MAX_RECHECK_SECONDS:
        raise ValueError(f"seconds, more than 0 and at most {MAX_RECHECK_SECONDS:g}")
    return seconds


_PARSERS = {
    "ALLOWED_ORIGINS": _origins,
    "SOCKETS_PER_USER": _cap,
    "MESSAGE_RATE": _rate,
    "RECHECK_SECONDS": _recheck,
}


def _parsed() -> tuple[dict[str, Any], list[str]]:
    configured = getattr(settings, "VIDAI_WEBSOCKETS", {}) or {}
    values, problems = {}, []
    for key, parse in _PARSERS.items():
        try:
            values[key] = parse(configured.get(key, DEFAULTS[key]))
        except (TypeError, ValueError) as error:
            problems.append(f"VIDAI_WEBSOCKETS[{key!r}] is invalid: expected {error}")
            values[key] = parse(DEFAULTS[key])
    problems += [f"VIDAI_WEBSOCKETS has an unknown key {key!r}" for key in configured
                 if key not in DEFAULTS]  # fmt: skip
    return values, problems


def policy() -> Policy:
    """The policy now in force; invalid values are their defaults."""
    values, _ = _parsed()
    burst, period = values["MESSAGE_RATE"]
    return Policy(
        allowed_origins=values["ALLOWED_ORIGINS"],
        sockets_per_user=values["SOCKETS_PER_USER"],
        message_burst=burst,
        message_seconds=period,
        recheck_seconds=values["RECHECK_SECONDS"],
    )


def problems() -> list[str]:
    """What is wrong with ``VIDAI_WEBSOCKETS``, one line per problem."""
    return _parsed()[1]
