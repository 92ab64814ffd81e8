"""How the tests, the bench and the docs start Chromium: Debian's, headless, quiet."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, FrameLocator, Page, expect

from tests.harness import RunningProxy

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def new_context(browser: Browser, **options: object) -> BrowserContext:
    """A fresh context as an agent's browser: the terminator's throwaway certificate is
    accepted (a real one would be trusted), everything else is Chromium's default."""
    options.setdefault("viewport", {"width": 1280, "height": 720})
    options.setdefault("locale", "en-US")
    return browser.new_context(ignore_https_errors=True, **options)  # type: ignore[arg-type]


def open_console(page: Page, proxy: RunningProxy, mode: str = "Lightning") -> FrameLocator:
    """The demo console playing Salesforce in `mode` ("Lightning" or "Classic") around the
    softphone page; the page's frame."""
    page.goto(proxy.console_url)
    if mode != "Lightning":
        # The console hears a mode change once it has found the softphone (it says so).
        expect(page.locator("#framing")).to_contain_text("Softphone framed")
        page.get_by_label("Open CTI mode").select_option(mode)
        # The console frames the page anew in that mode: wait for that page, not the first
        # one (a sign-in typed into the Lightning page as it went made a Lightning softphone).
        deadline = time.monotonic() + 10
        while not any(f"mode={mode}" in frame.url for frame in page.frames):
            assert time.monotonic() < deadline, f"the console never framed the page in {mode}"
            page.wait_for_timeout(50)
        framed = next(frame for frame in page.frames if f"mode={mode}" in frame.url)
        framed.wait_for_load_state()
    return page.frame_locator("#softphone")
