"""Sign in with Salesforce from the softphone framed in the demo console, in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
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
        # Waited for from before the click: the popup may close before a later wait starts.
        with popup.expect_event("close", timeout=SLOW):
            popup.get_by_role("link", name="Sign in as Alex Morgan").click()
        expect(phone.get_by_text("Ready for calls")).to_be_visible(timeout=SLOW)
        expect(phone.get_by_role("heading", name="Alex Morgan")).to_be_visible()
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the pages: {errors}"


def test_a_hot_desk_agent_signing_in_with_salesforce_is_asked_for_the_phone(
    browser: Browser, public_proxy: RunningProxy
) -> None:
    """A hot-desk agent's first Salesforce sign-in ends with the phone asking for the Extension
    (their roster phone offered); with 2302 entered, the second one signs them in at 2302."""
    proxy = public_proxy
    casey = proxy.run(proxy.services.store.get_agent("1005"))
    assert casey is not None
    proxy.run(proxy.services.store.put_agent(replace(casey, kind="hot_desk")))
    proxy.run(proxy.services.seating.reload_roster())
    context = new_context(browser)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        page = context.new_page()
        page.goto(proxy.console_url)
        phone = page.frame_locator("#softphone")
        button = phone.get_by_role("button", name="Sign in with Salesforce")
        extension = phone.get_by_label("Extension", exact=True)
        expect(button).to_be_visible(timeout=SLOW)
        for attempt in range(2):
            with page.expect_popup() as opened:
                button.click()
            popup = opened.value
            # Waited for from before the click: the popup may close before a later wait starts.
            with popup.expect_event("close", timeout=SLOW):
                popup.get_by_role("link", name="Sign in as Casey Novak").click()
            if not attempt:
                expect(phone.get_by_role("alert").first).to_contain_text("again", timeout=SLOW)
                expect(extension).to_have_value("1005")
                extension.fill("2302")
        expect(phone.get_by_text("Ready for calls")).to_be_visible(timeout=SLOW)
        expect(phone.get_by_role("heading", name="Casey Novak")).to_be_visible()
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the pages: {errors}"
    assert proxy.services.seating.device_of("1005") == "2302"
