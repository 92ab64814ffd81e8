"""Sign in with Salesforce from the softphone framed in the demo console, in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.chromium import new_context
from tests.harness import RunningProxy, running_proxy
from tests.tls_terminator import PUBLIC_HOST

pytestmark = pytest.mark.browser

SLOW = 15_000  # ms: generous waits on shared machines, never fixed sleeps


@pytest.fixture
def public_proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    """Behind the TLS terminator the proxy sees http: only SOFTPHONE_PUBLIC_URL tells it the
    https address Salesforce must send the agent back to."""
    with running_proxy(tmp_path, public_url=f"https://{PUBLIC_HOST}") as running:
        yield running


def test_sign_in_with_salesforce_in_a_popup_makes_the_phone_ready(
    browser: Browser, public_proxy: RunningProxy
) -> None:
    """The Salesforce button opens a popup; choosing demo user 1 signs the framed phone in, the
    redirect coming back to the public https address."""
    proxy = public_proxy
    # The stand-in org serves TLS from a throwaway CA that only the proxy trusts.
    context = new_context(browser)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        page = context.new_page()
        page.goto(proxy.console_url)
        phone = page.frame_locator("#softphone")
        button = phone.get_by_role("button", name="Sign in with Salesforce")
        expect(button).to_be_visible(timeout=SLOW)
        with page.expect_popup() as opened:
            button.click()
        popup = opened.value
        popup.get_by_role("link", name="Sign in as Alex Morgan").click()
        popup.wait_for_event("close", timeout=SLOW)
        expect(phone.get_by_text("Ready for calls")).to_be_visible(timeout=SLOW)
        expect(phone.get_by_role("heading", name="Alex Morgan")).to_be_visible()
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the pages: {errors}"
