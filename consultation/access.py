"""Who may open which socket: the server's records, never the client's word.

Every rule is a plain function of a user (and a consultation), run in a
thread through ``database_sync_to_async``. The consumers apply them before
accepting (``consultation.guard``) and again whenever the session or the
records may have changed.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from .models import JoinRecord, Participant

# Close codes sent before accept name the refusal (metrics.REFUSAL_CODES);
# after accept, 4401 tells a client its session ended or no longer allows this.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_OVER_LIMIT = 4429
FEED_PERMISSION = "consultation.monitor_transcripts"


@dataclass(frozen=True)
class Seat:
    """A participant's place, as the server records it."""

    consultation_id: uuid.UUID
    role: str
    display_name: str


def consultation_id(raw: object) -> uuid.UUID | None:
    """A consultation id from a path or query value; None for anything else."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def may_read_feeds(user: Any) -> bool:
    """Staff, or a user granted the transcript-feed permission."""
    return bool(user.is_active and (user.is_staff or user.has_perm(FEED_PERMISSION)))


def seat_of(user: Any, consultation: uuid.UUID) -> Seat | None:
    """The user's seat in that consultation, or None when they are not a participant."""
    found = (
        Participant.objects.filter(consultation_id=consultation, user_id=user.pk)
        .values_list("role", "display_name")
        .first()
    )
    if found is None or not user.is_active:
        return None
    return Seat(consultation, *found)


def record_join(user: Any, seat: Seat, room: str) -> None:
    """Add to the audit trail: this user joined that consultation's room now."""
    JoinRecord.objects.create(
        consultation_id=seat.consultation_id, user_id=user.pk, role=seat.role, room=room
    )


def group_for(kind: str, consultation: uuid.UUID) -> str:
    """A consultation room's channel-layer group: a digest, so the id is no channel name."""
    digest = hashlib.sha256(f"{kind}:{consultation}".encode()).hexdigest()[:32]
    return f"{kind}-{digest}"


def user_group(user_id: object) -> str:
    """The group every socket of one user joins: how logout and record changes reach them."""
    return f"user-{user_id}"


def session_digest(session_key: str | None) -> str:
    """What a logout broadcast names: a digest, never the session key (a credential)."""
    if not session_key:
        return ""
    return hashlib.sha256(session_key.encode()).hexdigest()
