"""The demo console in headless Chromium: sign in, ring, pop, answer, hang up, as an agent would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

from tests.browser.chromium import new_context, open_console
from tests.harness import RunningProxy, running_proxy

pytestmark = pytest.mark.browser


def sign_in(phone: FrameLocator, address: str = "1001", password: str = "demo") -> None:
    phone.get_by_label("Sign-in address").fill(address)
    phone.get_by_label("Password").fill(password)
    phone.get_by_role("button", name="Sign in", exact=True).click()


def simulate(page: Page, agent: str = "1001", ani: str = "+16504508810", ivr: str = "") -> None:
    page.get_by_label("Agent", exact=True).select_option(agent)
    page.get_by_label("Caller number").fill(ani)
    page.get_by_label("IVR data (Object.Field=value, comma separated)").fill(ivr)
    page.get_by_role("button", name="Simulate inbound call").click()


def test_inbound_call_rings_and_pops_the_contact(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """Sign in, a simulated call rings with the caller's name, the console opens the Contact."""
    phone = open_console(page, proxy)
    sign_in(phone)
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    expect(phone.get_by_role("heading", name="Alex Morgan")).to_be_visible()
    page.screenshot(path=artifacts / "01-idle.png")

    simulate(page)
    expect(phone.get_by_text("Incoming call")).to_be_visible()
    expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
    expect(phone.get_by_text("+1 650-450-8810")).to_be_visible()
    record_tab = page.get_by_role("tab", name="Contact: Maria Chen")
    expect(record_tab).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel").get_by_text("(650) 450-8810")).to_be_visible()
    page.screenshot(path=artifacts / "02-ringing-popped.png")

    phone.get_by_role("button", name="Answer").click()
    expect(phone.get_by_text("On call")).to_be_visible()
    expect(phone.get_by_role("button", name="Answer")).to_be_hidden()
    page.screenshot(path=artifacts / "03-on-call.png")

    phone.get_by_role("button", name="Hang up").click()
    expect(phone.get_by_text("Call ended")).to_be_visible()
    expect(phone.get_by_text("Ready for calls")).to_be_visible(timeout=6000)
    # One pop for one call: exactly one record tab besides Home.
    expect(page.get_by_role("tab")).to_have_count(2)


def test_ivr_case_pops_in_classic_mode(page: Page, proxy: RunningProxy, artifacts: Path) -> None:
    """In Classic mode (interaction.js) the IVR case number pops the Case page."""
    phone = open_console(page, proxy, mode="Classic")
    sign_in(phone, "1002")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    simulate(page, agent="1002", ani="", ivr="Case.CaseNumber=00001027")
    expect(page.get_by_role("tab", name="Case: 00001027")).to_be_visible()
    expect(phone.get_by_text("Number withheld")).to_be_visible()
    page.screenshot(path=artifacts / "04-classic-case-pop.png")


def test_unknown_caller_opens_prefilled_new_contact(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """An unknown number opens a New Contact form with the number already in Phone."""
    phone = open_console(page, proxy)
    sign_in(phone, "1003")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    simulate(page, agent="1003", ani="+14155550000")
    dialog = page.get_by_role("dialog", name="New Contact")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Phone")).to_have_value("+1 415-555-0000")
    expect(phone.get_by_role("heading", name="Unknown caller")).to_be_visible()
    page.screenshot(path=artifacts / "05-new-contact.png")


def test_reload_during_ringing_still_pops(page: Page, proxy: RunningProxy) -> None:
    """A call that rang while the page was away pops as soon as the page is back."""
    phone = open_console(page, proxy)
    sign_in(phone, "1004")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    # The softphone frame goes away (Classic reloads it on every tab switch) ...
    page.evaluate("document.getElementById('softphone').src = 'about:blank'")
    call_id = proxy.place_call(agent="1004", ani="+16504508810")
    page.wait_for_timeout(300)
    # ... and comes back: same session (storage is blocked: from the partitioned cookie), the
    # call and its pop are there.
    page.evaluate(
        "(base) => document.getElementById('softphone').src ="
        " `${base}/softphone/softphone.html?mode=Lightning&sfdcIframeOrigin=${location.origin}`"
        " + '&nonce=n2'",
        proxy.page_base,
    )
    expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
    expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_be_visible()
    # The page reports the pop once the host has opened it: poll, do not race it.
    machine = proxy.services.states.machine("1004")
    deadline = time.monotonic() + 10
    while not machine.calls[call_id].pop_delivered and time.monotonic() < deadline:
        time.sleep(0.05)
    assert machine.calls[call_id].pop_delivered


def test_wrong_password_is_said_plainly(page: Page, proxy: RunningProxy) -> None:
    """A wrong password leaves the agent on the sign-in screen with a plain message."""
    phone = open_console(page, proxy)
    sign_in(phone, "1001", "not-the-password")
    expect(phone.get_by_role("alert").first).to_have_text("Wrong sign-in address or password.")
    expect(phone.get_by_role("button", name="Sign in", exact=True)).to_be_enabled()


def test_page_opened_directly_runs_standalone(page: Page, proxy: RunningProxy) -> None:
    """Without Salesforce around it the page shows pops in its own list."""
    page.goto(f"{proxy.page_base}/softphone/softphone.html")
    page.get_by_label("Sign-in address").fill("1005")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Ready for calls")).to_be_visible()
    proxy.place_call(agent="1005", ani="+16504508810")
    expect(page.get_by_role("region", name="Opened records")).to_contain_text("Contact: Maria Chen")


def test_origin_with_other_protocol_falls_back_to_standalone(
    page: Page, proxy: RunningProxy
) -> None:
    """Open CTI refuses an https origin for an http page; the phone still works and pops inside."""
    page.goto(
        f"{proxy.base_url}/softphone/softphone.html?mode=Lightning"
        "&sfdcIframeOrigin=https%3A%2F%2Facme.lightning.force.com&nonce=abc"
    )
    page.get_by_label("Sign-in address").fill("1004")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Ready for calls")).to_be_visible()
    proxy.place_call(agent="1004", ani="+14155550000")
    expect(page.get_by_role("region", name="Opened records")).to_contain_text(
        "New Contact form for +1 415-555-0000"
    )


def test_french_browser_gets_french(browser: Browser, proxy: RunningProxy) -> None:
    """A browser set to fr-FR sees the sign-in screen in French."""
    context = new_context(browser, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{proxy.page_base}/softphone/softphone.html")
    expect(page.get_by_role("button", name="Se connecter", exact=True)).to_be_visible()
    expect(page.get_by_label("Adresse de connexion")).to_be_visible()
    context.close()


def test_caller_name_with_markup_is_shown_as_text(page: Page, proxy: RunningProxy) -> None:
    """A record name holding HTML is displayed literally; nothing in it runs."""
    assert proxy.services.org is not None
    proxy.services.org.insert(
        "Contact",
        {"FirstName": "<img src=x onerror=alert(1)>", "LastName": "Evil", "Phone": "650 555 0199"},
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    phone = open_console(page, proxy)
    sign_in(phone, "1005")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    simulate(page, agent="1005", ani="+16505550199")
    expect(phone.get_by_role("heading", name="<img src=x onerror=alert(1)> Evil")).to_be_visible()
    expect(phone.locator("img")).to_have_count(0)
    assert dialogs == []


@pytest.fixture
def budget_spent_proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    """A proxy whose API budget floor is above what the org has left: browsers search."""
    with running_proxy(tmp_path, api_budget_floor=10**9) as running:
        yield running


@pytest.mark.parametrize("mode", ["Lightning", "Classic"])
def test_below_budget_floor_the_browser_searches_and_pops(
    browser: Browser, budget_spent_proxy: RunningProxy, mode: str, artifacts: Path
) -> None:
    """searchAndScreenPop (Lightning) or our Apex class (Classic) finds and pops the caller."""
    proxy = budget_spent_proxy
    context = new_context(browser, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    phone = open_console(page, proxy, mode)
    sign_in(phone, "1002")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    before = proxy.api_calls
    simulate(page, agent="1002", ani="+16504508811")
    expect(page.get_by_role("tab", name="Contact: James Okafor")).to_be_visible()
    expect(phone.get_by_role("heading", name="+1 650-450-8811")).to_be_visible()
    expect(phone.get_by_text("Looked up in Salesforce")).to_be_visible()
    method = "searchAndScreenPop" if mode == "Lightning" else "runApex"
    expect(page.locator("#cti-log")).to_contain_text(method)
    assert proxy.api_calls == before  # the server spent nothing on this caller
    page.screenshot(path=artifacts / f"06-browser-search-{mode.lower()}.png")
    context.close()


def test_pop_at_answer_waits_for_answer(browser: Browser, tmp_path: Path) -> None:
    """With pop at answer the record opens when the agent answers, not while it rings."""
    with running_proxy(tmp_path, pop_at="answer") as proxy:
        context = new_context(browser, viewport={"width": 1280, "height": 720})
        page = context.new_page()
        phone = open_console(page, proxy)
        sign_in(phone, "1003")
        expect(phone.get_by_text("Ready for calls")).to_be_visible()
        simulate(page, agent="1003", ani="+16504508810")
        expect(phone.get_by_role("heading", name="Maria Chen")).to_be_visible()
        page.wait_for_timeout(500)
        expect(page.get_by_role("tab")).to_have_count(1)  # only Home while it rings
        phone.get_by_role("button", name="Answer").click()
        expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_be_visible()
        context.close()


def test_call_control_from_the_panel(page: Page, proxy: RunningProxy, artifacts: Path) -> None:
    """Hold, retrieve, consult a colleague, complete the transfer, dial, make busy: all from
    the panel's own controls."""
    phone = open_console(page, proxy)
    sign_in(phone, "1001")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    simulate(page, agent="1001", ani="+16504508810")
    phone.get_by_role("button", name="Answer").click()
    phone.get_by_role("button", name="Hold").click()
    expect(phone.get_by_text("On hold")).to_be_visible()
    page.screenshot(path=artifacts / "07-on-hold.png")
    phone.get_by_role("button", name="Retrieve").click()
    expect(phone.get_by_role("button", name="Hold")).to_be_visible()
    phone.get_by_label("Transfer or redirect to").fill("1002")
    phone.get_by_role("button", name="Consult").click()
    expect(phone.get_by_role("button", name="Complete transfer")).to_be_visible()
    expect(phone.get_by_text("Other calls")).to_be_visible()
    page.screenshot(path=artifacts / "08-consulting.png")
    phone.get_by_role("button", name="Complete transfer").click()
    expect(phone.get_by_text("Ready for calls")).to_be_visible(timeout=6000)
    assert proxy.services.pbx is not None
    assert [leg.agent for leg in proxy.services.pbx.legs.values()] == ["1002"]

    phone.get_by_label("Agent state").select_option(label="Make busy: Lunch")
    expect(phone.get_by_text("Busy: Lunch", exact=True)).to_be_visible()
    phone.get_by_label("Number to dial").fill("(415) 555-0132")
    phone.get_by_label("Number to dial").press("Enter")
    expect(phone.get_by_text("Dialing")).to_be_visible()
    expect(phone.get_by_role("heading", name="914155550132")).to_be_visible()
    page.screenshot(path=artifacts / "09-dialing.png")


def test_keyboard_only_answer_hold_hang_up(page: Page, proxy: RunningProxy) -> None:
    """An agent who never touches the mouse can answer, hold, retrieve and hang up."""
    phone = open_console(page, proxy)
    sign_in(phone, "1003")
    expect(phone.get_by_text("Ready for calls")).to_be_visible()
    simulate(page, agent="1003", ani="+16504508811")
    answer = phone.get_by_role("button", name="Answer")
    answer.focus()
    page.keyboard.press("Enter")
    hold = phone.get_by_role("button", name="Hold")
    hold.focus()
    page.keyboard.press("Enter")
    retrieve = phone.get_by_role("button", name="Retrieve")
    retrieve.focus()
    page.keyboard.press("Space")
    hang_up = phone.get_by_role("button", name="Hang up")
    hang_up.focus()
    page.keyboard.press("Enter")
    expect(phone.get_by_text("Call ended")).to_be_visible()
