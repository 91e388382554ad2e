"""A channel layer for in-process tests that packs every message as channels_redis does."""

import msgpack
from channels.layers import InMemoryChannelLayer


class PackingChannelLayer(InMemoryChannelLayer):
    """The in-memory layer, refusing what channels_redis's msgpack cannot carry.

    Lone surrogates and integers past 64 bits pass in memory but raise on
    Redis; consumers must refuse such frames before they reach the layer.
    """

    async def send(self, channel, message):
        msgpack.packb(message)
        await super().send(channel, message)

    async def group_send(self, group, message):
        msgpack.packb(message)
        await super().group_send(group, message)
