"""Vidai's routes found as an adopter's would be: from its ASGI application alone."""

from django.test import override_settings

from metrics.asgi.routes import path_template, project_routes
from metrics.conf import get_settings
from metrics.http.status import ws_endpoints


@override_settings(VIDAI_METRICS={})
def test_vidai_routes_are_found_from_its_asgi_application() -> None:
    """Through OriginCheck, the session and auth middleware and the status fast path."""
    assert get_settings().websocket_routes is None
    assert set(ws_endpoints()) == {"call", "stt", "stt_room", "stt_sales", "stt_admin"}
    assert path_template(project_routes(), "/ws/call/r42/") == "/ws/call/<room>/"
    assert path_template(project_routes(), "/ws/nowhere/") is None
