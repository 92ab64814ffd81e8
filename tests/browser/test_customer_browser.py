"""The softphone as an agent's browser meets it inside Salesforce: framed cross-site from
`https://acme.lightning.force.com`, served over https through a TLS terminator, third-party
cookies and storage blocked (Chromium's default for a third-party frame, Safari's, incognito's)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Frame, FrameLocator, Page, expect

from tests.browser.chromium import new_context
from tests.harness import RunningProxy
from tests.tls_terminator import PUBLIC_HOST

pytestmark = pytest.mark.browser
BLOCKED = "() => { try { sessionStorage.length; return false } catch { return true } }"


def open_console(page: Page, proxy: RunningProxy) -> FrameLocator:
    page.goto(proxy.console_url)
    return page.frame_locator("#softphone")


def softphone_frame(page: Page) -> Frame:
    return next(f for f in page.frames if "/softphone/softphone.html" in f.url)


def sign_in(phone: FrameLocator, address: str) -> None:
    phone.get_by_label("Sign-in address").fill(address)
    phone.get_by_label("Password").fill("demo")
    phone.get_by_role("button", name="Sign in", exact=True).click()


def wait_for_tasks(proxy: RunningProxy, count: int) -> int:
    assert proxy.services.org is not None
    deadline = time.monotonic() + 10
    while len(proxy.services.org.tasks()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(proxy.services.org.tasks())


def test_a_call_from_ring_to_logged_with_storage_blocked(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """Cross-site with storage blocked, the agent signs in, the call rings and pops, is answered,
    wrapped up and logged as one Task."""
    phone = open_console(page, proxy)
    sign_in(phone, "1001")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    frame = softphone_frame(page)
    assert frame.url.startswith(f"https://{PUBLIC_HOST}/")
    assert frame.evaluate(BLOCKED), "the frame should be third-party with storage blocked"

    proxy.place_call(agent="1001", ani="+16504508810")
    expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
    expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_be_visible()
    phone.get_by_role("button", name="Answer").click()
    expect(phone.get_by_text("On call")).to_be_visible()
    phone.get_by_role("button", name="Hang up").click()
    wrap_up = phone.get_by_role("region", name="Maria Chen")
    expect(wrap_up.get_by_text("Call ended")).to_be_visible()
    page.screenshot(path=artifacts / "30-cross-site-wrap-up.png")
    wrap_up.get_by_role("button", name="Save & Exit").click()
    expect(phone.get_by_text("Call saved.")).to_be_visible()
    assert wait_for_tasks(proxy, 1) == 1


def test_reload_while_ringing_resumes_from_the_partitioned_cookie(
    page: Page, proxy: RunningProxy
) -> None:
    """Storage is blocked, yet after a reload during ringing the agent is still signed in (the
    session cookie is partitioned, which Chromium keeps) and the owed pop is delivered, once."""
    phone = open_console(page, proxy)
    sign_in(phone, "1002")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    # The page goes away before the call rings, so its pop is owed ...
    page.evaluate("document.getElementById('softphone').src = 'about:blank'")
    proxy.place_call(agent="1002", ani="+16504508810")
    page.wait_for_timeout(300)
    # ... and Salesforce reloads: no sign-in form, the call rings and pops.
    page.reload()
    phone = page.frame_locator("#softphone")
    expect(phone.get_by_role("button", name="Answer")).to_be_visible()
    expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
    expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_have_count(1)
    page.wait_for_timeout(500)
    expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_have_count(1)


def test_where_nothing_survives_a_reload_asks_to_sign_in_and_still_pops(
    browser: Browser, proxy: RunningProxy, artifacts: Path
) -> None:
    """A browser that keeps no cookie either (Safari before partitioned cookies): after a reload
    the sign-in form says why in one line, and once signed in the ringing call pops."""
    context = new_context(browser)
    try:
        page = context.new_page()

        phone = open_console(page, proxy)
        sign_in(phone, "1003")
        expect(phone.get_by_text("Ready for calls")).to_be_visible()
        page.evaluate("document.getElementById('softphone').src = 'about:blank'")
        context.clear_cookies()  # the partitioned session cookie too: nothing survives
        page.reload()
        phone = page.frame_locator("#softphone")
        note = phone.get_by_text("Your browser blocks storage for embedded pages")
        expect(note).to_be_visible()
        page.screenshot(path=artifacts / "31-storage-blocked-sign-in.png")
        proxy.place_call(agent="1003", ani="+16504508810")
        sign_in(phone, "1003")
        expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
        expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_have_count(1)
    finally:
        context.close()


def test_same_site_framing_keeps_storage_and_works(page: Page, proxy: RunningProxy) -> None:
    """Framed from its own site (a console on the proxy's host), storage is there and the
    phone rings and pops as well."""
    page.goto(f"{proxy.page_base}/console/?softphone={proxy.page_base}")
    phone = page.frame_locator("#softphone")
    sign_in(phone, "1004")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    assert not softphone_frame(page).evaluate(BLOCKED)
    proxy.place_call(agent="1004", ani="+16504508810")
    expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_be_visible()


def test_hot_desk_agent_is_asked_for_the_phone_and_rings_there(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """Only a hot-desk agent sees the Extension field, after their password is checked, filled
    with their usual phone; they sit at another one and calls to it ring their page."""
    phone = open_console(page, proxy)
    extension = phone.get_by_label("Extension", exact=True)
    expect(extension).to_be_hidden()
    phone.get_by_label("Sign-in address").fill("desk@demo.example")
    phone.get_by_label("Password").fill("demo")
    phone.get_by_role("button", name="Sign in", exact=True).click()
    expect(phone.get_by_role("alert").first).to_contain_text("enter the extension")
    expect(extension).to_be_visible()
    expect(extension).to_have_value("2301")  # the roster's phone, offered first
    page.screenshot(path=artifacts / "32-hot-desk-extension.png")
    extension.fill("2302")
    phone.get_by_role("button", name="Sign in", exact=True).click()
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    expect(phone.get_by_text("Extension 2302")).to_be_visible()
    proxy.place_call(agent="2302", ani="+16504508810")
    expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
    expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_be_visible()


def test_agent_whose_address_is_not_the_extension_gets_calls_at_it(
    page: Page, proxy: RunningProxy
) -> None:
    """maria@demo.example is on 2201 in the roster: no Extension field, and a call to 2201
    rings and pops on her page."""
    phone = open_console(page, proxy)
    sign_in(phone, "maria@demo.example")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    expect(phone.get_by_label("Extension", exact=True)).to_be_hidden()
    expect(phone.get_by_text("Extension 2201")).to_be_visible()
    proxy.place_call(agent="2201", ani="+16504508810")
    expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
    expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_be_visible()
