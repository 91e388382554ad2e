"""The gate in process: Origin rules, the policy settings, and sockets that follow records."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import Client, override_settings

from consultation.conf import policy
from consultation.limits import FrameRate, SocketsPerUser
from consultation.origin import origin_allowed
from consultation.routing import websocket_urlpatterns


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:8000", True),
        ("https://localhost", True),
        ("http://[::1]:9000", True),
        ("https://app.example", True),  # configured
        ("https://app.example:444", False),  # configured origins match exactly
        ("http://app.example", False),
        ("https://evil.example", False),
        ("http://127.0.0.1.evil.example", False),
        ("null", False),
        ("", False),
        (None, False),
        ("file://", False),
        ("chrome-extension://abc", False),
        ("http://127.0.0.1:99999999", False),
        ("http://[::1", False),
    ],
)
def test_origins(origin: str | None, allowed: bool) -> None:
    with override_settings(
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
        VIDAI_WEBSOCKETS={"ALLOWED_ORIGINS": ["https://app.example/"]},
    ):
        assert origin_allowed(origin) is allowed


def test_a_wildcard_allowed_host_lets_no_other_site_in() -> None:
    with override_settings(ALLOWED_HOSTS=["*"], VIDAI_WEBSOCKETS={}):
        assert not origin_allowed("https://evil.example")
        assert not origin_allowed("http://127.0.0.1:8000")
    with override_settings(
        ALLOWED_HOSTS=["*"], VIDAI_WEBSOCKETS={"ALLOWED_ORIGINS": ["https://vidai.example"]}
    ):
        assert origin_allowed("https://vidai.example")


def test_debug_without_allowed_hosts_allows_the_local_hosts_only() -> None:
    with override_settings(ALLOWED_HOSTS=[], DEBUG=True):
        assert origin_allowed("http://localhost:5173")
        assert not origin_allowed("https://evil.example")
    with override_settings(ALLOWED_HOSTS=[], DEBUG=False):
        assert not origin_allowed("http://localhost:5173")


def test_policy_defaults_and_a_bad_value_is_a_check_not_a_crash() -> None:
    with override_settings(VIDAI_WEBSOCKETS={}):
        assert policy().sockets_per_user == 20
        assert (policy().message_burst, policy().message_seconds) == (600, 5.0)
        assert [m.id for m in run_checks() if m.id.startswith("vidai.")] == []
    bad = {"SOCKETS_PER_USER": "-1", "MESSAGE_RATE": "fast", "RECHECK_SECONDS": 3600,
           "ALLOWED_ORIGINS": ["*"], "TYPO": 1}  # fmt: skip
    with override_settings(VIDAI_WEBSOCKETS=bad):
        current = policy()
        assert current.sockets_per_user == 20
        assert current.message_burst == 600
        assert current.recheck_seconds == 60.0
        assert current.allowed_origins == frozenset()
        messages = [m for m in run_checks() if m.id == "vidai.E001"]
    assert [m.msg.split(":")[0] for m in messages] == [
        "VIDAI_WEBSOCKETS['ALLOWED_ORIGINS'] is invalid",
        "VIDAI_WEBSOCKETS['SOCKETS_PER_USER'] is invalid",
        "VIDAI_WEBSOCKETS['MESSAGE_RATE'] is invalid",
        "VIDAI_WEBSOCKETS['RECHECK_SECONDS'] is invalid",
        "VIDAI_WEBSOCKETS has an unknown key 'TYPO'",
    ]


def test_the_frame_rate_is_a_token_bucket() -> None:
    now = [0.0]
    rate = FrameRate(3, 6.0, clock=lambda: now[0])
    assert [rate.allow() for _ in range(4)] == [True, True, True, False]
    now[0] = 2.0  # one frame refilled every 2 s
    assert [rate.allow() for _ in range(2)] == [True, False]
    now[0] = 100.0  # never more than the burst
    assert [rate.allow() for _ in range(4)] == [True, True, True, False]


def test_the_socket_cap_counts_per_user() -> None:
    counts = SocketsPerUser()
    assert [counts.claim(1, 2) for _ in range(3)] == [True, True, False]
    assert counts.claim(2, 2)
    counts.release(1)
    assert counts.claim(1, 2)
    assert counts.claim(1, 0)  # 0: no cap
    for _ in range(3):
        counts.release(1)
    assert counts.held(1) == 0


# ---- sockets follow the records they were opened under ------------------------


async def staff_socket(username: str) -> WebsocketCommunicator:
    """An admin-feed socket of ``username``, through the session middleware, with a real session."""
    client = Client()
    await database_sync_to_async(client.force_login)(
        await get_user_model().objects.aget(username=username)
    )
    app = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(app, "/ws/stt/admin/", headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == {"type": "welcome", "feed": "admin"}
    return communicator


async def save_user(username: str, **changes: Any) -> None:
    def save() -> None:
        user = get_user_model().objects.get(username=username)
        for name, new in changes.items():
            setattr(user, name, new)
        user.save()

    await database_sync_to_async(save)()


@pytest.mark.usefixtures("accounts_db")
@pytest.mark.parametrize(
    ("change", "closes"),
    [({"first_name": "Sam"}, False), ({"is_staff": False}, True), ({"is_active": False}, True)],
)
async def test_an_open_feed_closes_at_once_when_its_user_loses_the_right(
    settings: Any, change: dict[str, Any], closes: bool
) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    feed = await staff_socket("staff")
    await save_user("staff", **change)
    if closes:
        assert await feed.receive_output(5) == {"type": "websocket.close", "code": 4401}
    else:
        await feed.send_json_to({"type": "ping"})
        assert await feed.receive_json_from(5) == {"type": "pong"}
        assert await feed.receive_nothing(0.5)
    await feed.disconnect()
    await asyncio.sleep(0)
