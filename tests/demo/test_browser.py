"""The status page: served by Django, and the indicator driven in a real browser.

The first tests use Django's test client on a bundle made in a temporary
folder. The last one starts the real project (uvicorn, ``vidai.asgi``) and
drives the built bundle in headless Debian Chromium: the indicator shows 0,
then sockets opened by the test (with the ``websockets`` client and with the
page's try-it panel) within one poll, the trend of the total rising,
"unreachable" within two intervals of the server stopping, and recovers when
it restarts on the same port, the outage a gap in the trend.
Screenshots of each state go to ``test-output/browser/``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from playwright.sync_api import Locator, Page, expect, sync_playwright
from websockets.sync.client import ClientConnection, connect

from consultation.pages import ENTRY

from ..accounts import CONSULTATION_A, PASSWORD, Accounts, create_accounts
from ..browser import PageWatch, chromium, fresh_output_dir, require_bundle, set_visibility
from ..browser import unhandled_rejections as rejections
from ..conftest import require_tool
from ..servers import LiveServer, free_port, run_server

PAGE_URLS = ["/", "/consultation/socket-status/ui/"]
STATUS_PATH = "/consultation/socket-status/"
INTERVAL_MS = 5000  # the service's minimum
# A poll's answer takes a moment on top of the interval.
ONE_POLL_MS = INTERVAL_MS + 1500


def make_bundle(dist: Path) -> None:
    """A minimal Vite build: a manifest and the two files it names."""
    (dist / ".vite").mkdir(parents=True)
    (dist / "assets").mkdir()
    manifest = {
        ENTRY: {
            "file": "assets/main-abc123.js",
            "isEntry": True,
            "css": ["assets/main-def456.css"],
        }
    }
    (dist / ".vite" / "manifest.json").write_text(json.dumps(manifest))
    (dist / "assets" / "main-abc123.js").write_text("console.log('vidai');\n")
    (dist / "assets" / "main-def456.css").write_text(".vidai-ssi{}\n")
    (dist / "secret.txt").write_text("not an asset\n")


@pytest.fixture
def bundle(tmp_path: Path) -> Iterator[Path]:
    dist = tmp_path / "dist"
    make_bundle(dist)
    with override_settings(VIDAI_FRONTEND_DIST=dist):
        yield dist


@pytest.mark.parametrize("url", PAGE_URLS)
def test_page_mounts_the_built_bundle(client: Client, bundle: Path, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<div id="vidai-status-page" data-status-url="/consultation/socket-status/"' in html
    # Anonymous: the try-it panel offers nothing; the page links to the login.
    assert 'data-logged-in="" data-consultation=""' in html
    assert 'data-feeds=""' in html
    assert 'href="/accounts/login/?next=' in html
    assets = "/consultation/socket-status/ui/assets/"
    assert f'<script type="module" src="{assets}main-abc123.js">' in html
    assert f'<link rel="stylesheet" href="{assets}main-def456.css">' in html
    assert "make frontend" not in html


@pytest.mark.django_db
def test_page_tells_the_panel_what_a_logged_in_user_may_open(client: Client, bundle: Path) -> None:
    create_accounts()
    client.force_login(get_user_model().objects.get(username="doctor"))
    html = client.get("/").content.decode()
    assert f'data-logged-in="1" data-consultation="{CONSULTATION_A}"' in html
    assert 'data-feeds=""' in html
    assert "Logged in as doctor." in html
    client.force_login(get_user_model().objects.get(username="plain"))
    html = client.get("/").content.decode()
    assert 'data-logged-in="1" data-consultation=""' in html


@pytest.mark.parametrize("url", PAGE_URLS)
def test_page_says_how_to_build_a_missing_bundle(client: Client, tmp_path: Path, url: str) -> None:
    with override_settings(VIDAI_FRONTEND_DIST=tmp_path / "never-built"):
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "has not been built yet" in html
    assert "<code>make frontend</code>" in html
    assert "npm ci &amp;&amp; npm run build:demo" in html
    assert "<script" not in html


def test_page_survives_a_broken_manifest(client: Client, bundle: Path) -> None:
    (bundle / ".vite" / "manifest.json").write_text(json.dumps({ENTRY: {"file": "../x.js"}}))
    html = client.get("/").content.decode()
    assert "has not been built yet" in html
    assert "<script" not in html


def test_assets_are_served_with_an_immutable_cache(client: Client, bundle: Path) -> None:
    js = client.get("/consultation/socket-status/ui/assets/main-abc123.js")
    assert js.status_code == 200
    assert js.content == b"console.log('vidai');\n"
    assert re.fullmatch(r"(text|application)/javascript; charset=utf-8", js["Content-Type"])
    assert js["Cache-Control"] == "public, max-age=31536000, immutable"
    css = client.get("/consultation/socket-status/ui/assets/main-def456.css")
    assert css.status_code == 200
    assert css["Content-Type"] == "text/css; charset=utf-8"
    assert client.head("/consultation/socket-status/ui/assets/main-abc123.js").status_code == 200
    assert client.post("/consultation/socket-status/ui/assets/main-abc123.js").status_code == 405


@pytest.mark.parametrize(
    "name", ["missing.js", "..", ".vite", "..%2Fsecret.txt", "%2E%2E%2Fsecret.txt", "../secret.txt"]
)
def test_only_files_in_assets_are_served(client: Client, bundle: Path, name: str) -> None:
    response = client.get("/consultation/socket-status/ui/assets/" + name)
    assert response.status_code == 404
    assert b"not an asset" not in response.content


# ---- the real browser ------------------------------------------------------


@contextlib.contextmanager
def open_sockets(
    server: LiveServer, paths: list[str], handshake: dict
) -> Iterator[list[ClientConnection]]:
    """Hold real client sockets open on the server; close them (1000) afterwards."""
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(connect(server.ws + path, open_timeout=10, **handshake))
            for path in paths
        ]


def log_in(page: Page, server: LiveServer, username: str) -> None:
    """Log in through the login page, as a person would."""
    page.goto(f"{server.http}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(username)


def indicators(page: Page) -> tuple[Locator, Locator]:
    return page.locator(".vidai-ssi--compact"), page.locator(".vidai-ssi--full")


def expect_state(page: Page, state: str, compact_text: str, full_text: str, timeout: float) -> None:
    """Both indicators show ``state`` within ``timeout`` ms, in words as well as colour."""
    for locator, text in zip(indicators(page), (compact_text, full_text), strict=True):
        # The symbol before the words is aria-hidden; the words are what must match.
        summary = re.compile(rf"^\W*WebSockets: {re.escape(text)}$")
        expect(locator.get_by_role("status")).to_have_text(summary, timeout=timeout)
        expect(locator).to_have_attribute("data-state", state, timeout=100)


def shoot(page: Page, shots: Path, name: str) -> None:
    """The whole page, and each indicator alone."""
    compact, full = indicators(page)
    page.screenshot(path=shots / f"{name}-page.png", full_page=True)
    compact.screenshot(path=shots / f"{name}-compact.png")
    full.screenshot(path=shots / f"{name}-full.png")


def trend(page: Page) -> Locator:
    return page.locator(".vidai-ssi--full .vidai-ssi__trend")


def type_count(page: Page, socket_type: str) -> Locator:
    return page.locator(f'.vidai-ssi--full tr[data-type="{socket_type}"] td').first


@pytest.mark.server
@pytest.mark.system_tool
def test_indicator_follows_the_real_server_in_chromium(
    sqlite_path: str, accounts: Accounts
) -> None:
    executable = require_tool("chromium")
    require_bundle()
    shots = fresh_output_dir("indicator")
    port = free_port()
    app = "vidai.asgi:application"
    test_sockets = [
        f"/ws/call/{CONSULTATION_A}/",
        f"/ws/call/{CONSULTATION_A}/",
        "/ws/stt/",
        f"/ws/stt/room/?consultation={CONSULTATION_A}",
        "/ws/stt/sales/",
    ]

    with sync_playwright() as playwright, chromium(playwright, executable) as browser:
        page = browser.new_page(viewport={"width": 960, "height": 1000}, device_scale_factor=2)
        watch = PageWatch(STATUS_PATH).attach(page)

        with run_server("uvicorn", sqlite_path, app=app, port=port) as server:
            # Staff, observing consultation A: the try-it panel may open every type.
            log_in(page, server, "staff")
            loaded = time.monotonic()
            page.goto(f"{server.http}/?interval={INTERVAL_MS}")
            # The first request goes at once: nothing is open yet.
            expect_state(page, "zero", "0 sockets", "No open sockets", timeout=ONE_POLL_MS)
            expect(type_count(page, "call")).to_have_text("0")
            shoot(page, shots, "zero")

            with open_sockets(server, test_sockets, accounts.handshake(server, "staff")):
                opened = time.monotonic()
                expect_state(page, "ok", "5 sockets", "5 open sockets", timeout=ONE_POLL_MS)
                assert time.monotonic() - opened < ONE_POLL_MS / 1000
                expect(type_count(page, "call")).to_have_text("2")
                expect(type_count(page, "stt_room")).to_have_text("1")

                # The try-it panel opens real sockets of each type from the browser.
                try_types = ["call", "stt", "stt_room", "stt_sales", "stt_admin"]
                for socket_type in try_types:
                    page.get_by_role("button", name=f"Open {socket_type} socket").click()
                for socket_type in try_types:
                    expect(page.get_by_test_id(f"open-{socket_type}")).to_have_text("1")
                expect_state(page, "ok", "10 sockets", "10 open sockets", timeout=ONE_POLL_MS)
                for socket_type, count in {"call": 3, "stt": 2, "stt_room": 2}.items():
                    expect(type_count(page, socket_type)).to_have_text(str(count))
                # The full indicator's trend: the total over the last polls, rising.
                expect(trend(page)).to_have_attribute("data-totals", re.compile(r"^0,.*\b10$"))
                expect(page.locator(".vidai-ssi--compact .vidai-ssi__trend")).to_have_count(0)
                shoot(page, shots, "ok")
                for socket_type in try_types:
                    page.get_by_role("button", name=f"Close all {socket_type} sockets").click()
                    expect(page.get_by_test_id(f"open-{socket_type}")).to_have_text("0")
                expect_state(page, "ok", "5 sockets", "5 open sockets", timeout=ONE_POLL_MS)

                # Two indicators, one poller: one request per interval.
                polled = time.monotonic()
                made = watch.requests_between(loaded, polled)
                intervals = (polled - loaded) / (INTERVAL_MS / 1000)
                assert intervals - 1 <= made <= intervals + 2, (made, intervals)

                # A hidden tab makes no request; showing it asks at once.
                set_visibility(page, "hidden")
                hidden_at = time.monotonic()
                page.wait_for_timeout(INTERVAL_MS + 1500)
                assert watch.requests_between(hidden_at, time.monotonic()) == 0
                # "At once": well before the next interval would have asked, with
                # room for a busy machine's event dispatch.
                shown_at = time.monotonic()
                with page.expect_request(
                    lambda r: r.url.endswith(STATUS_PATH), timeout=INTERVAL_MS / 2
                ):
                    set_visibility(page, "visible")
                assert time.monotonic() - shown_at < INTERVAL_MS / 2000

        stopped = time.monotonic()
        expect_state(
            page, "unreachable", "Unreachable", "Server unreachable", timeout=2 * INTERVAL_MS
        )
        assert time.monotonic() - stopped < 2 * INTERVAL_MS / 1000
        expect(page.locator(".vidai-ssi--full")).to_contain_text("Counts unknown")
        expect(page.locator(".vidai-ssi--full")).to_contain_text("Errornetwork error")
        shoot(page, shots, "unreachable")

        with run_server("uvicorn", sqlite_path, app=app, port=port):
            restarted = time.monotonic()
            # Retries back off (with jitter) to at most 4 intervals after errors.
            expect_state(page, "zero", "0 sockets", "No open sockets", timeout=4 * INTERVAL_MS)
            recovered = time.monotonic()
            # The outage is a gap in the trend (polls without an answer), then 0 again.
            totals = (trend(page).get_attribute("data-totals") or "").split(",")
            assert "" in totals, totals
            assert totals[-1] == "0", totals
            expect(trend(page)).to_have_accessible_name(re.compile(r"without an answer"))
            shoot(page, shots, "recovered")

        # The browser says a refused connection is an error: expected only while down.
        unexpected = [
            (text, url)
            for at, text, url in watch.console_errors
            if not (
                stopped <= at <= recovered
                and url.endswith(STATUS_PATH)
                and "ERR_CONNECTION_REFUSED" in text
            )
        ]
        assert unexpected == []
        assert watch.page_errors == []
        assert rejections(page) == []
        print(
            f"recovered {recovered - restarted:.1f} s after the restart; "
            f"{len(watch.console_errors)} refused-connection messages while down; "
            f"screenshots in {shots}"
        )
