"""The agent's own features in headless Chromium: notes and wrap-up, favorites and history,
settings, quick notes; markup shown as text; French."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, FrameLocator, Locator, Page, expect

from softphone.agentdata import AgentSettings, Favorite
from tests.browser.chromium import new_context
from tests.harness import RunningProxy, running_proxy

pytestmark = pytest.mark.browser

MARKUP = "<img src=x onerror=alert(1)>"
APOSTROPHE = "\u2019"  # French typography, as in the page's fr.json


# --- helpers ---------------------------------------------------------------------------------
def open_console(page: Page, proxy: RunningProxy) -> FrameLocator:
    """The demo console (an Open CTI stand-in in Lightning mode) around the softphone."""
    page.goto(proxy.console_url)
    return page.frame_locator("#softphone")


def open_standalone(page: Page, proxy: RunningProxy) -> Page:
    """The softphone page on its own: pops are listed in the page."""
    page.goto(f"{proxy.page_base}/softphone/softphone.html")
    return page


def sign_in(phone: Page | FrameLocator, address: str) -> None:
    phone.get_by_label("Sign-in address").fill(address)
    phone.get_by_label("Password").fill("demo")
    phone.get_by_role("button", name="Sign in", exact=True).click()
    expect(phone.get_by_text("Ready for calls")).to_be_visible()


def notes_box(phone: Page | FrameLocator | Locator) -> Locator:
    return phone.get_by_role("textbox", name="Notes", exact=True)


def answer_and_hang_up(phone: Page | FrameLocator, notes: str = "") -> None:
    phone.get_by_role("button", name="Answer").click()
    expect(phone.get_by_text("On call")).to_be_visible()
    if notes:
        notes_box(phone).fill(notes)
    phone.get_by_role("button", name="Hang up").click()
    expect(phone.get_by_text("Call ended")).to_be_visible()


def wait_for_tasks(proxy: RunningProxy, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The stand-in org's Tasks, once the Task writer has written `count` of them."""
    assert proxy.services.org is not None
    deadline = time.monotonic() + timeout
    while True:
        tasks = proxy.services.org.tasks()
        if len(tasks) >= count or time.monotonic() > deadline:
            return tasks
        time.sleep(0.1)


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether `check` comes true within `timeout` seconds (the server works on its own loop)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def settings_of(proxy: RunningProxy, agent: str) -> AgentSettings:
    return proxy.run(proxy.services.desk.settings(agent))


def favorites_of(proxy: RunningProxy, agent: str) -> list[Favorite]:
    return list(proxy.run(proxy.services.desk.data(agent)).favorites)


def save_settings(proxy: RunningProxy, agent: str, **changes: Any) -> None:
    current = settings_of(proxy, agent)
    proxy.run(proxy.services.desk.save_settings(agent, current.model_copy(update=changes)))


@pytest.fixture
def coded_proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    """A proxy whose admin wants a classification code on every call, and has account codes."""
    with running_proxy(
        tmp_path,
        classification_codes=["Sale", "Support request"],
        account_codes=["ACME-01", "ACME-02"],
        classification_required=True,
    ) as running:
        yield running


# --- wrap-up -------------------------------------------------------------------------------
def test_wrap_up_saves_the_notes_as_a_task(
    page: Page, coded_proxy: RunningProxy, artifacts: Path
) -> None:
    """Notes typed during the call are in wrap-up; with a classification chosen, Save & Exit
    logs one Task with those notes and leaves wrap-up."""
    proxy = coded_proxy
    phone = open_console(page, proxy)
    sign_in(phone, "1001")
    proxy.place_call(agent="1001", ani="+16504508810")
    phone.get_by_role("button", name="Answer").click()
    notes_box(phone).fill("Asked for the renewal quote.")
    expect(phone.get_by_text("Notes saved")).to_be_visible()  # auto-saved while on the call
    page.screenshot(path=artifacts / "10-notes-on-call.png")
    phone.get_by_role("button", name="Hang up").click()

    wrap_up = phone.get_by_role("region", name="Maria Chen")
    expect(wrap_up.get_by_text("Call ended")).to_be_visible()
    expect(notes_box(wrap_up)).to_have_value("Asked for the renewal quote.")
    expect(wrap_up.get_by_text("Saves automatically in")).to_be_visible()
    save_exit = wrap_up.get_by_role("button", name="Save & Exit")
    # A required classification blocks saving, and the page says why.
    expect(save_exit).to_be_disabled()
    expect(wrap_up.get_by_text("Choose a classification to save this call.")).to_be_visible()
    notes_box(wrap_up).fill("Asked for the renewal quote. Sending it today.")
    wrap_up.get_by_label("Classification").select_option("Sale")
    wrap_up.get_by_label("Account code").select_option("ACME-02")
    expect(save_exit).to_be_enabled()
    page.screenshot(path=artifacts / "11-wrap-up.png")
    save_exit.click()

    expect(phone.get_by_role("region", name="Maria Chen")).to_have_count(0)
    expect(phone.get_by_text("Call saved.")).to_be_visible()
    expect(phone.get_by_role("button", name="Save & Exit")).to_have_count(0)
    tasks = wait_for_tasks(proxy, 1)
    assert len(tasks) == 1
    task = tasks[0]
    assert task["Description"].startswith("Asked for the renewal quote. Sending it today.")
    assert "Account code: ACME-02" in task["Description"]
    assert task["CallDisposition"] == "Sale"
    assert task["WhoId"].startswith("003")  # Maria Chen, the only match
    page.screenshot(path=artifacts / "12-after-wrap-up.png")


def test_notes_from_the_ring_and_codes_shared_between_tabs(
    browser: Browser, coded_proxy: RunningProxy, artifacts: Path
) -> None:
    """Notes can be typed while the call still rings; a classification chosen in one tab
    shows in the agent's other tab at once and unblocks saving there."""
    proxy = coded_proxy
    context = new_context(browser, viewport={"width": 500, "height": 900}, locale="en-US")
    one, two = context.new_page(), context.new_page()
    open_standalone(one, proxy)
    sign_in(one, "1002")
    expect(one.get_by_text("Ready for calls")).to_be_visible()
    # The agent's other tab opens signed in: the session cookie is shared between tabs.
    open_standalone(two, proxy)
    expect(two.get_by_text("Ready for calls")).to_be_visible()
    proxy.place_call(agent="1002", ani="+16504508810")
    expect(one.get_by_role("button", name="Answer")).to_be_visible()
    notes_box(one).fill("Rang about the renewal")
    expect(one.get_by_text("Notes saved")).to_be_visible()
    answer_and_hang_up(one)
    wrap_one = one.get_by_role("region", name="Maria Chen")
    wrap_two = two.get_by_role("region", name="Maria Chen")
    expect(notes_box(wrap_two)).to_have_value("Rang about the renewal")
    expect(wrap_two.get_by_role("button", name="Save & Exit")).to_be_disabled()
    wrap_one.get_by_label("Classification").select_option("Sale")
    wrap_one.get_by_label("Account code").select_option("ACME-01")
    expect(wrap_two.get_by_label("Classification")).to_have_value("Sale")
    expect(wrap_two.get_by_label("Account code")).to_have_value("ACME-01")
    expect(wrap_two.get_by_role("button", name="Save & Exit")).to_be_enabled()
    two.screenshot(path=artifacts / "30-codes-from-the-other-tab.png", full_page=True)
    wrap_two.get_by_role("button", name="Save & Exit").click()
    tasks = wait_for_tasks(proxy, 1)
    assert tasks[0]["CallDisposition"] == "Sale"
    assert tasks[0]["Description"].startswith("Rang about the renewal")
    context.close()


def test_save_and_new_task_opens_a_task_form(page: Page, proxy: RunningProxy) -> None:
    """Save & New Task logs the call, then Open CTI opens a new Task about the caller."""
    phone = open_console(page, proxy)
    sign_in(phone, "1002")
    proxy.place_call(agent="1002", ani="+16504508810")
    answer_and_hang_up(phone, notes="Wants a callback about the invoice.")
    phone.get_by_role("button", name="Save & New Task").click()
    dialog = page.get_by_role("dialog", name="New Task")
    expect(dialog).to_be_visible()
    tasks = wait_for_tasks(proxy, 1)
    assert len(tasks) == 1
    expect(dialog.get_by_label("WhoId")).to_have_value(tasks[0]["WhoId"])
    expect(page.locator("#cti-log")).to_contain_text("screenPop")


def test_several_matches_the_agent_picks_the_record(page: Page, proxy: RunningProxy) -> None:
    """Two records share the caller's number: the one the agent picks is the Task's WhoId."""
    assert proxy.services.org is not None
    twin = proxy.services.org.insert(
        "Lead",
        {"FirstName": "Mia", "LastName": "Chen", "Company": "Chen & Co", "Phone": "(650) 450-8810"},
    )
    open_standalone(page, proxy)
    sign_in(page, "1003")
    proxy.place_call(agent="1003", ani="+16504508810")
    picks = page.get_by_role("group", name="Log this call against")
    expect(picks.get_by_role("radio")).to_have_count(3)  # two records and "No record"
    picks.get_by_role("radio", name="Mia Chen").check()
    answer_and_hang_up(page)
    wrap_up = page.get_by_role("region", name="Mia Chen")
    expect(wrap_up.get_by_role("radio", name="Mia Chen")).to_be_checked()
    wrap_up.get_by_role("button", name="Save & Exit").click()
    tasks = wait_for_tasks(proxy, 1)
    assert [t["WhoId"] for t in tasks] == [twin["Id"]]


def test_without_auto_save_notes_wait_for_the_button(page: Page, proxy: RunningProxy) -> None:
    """With auto-save off, typing saves nothing; Save notes does."""
    save_settings(proxy, "1004", auto_save_notes=False)
    open_standalone(page, proxy)
    sign_in(page, "1004")
    call_id = proxy.place_call(agent="1004", ani="+16504508811")
    page.get_by_role("button", name="Answer").click()
    notes_box(page).fill("Only when I say so")
    expect(page.get_by_text("Not saved yet")).to_be_visible()
    page.wait_for_timeout(1200)
    journal = proxy.services.journal
    assert journal.logs[("1004", call_id)].notes == ""
    page.get_by_role("button", name="Save notes").click()
    expect(page.get_by_text("Notes saved", exact=True)).to_be_visible()
    assert journal.logs[("1004", call_id)].notes == "Only when I say so"


# --- favorites and history -----------------------------------------------------------------
def test_star_a_history_entry_and_dial_it_from_favorites(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """A call ends up in the history; its star makes it a favorite; the favorite dials."""
    phone = open_console(page, proxy)
    sign_in(phone, "1001")
    proxy.place_call(agent="1001", ani="+16504508810")
    answer_and_hang_up(phone)
    phone.get_by_role("button", name="Save & Exit").click()

    history = phone.get_by_role("region", name="Call history")
    expect(history.get_by_role("tab", name="All")).to_have_attribute("aria-selected", "true")
    entry = history.get_by_role("listitem").filter(has_text="Maria Chen")
    expect(entry).to_contain_text("+1 650-450-8810")  # formatted for people by the server
    star = entry.get_by_role("button", name="Favorite: Maria Chen")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")

    favorites = phone.get_by_role("region", name="Favorites")
    favorite = favorites.get_by_role("button", name="Call Maria Chen")
    expect(favorite).to_be_visible()
    assert [(f.number, f.name) for f in favorites_of(proxy, "1001")] == [
        ("+16504508810", "Maria Chen")
    ]
    # The Received list has it too; the person button opens the record.
    history.get_by_role("tab", name="Received").click()
    expect(history.get_by_role("button", name="Call Maria Chen")).to_be_visible()
    history.get_by_role("button", name="Open the record of Maria Chen").click()
    # The console now has the record twice: popped when the call rang, and now.
    expect(page.get_by_role("tab", name="Contact: Maria Chen")).to_have_count(2)
    expect(page.get_by_role("tab", selected=True)).to_have_text("Contact: Maria Chen")
    page.screenshot(path=artifacts / "13-favorites-history.png")

    favorite.click()
    expect(phone.get_by_text("Dialing")).to_be_visible()
    expect(phone.get_by_role("heading", name="916504508810")).to_be_visible()


def test_edit_number_fills_the_dial_field(page: Page, proxy: RunningProxy) -> None:
    """With "edit number" on, a favorite added by hand fills the dial field instead of dialling."""
    save_settings(proxy, "1005", edit_number=True)
    open_standalone(page, proxy)
    sign_in(page, "1005")
    page.get_by_text("Add a favorite").click()
    page.get_by_label("Name", exact=True).fill("Front desk")
    page.get_by_label("Phone number").fill("4155550132")
    page.get_by_label("Phone number").press("Enter")
    favorites = page.get_by_role("region", name="Favorites")
    favorites.get_by_role("button", name="Call Front desk").click()
    expect(page.get_by_label("Number to dial")).to_have_value("4155550132")
    expect(page.get_by_label("Number to dial")).to_be_focused()
    assert proxy.services.pbx is not None
    assert [leg for leg in proxy.services.pbx.legs.values() if leg.agent == "1005"] == []
    # The star on a favorite removes it.
    favorites.get_by_role("button", name="Favorite: Front desk").click()
    expect(favorites.get_by_text("No favorites yet.")).to_be_visible()


def test_a_51st_favorite_is_refused_plainly(page: Page, proxy: RunningProxy) -> None:
    """The server keeps 50 favorites; starting a 51st says so."""
    for n in range(50):
        favorite = Favorite(number=f"+1415555{n:04d}", name=f"Colleague {n:02d}")
        proxy.run(proxy.services.desk.add_favorite("1002", favorite))
    open_standalone(page, proxy)
    sign_in(page, "1002")
    page.get_by_text("Add a favorite").click()
    page.get_by_label("Phone number").fill("4155559999")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        "You have 50 favorites already. Remove one to add another."
    )
    assert len(favorites_of(proxy, "1002")) == 50


# --- settings ------------------------------------------------------------------------------
def press(locator: Locator, key: str) -> None:
    locator.focus()
    locator.press(key)


def test_settings_by_keyboard_survive_a_reload(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """Keyboard only: reorder the pop rules, drop one, tick internal calls, save; the server
    keeps them and a reloaded page shows them."""
    open_standalone(page, proxy)
    sign_in(page, "1003")
    press(page.get_by_role("button", name="Settings"), "Enter")
    expect(page.get_by_role("heading", name="Settings")).to_be_focused()
    general = page.get_by_role("tab", name="General")
    press(general, "ArrowRight")
    call_pop = page.get_by_role("tab", name="Call & pop")
    expect(call_pop).to_be_focused()
    expect(call_pop).to_have_attribute("aria-selected", "true")

    down = page.get_by_role("button", name="Move Caller ID down")
    press(down, "Enter")
    expect(
        page.get_by_role("status").filter(has_text="Caller ID is now number 2 of 4.")
    ).to_be_visible()
    expect(down).to_be_focused()  # focus stays with the rule that moved
    press(
        page.get_by_role("button", name="Do not pop with New Contact for unknown callers"), "Enter"
    )
    expect(
        page.get_by_role("button", name="Pop with New Contact for unknown callers again")
    ).to_be_focused()
    press(page.get_by_role("checkbox", name="Internal calls"), "Space")
    press(page.get_by_role("checkbox", name="Leads"), "Space")
    press(page.get_by_role("radio", name="While the phone rings"), "ArrowDown")
    expect(page.get_by_role("radio", name="When I pick up")).to_be_checked()
    page.screenshot(path=artifacts / "14-settings-call-pop.png", full_page=True)
    press(page.get_by_role("button", name="Save", exact=True), "Enter")
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    saved = settings_of(proxy, "1003")
    assert saved.pop_order == ("dnis", "ani", "ivr")
    assert saved.log_internal is True
    assert saved.match_objects == ("Contact", "Account")
    assert saved.pop_at == "answer"

    page.reload()
    expect(page.get_by_text("Ready for calls")).to_be_visible()
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("tab", name="Call & pop").click()
    order = page.get_by_role("group", name="Pop order").get_by_role("list").first
    expect(order.get_by_role("listitem")).to_have_text(["Dialled number", "Caller ID", "IVR data"])
    expect(page.get_by_role("checkbox", name="Internal calls")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Leads")).not_to_be_checked()
    expect(page.get_by_role("radio", name="When I pick up")).to_be_checked()
    page.get_by_role("tab", name="General").click()
    expect(page.get_by_role("checkbox", name="Save notes automatically as I type")).to_be_checked()


def test_own_quick_notes_are_added_to_the_call(page: Page, proxy: RunningProxy) -> None:
    """An agent adds a quick note of their own, clicks it and an admin's one into the call."""
    open_standalone(page, proxy)
    sign_in(page, "1004")
    call_id = proxy.place_call(agent="1004", ani="+16504508810")
    page.get_by_role("button", name="Answer").click()
    page.get_by_text("Quick notes", exact=True).click()
    page.get_by_label("New quick note").fill("Prefers email")
    page.get_by_label("New quick note").press("Enter")
    page.get_by_role("button", name="Add quick note: Prefers email").click()
    page.get_by_role("button", name="Add quick note: Will call back").click()
    chips = page.get_by_role("list", name="Quick notes added")
    expect(chips.get_by_role("listitem")).to_have_text(["Prefers email", "Will call back"])
    chips.get_by_role("button", name="Remove quick note: Will call back").click()
    expect(chips.get_by_role("listitem")).to_have_text(["Prefers email"])
    journal = proxy.services.journal
    assert eventually(lambda: journal.logs[("1004", call_id)].quick_notes == ("Prefers email",))
    data = proxy.run(proxy.services.desk.data("1004"))
    assert data.own_quick_notes == ("Prefers email",)
    page.get_by_role("button", name="Delete my quick note: Prefers email").click()
    expect(page.get_by_role("button", name="Add quick note: Prefers email")).to_have_count(0)


# --- safety and language -------------------------------------------------------------------
def test_markup_in_names_notes_and_quick_notes_is_text(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """A record name, notes and a quick note holding HTML are shown literally in wrap-up and
    history; no element is made from them and nothing runs."""
    assert proxy.services.org is not None
    proxy.services.org.insert(
        "Contact", {"FirstName": MARKUP, "LastName": "Evil", "Phone": "650 555 0199"}
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    phone = open_console(page, proxy)
    sign_in(phone, "1005")
    proxy.place_call(agent="1005", ani="+16505550199")
    phone.get_by_role("button", name="Answer").click()
    phone.get_by_text("Quick notes", exact=True).click()
    phone.get_by_label("New quick note").fill(f"<b>{MARKUP}</b>")
    phone.get_by_label("New quick note").press("Enter")
    phone.get_by_role("button", name=f"Add quick note: <b>{MARKUP}</b>").click()
    notes_box(phone).fill(f"Said {MARKUP} twice")
    phone.get_by_role("button", name="Hang up").click()

    name = f"{MARKUP} Evil"
    wrap_up = phone.get_by_role("region", name=name)
    expect(wrap_up.get_by_role("heading", name=name)).to_be_visible()
    expect(notes_box(wrap_up)).to_have_value(f"Said {MARKUP} twice")
    expect(wrap_up.get_by_role("list", name="Quick notes added")).to_have_text(f"<b>{MARKUP}</b>")
    history = phone.get_by_role("region", name="Call history")
    expect(history.get_by_role("button", name=f"Call {name}")).to_be_visible()
    expect(history.get_by_text(name, exact=True)).to_be_visible()
    page.screenshot(path=artifacts / "15-markup-as-text.png")
    expect(phone.locator("img")).to_have_count(0)
    expect(phone.locator("b")).to_have_count(0)

    wrap_up.get_by_role("button", name="Save & Exit").click()
    expect(history.get_by_role("button", name=f"Call {name}")).to_be_visible()
    expect(phone.locator("img")).to_have_count(0)
    assert dialogs == []
    tasks = wait_for_tasks(proxy, 1)
    assert tasks[0]["Description"].startswith(f"Said {MARKUP} twice")


def test_french_browser_gets_the_new_screens_in_french(
    browser: Browser, proxy: RunningProxy, artifacts: Path
) -> None:
    """fr-FR: wrap-up, history, favorites and settings are in French."""
    context = new_context(browser, viewport={"width": 400, "height": 900}, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{proxy.page_base}/softphone/softphone.html")
    page.get_by_label("Adresse de connexion").fill("1001")
    page.get_by_label("Mot de passe").fill("demo")
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page.get_by_text("Prêt à recevoir des appels")).to_be_visible()
    proxy.place_call(agent="1001", ani="+16504508810")
    page.get_by_role("button", name="Répondre").click()
    page.get_by_role("button", name="Raccrocher").click()

    wrap_up = page.get_by_role("region", name="Maria Chen")
    expect(wrap_up.get_by_text("Appel terminé")).to_be_visible()
    expect(wrap_up.get_by_role("textbox", name="Notes")).to_be_visible()
    expect(wrap_up.get_by_text("Enregistrement automatique dans")).to_be_visible()
    expect(wrap_up.get_by_text("Notes rapides")).to_be_visible()
    for label in ["Enregistrer et quitter", "Enregistrer et nouvelle tâche"]:
        expect(wrap_up.get_by_role("button", name=label)).to_be_visible()
    history = page.get_by_role("region", name="Historique des appels")
    expect(history.get_by_role("tab")).to_have_text(["Tous", "Manqués", "Reçus", "Composés"])
    expect(history.get_by_role("button", name="Favori : Maria Chen")).to_be_visible()
    expect(page.get_by_role("region", name="Favoris")).to_contain_text("Aucun favori")
    page.screenshot(path=artifacts / "16-fr-wrap-up.png", full_page=True)

    wrap_up.get_by_role("button", name="Enregistrer et quitter").click()
    expect(page.get_by_text("Appel enregistré.")).to_be_visible()
    page.get_by_role("button", name="Paramètres").click()
    expect(page.get_by_role("tab", name="Général")).to_have_attribute("aria-selected", "true")
    expect(
        page.get_by_role("checkbox", name="Enregistrer les notes automatiquement")
    ).to_be_checked()
    page.get_by_role("tab", name="Appels et ouverture").click()
    expect(
        page.get_by_role("button", name=f"Descendre Numéro de l{APOSTROPHE}appelant")
    ).to_be_visible()
    expect(page.get_by_role("group", name=f"Ordre d{APOSTROPHE}ouverture")).to_be_visible()
    page.screenshot(path=artifacts / "17-fr-settings.png", full_page=True)
    context.close()
    assert errors == []
