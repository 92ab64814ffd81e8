"""Open CTI in the demo console, search, sign-in refusals, reconnection, pops shared by tabs and
desktop notifications, in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Page, WebSocketRoute, expect

from tests.browser.chromium import new_context, open_console
from tests.harness import RunningProxy, running_proxy

pytestmark = pytest.mark.browser

SLOW = 15_000  # ms: two cores shared with other runs; generous waits, never fixed sleeps
NOTIFICATION_SPY = """
window.__notifications = [];
const RealNotification = window.Notification;
function SpyNotification(title, options) {
  window.__notifications.push({ title, body: (options || {}).body || "" });
  this.close = () => {};
}
Object.defineProperty(SpyNotification, "permission", { get: () => RealNotification.permission });
SpyNotification.requestPermission = () => RealNotification.requestPermission();
window.Notification = SpyNotification;
"""
HIDE_PAGE = """
Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
"""


# --- helpers ---------------------------------------------------------------------------------
def new_page(
    browser: Browser, permissions: list[str] | None = None
) -> tuple[BrowserContext, Page, list[str]]:
    """A fresh context and page, collecting uncaught page errors."""
    context = new_context(browser, permissions=permissions)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def sign_in(phone: Page | FrameLocator, address: str, password: str = "demo") -> None:
    phone.get_by_label("Sign-in address").fill(address)
    phone.get_by_label("Password").fill(password)
    phone.get_by_role("button", name="Sign in", exact=True).click()


def signed_in(phone: Page | FrameLocator, address: str) -> None:
    sign_in(phone, address)
    expect(phone.get_by_text("Ready for calls")).to_be_visible(timeout=SLOW)


# --- Open CTI --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["Lightning", "Classic"])
def test_click_to_dial_on_a_record_page_dials_in_one_click(
    page: Page, proxy: RunningProxy, mode: str, artifacts: Path
) -> None:
    """A phone number on a record page in the console dials from the softphone in one click."""
    phone = open_console(page, proxy, mode)
    signed_in(phone, "1001")
    page.get_by_role("button", name="Open record").click()
    record = page.get_by_role("tabpanel")
    expect(page.get_by_role("tab", name="Contact: James Okafor")).to_be_visible()
    number = record.get_by_role("button", name="650.450.8811")
    expect(number).to_be_enabled()  # the softphone enabled click-to-dial when it signed in
    number.click()
    expect(phone.get_by_text("Dialing")).to_be_visible(timeout=SLOW)
    expect(phone.get_by_role("heading", name="916504508811")).to_be_visible()
    expect(page.locator("#cti-log")).to_contain_text("clickToDial")
    page.screenshot(path=artifacts / f"20-click-to-dial-{mode.lower()}.png")


def test_utility_item_says_ringing_then_on_call_then_phone(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """The utility bar item reads Ringing, then On call with a ticking time, Wrap-up, Phone."""
    phone = open_console(page, proxy)
    signed_in(phone, "1004")
    item = page.locator("#phone-toggle")
    label = page.locator("#phone-label")
    expect(label).to_have_text("Phone")
    expect(item).to_have_attribute("data-icon", "call")
    proxy.place_call(agent="1004", ani="+16504508810")
    expect(label).to_have_text("Ringing", timeout=SLOW)
    expect(item).to_have_attribute("data-icon", "phone_portrait")
    page.screenshot(path=artifacts / "21-utility-ringing.png")
    phone.get_by_role("button", name="Answer").click()
    expect(label).to_have_text(re.compile(r"^On call 00:0\d$"), timeout=SLOW)
    expect(item).to_have_attribute("data-icon", "end_call")
    first = label.text_content()
    expect(label).not_to_have_text(first or "", timeout=SLOW)  # it ticks
    page.screenshot(path=artifacts / "22-utility-on-call.png")
    phone.get_by_role("button", name="Hang up").click()
    expect(label).to_have_text("Wrap-up", timeout=SLOW)
    phone.get_by_role("button", name="Save & Exit").click()
    expect(label).to_have_text("Phone", timeout=SLOW)


def test_settings_name_the_pbx_from_the_call_center(page: Page, proxy: RunningProxy) -> None:
    """getCallCenterSettings' custom section names the PBX in the settings screen."""
    phone = open_console(page, proxy)
    signed_in(phone, "1005")
    phone.get_by_role("button", name="Settings").click()
    expect(phone.get_by_text("Connected to Mitel MiVoice Business")).to_be_visible()
    expect(page.locator("#cti-log")).to_contain_text("getCallCenterSettings")


def test_two_tabs_ring_and_only_the_one_used_last_pops(
    browser: Browser, proxy: RunningProxy, artifacts: Path
) -> None:
    """Two console tabs, one agent: the second opens signed in (the session cookie is shared
    under Salesforce's site), both ring and show the call, the tab used last pops."""
    context, first, errors = new_page(browser)
    second = context.new_page()
    # The agent signs in on the tab they are looking at: a click sent to a background tab's
    # cross-site frame (its own renderer process) is not what an agent does, and can be lost.
    first.bring_to_front()
    phone_one = open_console(first, proxy)
    signed_in(phone_one, "1002")
    phone_two = open_console(second, proxy)
    expect(phone_two.get_by_role("heading", name="Sam Rivera")).to_be_visible()
    # The agent goes back to the first tab and clicks in it: that is the tab they use now.
    first.bring_to_front()
    phone_one.get_by_role("heading", name="Sam Rivera").click()
    call_id = proxy.place_call(agent="1002", ani="+16504508810")
    for phone in (phone_one, phone_two):
        expect(phone.get_by_text("Incoming call")).to_be_visible(timeout=SLOW)
        expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
    expect(first.get_by_role("tab", name="Contact: Maria Chen")).to_be_visible(timeout=SLOW)
    # Long enough for the other tab's grace period to run out: it must still not pop.
    second.wait_for_timeout(3500)
    expect(second.get_by_role("tab")).to_have_count(1)  # Home only
    expect(first.get_by_role("tab")).to_have_count(2)
    assert proxy.services.states.machine("1002").calls[call_id].pop_delivered
    first.screenshot(path=artifacts / "23-two-tabs-popped.png")
    second.screenshot(path=artifacts / "24-two-tabs-not-popped.png")
    context.close()
    assert errors == []


def test_cut_connection_reconnects_and_shows_the_call_placed_meanwhile(
    browser: Browser, proxy: RunningProxy, artifacts: Path
) -> None:
    """The network drops: the page says it is reconnecting, backs off, comes back by itself
    and shows the call that rang while it was away."""
    context, page, errors = new_page(browser)
    cut = {"on": False}

    def agent_socket(ws: WebSocketRoute) -> None:
        # While the network is cut every new connection fails; otherwise it goes through.
        if cut["on"]:
            ws.close()
        else:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r"/ws/agent$"), agent_socket)
    page.goto(f"{proxy.page_base}/softphone/softphone.html")
    signed_in(page, "1003")
    cut["on"] = True
    context.set_offline(True)  # the browser says so: the page drops its socket at once
    status = page.locator("#connection")
    expect(status).to_have_attribute("data-state", "reconnecting", timeout=SLOW)
    expect(status).to_contain_text("Connection lost. Reconnecting in")
    page.screenshot(path=artifacts / "25-reconnecting.png")
    # Still cut after the first retries: the wait grows (backoff).
    expect(status).to_contain_text(re.compile(r"Reconnecting in [2-9]"), timeout=SLOW)
    proxy.place_call(agent="1003", ani="+16504508810")
    cut["on"] = False
    context.set_offline(False)
    expect(status).to_have_attribute("data-state", "connected", timeout=SLOW)
    expect(page.get_by_text("Incoming call")).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("heading", name="Maria Chen")).to_be_visible()
    page.screenshot(path=artifacts / "26-reconnected-with-call.png")
    context.close()
    assert errors == []


# --- search ----------------------------------------------------------------------------------
def test_search_by_name_and_dial_from_the_results(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """Typing a name lists James Okafor with his number; arrow down and Enter dial it,
    Escape clears the search."""
    phone = open_console(page, proxy)
    signed_in(phone, "1001")
    field = phone.get_by_role("searchbox", name="Search Salesforce")
    field.press_sequentially("Okafor", delay=40)
    results = phone.get_by_role("list", name="Search results")
    result = results.get_by_role("button", name="Call James Okafor")
    expect(result).to_be_visible(timeout=SLOW)
    expect(result).to_contain_text("Contact · 650.450.8811")
    expect(phone.get_by_role("status").filter(has_text="1 result")).to_be_visible()
    page.screenshot(path=artifacts / "27-search-results.png")
    field.press("ArrowDown")
    expect(result).to_be_focused()
    page.keyboard.press("Escape")
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    expect(results).to_be_hidden()
    field.press_sequentially("James Okafor", delay=40)
    expect(result).to_be_visible(timeout=SLOW)
    result.click()
    expect(phone.get_by_text("Dialing")).to_be_visible(timeout=SLOW)
    expect(phone.get_by_role("heading", name="916504508811")).to_be_visible()


def test_search_result_becomes_the_record_the_call_is_logged_against(
    page: Page, proxy: RunningProxy
) -> None:
    """On a call from an unknown number, a search result is picked as the Task's record."""
    phone = open_console(page, proxy)
    signed_in(phone, "1005")
    call_id = proxy.place_call(agent="1005", ani="+14155550000")
    page.get_by_role("dialog", name="New Contact").get_by_role("button", name="Cancel").click()
    phone.get_by_role("button", name="Answer").click()
    phone.get_by_role("searchbox", name="Search Salesforce").fill("James")
    pick = phone.get_by_role("button", name="Log this call against James Okafor")
    pick.click()
    expect(pick).to_have_attribute("aria-pressed", "true", timeout=SLOW)
    journal = proxy.services.journal
    picked = journal.logs[("1005", call_id)].picked
    assert picked is not None and picked.name == "James Okafor"


@pytest.fixture
def browser_search_proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    """No integration user: the server cannot search, the agents' own Salesforce does."""
    with running_proxy(tmp_path, salesforce_url="browser://") as running:
        yield running


def test_without_server_search_salesforce_searches(
    page: Page, browser_search_proxy: RunningProxy, artifacts: Path
) -> None:
    """search_unavailable: the query goes to Salesforce's own search (searchAndScreenPop)."""
    phone = open_console(page, browser_search_proxy)
    signed_in(phone, "1002")
    phone.get_by_role("searchbox", name="Search Salesforce").press_sequentially(
        "James Okafor", delay=40
    )
    expect(page.get_by_role("tab", name="Search: James Okafor")).to_be_visible(timeout=SLOW)
    expect(page.locator("#cti-log")).to_contain_text('searchAndScreenPop {"searchParams":"James')
    page.screenshot(path=artifacts / "28-search-in-salesforce.png")


# --- sign-in refusals ------------------------------------------------------------------------
def test_five_wrong_passwords_lock_signing_in_for_15_minutes(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """The fifth wrong password locks the address; the page says for how long."""
    page.goto(f"{proxy.page_base}/softphone/softphone.html")
    alert = page.locator("#signin-error")
    for _ in range(4):
        sign_in(page, "1004", "wrong")
        expect(alert).to_have_text("Wrong sign-in address or password.", timeout=SLOW)
        expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_enabled(timeout=SLOW)
        page.evaluate("document.getElementById('signin-error').textContent = ''")
    sign_in(page, "1004", "wrong")
    expect(alert).to_have_text(
        "Too many wrong passwords: signing in is locked for 15 minutes.", timeout=SLOW
    )
    page.screenshot(path=artifacts / "29-locked-out.png")


def test_all_seats_taken_is_said_plainly(browser: Browser, tmp_path: Path) -> None:
    """With one seat and another agent signed in, the page says the seats are full."""
    with running_proxy(tmp_path, max_agents=1) as proxy:
        proxy.sign_in("1001")
        context, page, errors = new_page(browser)
        page.goto(f"{proxy.page_base}/softphone/softphone.html")
        sign_in(page, "1002")
        expect(page.locator("#signin-error")).to_have_text(
            "All softphone seats are in use. Ask your administrator to free one.", timeout=SLOW
        )
        context.close()
        assert errors == []


# --- desktop notifications -------------------------------------------------------------------
def test_incoming_call_on_a_hidden_page_notifies(browser: Browser, proxy: RunningProxy) -> None:
    """Notifications allowed and the page hidden: a ringing call shows a desktop notification."""
    context, page, errors = new_page(browser, permissions=["notifications"])
    context.add_init_script(NOTIFICATION_SPY)
    page.goto(f"{proxy.page_base}/softphone/softphone.html")
    signed_in(page, "1005")
    page.evaluate(HIDE_PAGE)
    proxy.place_call(agent="1005", ani="+16504508810")
    page.wait_for_function("window.__notifications.length === 1", timeout=SLOW)
    note = page.evaluate("window.__notifications[0]")
    assert note["title"] == "Incoming call"
    assert note["body"] in ("Maria Chen", "+1 650-450-8810")
    context.close()
    assert errors == []
