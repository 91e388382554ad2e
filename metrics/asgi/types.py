"""ASGI type aliases, defined once for the whole package."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# An app returns None by the spec; wrappers pass on whatever it returns (servers report it).
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[object]]

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]
