"""Headless Chromium for the tests that look at pages: offline, with a fresh profile.

Debian's ``chromium`` (``.ci/run`` installs it where missing) is driven by
Playwright's Python package. The browser starts with the network off: any
request other than a ``file:`` URL is aborted and recorded, as are console
messages and page errors, so a test can say that a page loads nothing and
says nothing. Without Chromium or Playwright the tests are skipped, except
under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CHROMIUM = "/usr/bin/chromium"

#: Chromium's flags: no sandbox (root in a container), no GPU, and nothing
#: that reaches the network on its own (QUIC, updates, sync, first run).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: The longest a page may take to load, in milliseconds.
TIMEOUT_MS = 30_000


def require_chromium() -> Any:
    """Return Playwright's sync API, or skip (fail under CI) without a browser."""
    missing = None
    if shutil.which(CHROMIUM) is None:
        missing = f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: PLC0415 - optional, for these tests
    except ImportError:
        missing = missing or "playwright is not installed (the test extra)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return playwright.sync_api


@dataclass
class Visit:
    """What a page did while it loaded."""

    page: Any
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def offline_browser(profile: Path) -> Iterator[Any]:
    """Yield a Chromium context with the network off and a fresh profile."""
    sync_api = require_chromium()
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
            offline=True,
            timeout=TIMEOUT_MS,
        )
        try:
            yield context
        finally:
            context.close()


def visit(context: Any, url: str) -> Visit:
    """Open `url` in `context`, recording requests, console lines and errors."""
    page = context.new_page()
    seen = Visit(page)

    def route(request_route: Any) -> None:
        address = request_route.request.url
        if address.startswith("file:"):
            request_route.continue_()
        else:
            seen.blocked.append(address)
            request_route.abort()

    page.route("**/*", route)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("console", lambda line: seen.console.append((line.type, line.text)))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    return seen
