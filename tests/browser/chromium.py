"""How the tests, the bench and the docs start Chromium: Debian's, headless, quiet."""

from __future__ import annotations

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
    # The mode goes in the address: the softphone is framed once, in that mode. Switching the
    # select after the page opened framed it twice, and a test could sign in to the first.
    url = proxy.console_url
    page.goto(f"{url}{'&' if '?' in url else '?'}mode={mode}")
    expect(page.locator("body[data-console=ready]")).to_be_attached()
    expect(page.get_by_label("Open CTI mode")).to_have_value(mode)
    return page.frame_locator("#softphone")
