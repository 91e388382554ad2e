"""System checks for Vidai's WebSocket policy settings."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from .conf import problems


@register()
def check_websocket_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        Error(problem, hint="See docs/demo.md; the default is used.", id="vidai.E001")
        for problem in problems()
    ]
