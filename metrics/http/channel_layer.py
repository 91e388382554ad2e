"""Whether this deployment can serve WebSockets now: its channel layer answers."""

from __future__ import annotations

import asyncio
import logging
import time

from channels.layers import get_channel_layer

from ..conf import on_settings_change

logger = logging.getLogger(__name__)

_PROBE_TIMEOUT_SECONDS = 1.0
_CACHE_SECONDS = 2.0

_last: tuple[float, bool] | None = None


async def channel_layer_answers() -> bool:
    """Round-trip a message through the default channel layer (True when none is set).

    The answer is cached for two seconds so frequent status polls cost nothing.
    """
    global _last
    now = time.monotonic()
    if _last is not None and now - _last[0] < _CACHE_SECONDS:
        return _last[1]
    answered = await _probe()
    _last = (time.monotonic(), answered)
    return answered


async def _probe() -> bool:
    layer = get_channel_layer()
    if layer is None:
        return True
    try:
        # The layer's default prefix: channels_redis reads every process-local
        # channel through one receive loop on "specific.<client>!", and a channel
        # made with another prefix is never read while a consumer holds that loop.
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "vidai.health"})
        message = await asyncio.wait_for(layer.receive(channel), _PROBE_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.warning("channel layer did not answer: %s", type(exc).__name__)
        return False
    return bool(message.get("type") == "vidai.health")


@on_settings_change
def forget() -> None:
    """Drop the cached answer (tests, or after reconfiguring the layer)."""
    global _last
    _last = None
