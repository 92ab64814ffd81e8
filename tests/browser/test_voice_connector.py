"""The Salesforce Voice connector in Chromium, driven by the real @salesforce/scv-connector-base:
the demo console plays the Voice host at https://acme.lightning.force.com and frames the
connector from the proxy's own site (cross-site, third-party storage blocked), hands it a
MessagePort, and checks what it publishes and what reaches the PBX and the org."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

from proxy.salesforce.standin.telephony import StandinTelephony
from tests.browser.chromium import new_context
from tests.harness import RunningProxy, running_proxy
from tests.integration.flows.test_call_log import eventually, org_of
from tests.tls_terminator import PUBLIC_HOST

pytestmark = pytest.mark.browser
SCV_FILE = (
    Path(__file__).resolve().parents[2]
    / ".tools/scv/node_modules/@salesforce/scv-connector-base/dist/scv-connector-base.js"
)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    assert SCV_FILE.exists(), "scv-connector-base is missing: scripts/test installs it"
    with running_proxy(tmp_path, voice_scrt_url="standin://", wrap_up_seconds=0) as running:
        yield running


def center(proxy: RunningProxy) -> StandinTelephony:
    return org_of(proxy).telephony


def open_voice_host(page: Page, proxy: RunningProxy) -> FrameLocator:
    page.goto(f"{proxy.salesforce_base}/console/voice.html?connector={proxy.public_base}")
    return page.frame_locator("#connector")


def sign_in(connector: FrameLocator, address: str = "1001") -> None:
    connector.get_by_label("Sign-in address").fill(address)
    connector.get_by_label("Password").fill("demo")
    connector.get_by_role("button", name="Sign in", exact=True).click()


def events(page: Page) -> list[str]:
    return (
        page.get_by_role("list", name="Connector events").get_by_role("listitem").all_inner_texts()
    )


def published(page: Page, prefix: str) -> str:
    item = page.get_by_role("list", name="Connector events").get_by_role("listitem")
    expect(item.filter(has_text=prefix).first).to_be_visible()
    return next(e for e in events(page) if e.startswith(prefix))


def ring(proxy: RunningProxy, agent: str = "1001") -> str:
    return proxy.place_call(agent=agent, ani="+16504508810")


def sim_legs(proxy: RunningProxy) -> list[dict[str, str]]:
    legs: list[dict[str, str]] = httpx.get(f"{proxy.base_url}/sim/calls").json()
    return legs


def test_setup_sign_in_and_a_call_from_ring_to_hang_up(
    page: Page, proxy: RunningProxy, artifacts: Path
) -> None:
    """SETUP_CONNECTOR -> sign-in -> CONNECTOR_READY with the desk phone; a ring is
    CALL_STARTED (not a softphone call) with one VoiceCall at the org; Accept answers at the
    PBX; hold and resume; End -> HANGUP and one PATCH."""
    connector = open_voice_host(page, proxy)
    sign_in(connector)
    assert "phone=DESK_PHONE 1001" in published(page, "CONNECTOR_READY")

    call_id = ring(proxy)
    started = published(page, "CALL_STARTED")
    assert f"call={call_id}" in started and "isSoftphoneCall=false" in started
    assert list(center(proxy).voice_calls) == [call_id]

    page.get_by_role("button", name="Accept").click()
    published(page, "CALL_CONNECTED")
    eventually(lambda: any(leg["state"] == "active" for leg in sim_legs(proxy)))

    page.screenshot(path=artifacts / "60-voice-connected.png")
    page.get_by_role("button", name="Hold").click()
    assert "onHold=true" in published(page, "HOLD_TOGGLE onHold=true")
    page.get_by_role("button", name="Resume").click()
    published(page, "HOLD_TOGGLE onHold=false")

    page.get_by_role("button", name="End call").click()
    assert "reason=ended" in published(page, "HANGUP")
    eventually(lambda: [k for k, _ in center(proxy).updates] == [call_id])
    assert sim_legs(proxy) == []


def test_a_refresh_mid_call_replays_it(page: Page, proxy: RunningProxy) -> None:
    """The connector reloads during a call (storage blocked: the session cookie signs it in
    again); AGENT_AVAILABLE replays the call as connected."""
    connector = open_voice_host(page, proxy)
    sign_in(connector)
    published(page, "CONNECTOR_READY")
    call_id = ring(proxy)
    published(page, "CALL_STARTED")
    page.get_by_role("button", name="Accept").click()
    published(page, "CALL_CONNECTED")
    before = len(events(page))

    page.get_by_role("button", name="Reload the connector").click()
    expect(page.get_by_role("list", name="Connector events").get_by_role("listitem")).to_have_count(
        before + 2
    )
    replayed = events(page)[before:]
    assert replayed[0].startswith("CONNECTOR_READY")
    assert replayed[1].startswith(f"CALL_CONNECTED call={call_id}")
    assert connector.get_by_label("Password").is_hidden()


def test_a_missed_call_hangs_up_as_missed_and_clears_routing(
    page: Page, proxy: RunningProxy
) -> None:
    """The caller gives up while it rings: HANGUP with the error reason (missed), and the
    server clears the VoiceCall's routing."""
    connector = open_voice_host(page, proxy)
    sign_in(connector)
    published(page, "CONNECTOR_READY")
    call_id = ring(proxy)
    published(page, "CALL_STARTED")
    httpx.post(f"{proxy.base_url}/sim/calls/{proxy.pbx_call_id(call_id)}/hangup")
    assert "reason=error" in published(page, "HANGUP")
    expect(page.get_by_text("VoiceCall ended (missed)")).to_be_visible()
    eventually(lambda: center(proxy).cleared == [call_id])


def test_consult_then_a_blind_transfer_makes_a_child_voicecall(
    page: Page, proxy: RunningProxy, browser: Browser
) -> None:
    """1001 consults 1003 (PARTICIPANT_ADDED, then the consult ends), then transfers the
    caller to 1002, who has the connector open in their own browser: 1002's VoiceCall is a
    Transfer whose parent is 1001's, and 1001's VoiceCall ends with one PATCH."""
    other = new_context(browser).new_page()
    try:
        sign_in(open_voice_host(other, proxy), "1002")
        published(other, "CONNECTOR_READY")
        sign_in(open_voice_host(page, proxy))
        published(page, "CONNECTOR_READY")
        call_id = ring(proxy)
        published(page, "CALL_STARTED")
        page.get_by_role("button", name="Accept").click()
        published(page, "CALL_CONNECTED")

        page.get_by_label("Transfer to").fill("1003")
        page.get_by_role("button", name="Consult").click()
        published(page, "PARTICIPANT_ADDED")
        consult = next(leg for leg in sim_legs(proxy) if leg["agent"] == "1003")
        httpx.post(f"{proxy.base_url}/sim/calls/{consult['call_id']}/hangup")
        published(page, "PARTICIPANT_REMOVED")
        # The caller waited on hold during the consultation; the agent takes them back.
        published(page, "HOLD_TOGGLE onHold=true")
        page.get_by_role("button", name="Resume").click()
        published(page, "HOLD_TOGGLE onHold=false")
        page.get_by_label("Transfer to").fill("1002")
        page.get_by_role("button", name="Transfer").click()
        child_started = published(other, "CALL_STARTED")
        child_id = child_started.split("call=")[1].split()[0]
        child = center(proxy).voice_calls[child_id]
        assert child["initiationMethod"] == "Transfer"
        assert child["parentVoiceCallId"] == call_id
        eventually(lambda: [k for k, _ in center(proxy).updates] == [call_id])
    finally:
        other.context.close()


def test_a_declined_call_hangs_up_as_declined_and_clears_routing(
    page: Page, proxy: RunningProxy
) -> None:
    """Decline in Salesforce: the desk phone stops ringing, HANGUP with the error reason, and
    the VoiceCall is ended once with its routing cleared."""
    sign_in(open_voice_host(page, proxy))
    published(page, "CONNECTOR_READY")
    call_id = ring(proxy)
    published(page, "CALL_STARTED")
    page.get_by_role("button", name="Decline").click()
    assert "reason=error" in published(page, "HANGUP")
    eventually(lambda: center(proxy).cleared == [call_id])
    assert [k for k, _ in center(proxy).updates] == [call_id]
    assert not any(leg["agent"] == "1001" for leg in sim_legs(proxy))


def test_a_french_browser_gets_the_connector_in_french(
    browser: Browser, proxy: RunningProxy
) -> None:
    """fr-FR: the connector's sign-in form, its refusals and the signed-in line are in French,
    from the softphone page's translations."""
    context = new_context(browser, locale="fr-FR")
    try:
        page = context.new_page()
        connector = open_voice_host(page, proxy)
        expect(connector.get_by_role("heading")).to_have_text("Connectez-vous à votre poste fixe")
        connector.get_by_role("button", name="Se connecter", exact=True).click()
        expect(connector.get_by_role("alert")).to_have_text(
            "Saisissez votre adresse de connexion et votre mot de passe."
        )
        connector.get_by_label("Adresse de connexion").fill("1001")
        connector.get_by_label("Mot de passe").fill("wrong")
        connector.get_by_role("button", name="Se connecter", exact=True).click()
        expect(connector.get_by_role("alert")).to_have_text(
            "Adresse de connexion ou mot de passe incorrect."
        )
        connector.get_by_label("Mot de passe").fill("demo")
        connector.get_by_role("button", name="Se connecter", exact=True).click()
        published(page, "CONNECTOR_READY")
        expect(connector.get_by_text("poste fixe 1001")).to_be_visible()
    finally:
        context.close()


def test_a_call_dialled_from_salesforce_starts_with_its_voicecall(
    page: Page, proxy: RunningProxy
) -> None:
    """DIAL from the host: the desk phone places the call, and CALL_STARTED names the
    Outbound VoiceCall our server created for it, as a ring's does (Salesforce finds the
    call by it)."""
    sign_in(open_voice_host(page, proxy))
    published(page, "CONNECTOR_READY")
    page.get_by_label("Number", exact=True).fill("+14155550100")
    page.get_by_role("button", name="Dial").click()
    started = published(page, "CALL_STARTED")
    call_id = started.split("call=")[1].split()[0]
    voice_call = center(proxy).voice_calls[call_id]
    assert voice_call["initiationMethod"] == "Outbound"
    assert f"voiceCall={voice_call['Id']}" in started
    expect(page.get_by_role("region", name="Voice call")).to_contain_text("14155550100: dialling")


@pytest.fixture
def sso_proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    """Sign in with Salesforce needs the public https address to come back to."""
    with running_proxy(
        tmp_path, voice_scrt_url="standin://", public_url=f"https://{PUBLIC_HOST}"
    ) as running:
        yield running


def sign_in_with_salesforce(page: Page, connector: FrameLocator, name: str) -> None:
    with page.expect_popup() as opened:
        connector.get_by_role("button", name="Sign in with Salesforce").click()
    popup = opened.value
    # Waited for from before the click: the popup may close before a later wait starts.
    with popup.expect_event("close"):
        popup.get_by_role("link", name=f"Sign in as {name}").click()


def signed_in_agents(proxy: RunningProxy) -> set[str]:
    services = proxy.services
    return proxy.run(services.store.signed_in_agents(services.auth.clock()))


def test_sign_in_with_salesforce_must_be_the_hosts_user(
    page: Page, sso_proxy: RunningProxy
) -> None:
    """The host frames the connector for Alex Morgan (the org's user 1). Choosing Sam Rivera
    in the popup is refused plainly and the proxy session it gave is ended; choosing Alex
    Morgan signs in their desk phone, 1001."""
    proxy = sso_proxy
    connector = open_voice_host(page, proxy)
    sign_in_with_salesforce(page, connector, "Sam Rivera")
    expect(connector.get_by_role("alert")).to_contain_text(
        "You are signed in to Salesforce as another user"
    )
    expect(connector.get_by_label("Password")).to_be_visible()
    eventually(lambda: "1002" not in signed_in_agents(proxy))
    assert not any(e.startswith("CONNECTOR_READY") for e in events(page))

    sign_in_with_salesforce(page, connector, "Alex Morgan")
    assert "phone=DESK_PHONE 1001" in published(page, "CONNECTOR_READY")
    assert signed_in_agents(proxy) == {"1001"}
