from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.chromium import CHROMIUM, FLAGS
from tests.harness import RunningProxy


# Package scope, not session: sync Playwright keeps an event loop running on this thread while
# it is open, which would break the async tests that run after the browser tests.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; scripts/test installs it, so its absence is a failure."""
    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/test, which installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, proxy: RunningProxy) -> Iterator[Page]:
    """A fresh browser context on the proxy; closed before the proxy stops."""
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
