"""Tell a user's open sockets when their session or their records change.

Each socket joins its user's channel-layer group (``access.user_group``),
so these broadcasts reach it on whichever host it is (the Redis layer).
A failed broadcast is logged and left to the sockets' periodic re-check.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .access import session_digest, user_group
from .models import Participant

logger = logging.getLogger(__name__)


def notify(user_id: object, event: dict[str, Any]) -> None:
    """Send ``event`` to every socket of the user, on every host."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), event)
    except Exception as error:
        logger.warning("could not notify a user's sockets: %s", type(error).__name__)


def session_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The logged-out session's sockets close; the user's others re-check."""
    if user is None:
        return
    session = getattr(request, "session", None)
    ended = session_digest(getattr(session, "session_key", None))
    notify(user.pk, {"type": "session.ended", "session": ended})


def user_saved(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """Staff flag, active flag or password may have changed: the sockets re-check."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every login saves this; it changes no right
    _after_commit(instance.pk)


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _after_commit(instance.pk)


def seat_changed(sender: Any, instance: Participant, **kwargs: Any) -> None:
    _after_commit(instance.user_id)


def _after_commit(user_id: object) -> None:
    # After the commit, so that the re-check reads the new records.
    transaction.on_commit(lambda: notify(user_id, {"type": "access.changed"}))


def connect_signals() -> None:
    """Connect the receivers (from ``AppConfig.ready``)."""
    user_model = get_user_model()
    user_logged_out.connect(session_logged_out, dispatch_uid="vidai-session-logged-out")
    post_save.connect(user_saved, sender=user_model, dispatch_uid="vidai-user-saved")
    post_delete.connect(user_deleted, sender=user_model, dispatch_uid="vidai-user-deleted")
    post_save.connect(seat_changed, sender=Participant, dispatch_uid="vidai-seat-saved")
    post_delete.connect(seat_changed, sender=Participant, dispatch_uid="vidai-seat-deleted")
