"""Fixtures the site checks share: the built site served on localhost, and a headless Chromium."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.print_pdf import CHROMIUM_FLAGS, chromium_path

SITE = Path(__file__).resolve().parents[2] / "_build" / "html"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """Serve _build/html on an ephemeral localhost port for the module's tests."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    handler.log_message = lambda *args, **kwargs: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by Playwright (the system binary, no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
