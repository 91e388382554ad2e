"""Headless Debian Chromium driven by Playwright for Python, for the browser tests.

No browser is downloaded: Playwright launches the system's ``chromium``
(Debian package ``chromium``) through ``executable_path``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request

from .servers import ROOT

BUNDLE_MANIFEST = ROOT / "frontend" / "demo" / "dist" / ".vite" / "manifest.json"
OUTPUT_DIR = ROOT / "test-output" / "browser"

# As in the workplace's probe: without the background-networking flags Chromium
# keeps dialling hosts a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Installed before any page script: records unhandled promise rejections.
RECORD_REJECTIONS = """
window.__unhandledRejections = [];
window.addEventListener("unhandledrejection", (event) => {
  window.__unhandledRejections.push(String(event.reason));
});
"""

# Emulates a hidden tab: headless Chromium reports every tab as visible.
SET_VISIBILITY = """(state) => {
  if (state === "visible") {
    delete document.visibilityState;
    delete document.hidden;
  } else {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  }
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def require_bundle() -> Path:
    """The built frontend's manifest; skip without it, or fail when CI requires tools."""
    if BUNDLE_MANIFEST.is_file():
        return BUNDLE_MANIFEST
    message = "the frontend bundle is not built (run `make frontend`)"
    if os.environ.get("VIDAI_REQUIRE_SYSTEM_TOOLS") == "1":
        pytest.fail(message + "; VIDAI_REQUIRE_SYSTEM_TOOLS=1 makes this an error")
    pytest.skip(message)


def fresh_output_dir(name: str) -> Path:
    """An emptied ``test-output/browser/<name>`` for screenshots."""
    path = OUTPUT_DIR / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def chromium(playwright: Playwright, executable: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=executable, args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class PageWatch:
    """What a page reported: console errors, uncaught errors, and requests to one path."""

    path: str
    console_errors: list[tuple[float, str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[float] = field(default_factory=list)

    def attach(self, page: Page) -> PageWatch:
        page.add_init_script(RECORD_REJECTIONS)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", self._on_request)
        return self

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            url = message.location.get("url", "")
            self.console_errors.append((time.monotonic(), message.text, url))

    def _on_request(self, request: Request) -> None:
        if request.url.split("?")[0].endswith(self.path):
            self.requests.append(time.monotonic())

    def requests_between(self, start: float, end: float) -> int:
        return sum(1 for at in self.requests if start <= at < end)


def set_visibility(page: Page, state: str) -> None:
    page.evaluate(SET_VISIBILITY, state)


def unhandled_rejections(page: Page) -> list[str]:
    return list(page.evaluate("window.__unhandledRejections"))
