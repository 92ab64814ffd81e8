"""Sign in with Salesforce over real HTTP: the proxy, the stand-in org's OAuth pages, the socket."""

from __future__ import annotations

import html
import json
import re
import secrets
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from proxy.salesforce.standin.org import pkce_challenge
from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call


def browser_like(proxy: RunningProxy) -> httpx.Client:
    """An HTTP client that trusts the stand-in's private CA, as the agent's browser would."""
    assert proxy.services.org is not None
    context = ssl.create_default_context(cafile=proxy.services.org.ca_file)
    return httpx.Client(verify=context, timeout=10)


def choose(
    client: httpx.Client, proxy: RunningProxy, link_text: str, **query: str
) -> httpx.Response:
    """Start at /sso/start, pick `link_text` on the stand-in's login page: the redirect back."""
    start = client.get(f"{proxy.base_url}/sso/start", params=query)
    assert start.status_code == 302
    authorize = start.headers["location"]
    login = client.get(authorize)
    assert login.status_code == 200
    found = re.search(rf'href="\?([^"]+)">{re.escape(link_text)}<', login.text)
    assert found, login.text
    chosen = client.get(f"{authorize.split('?')[0]}?{html.unescape(found.group(1))}")
    assert chosen.status_code == 302
    assert chosen.headers["location"].startswith(f"{proxy.base_url}/sso/callback?")
    return chosen


def result(page: httpx.Response) -> dict[str, Any]:
    """The outcome the callback page hands to sso-done.js."""
    found = re.search(r'<script type="application/json" id="sso-result">(.*?)</script>', page.text)
    assert found, page.text
    outcome: dict[str, Any] = json.loads(found.group(1))
    return outcome


async def test_demo_user_1_signs_in_as_agent_1001_and_opens_the_socket(
    proxy: RunningProxy,
) -> None:
    """Start, choose demo user 1 at the stand-in, callback: the page's token opens 1001's socket."""
    config = httpx.get(f"{proxy.base_url}/api/v1/config")
    assert config.json() == {"sso": True}
    with browser_like(proxy) as client:
        back = choose(client, proxy, "Sign in as Alex Morgan")
        page = client.get(back.headers["location"])
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert '<script type="module" src="/softphone/sso-done.js">' in page.text
    assert "Signed in as Alex Morgan" in page.text
    outcome = result(page)
    assert outcome["type"] == "softphone-sso"
    assert outcome["agent"] == {"address": "1001", "name": "Alex Morgan", "extension": "1001"}
    async with proxy.connect(outcome["token"]) as ws:
        welcome = await next_message(ws)
    assert welcome["type"] == "welcome"
    assert welcome["agent"]["address"] == "1001"


def test_a_wrong_or_reused_state_is_refused(proxy: RunningProxy) -> None:
    """A callback whose state this server did not issue, or already used, signs no one in."""
    with browser_like(proxy) as client:
        callback = choose(client, proxy, "Sign in as Sam Rivera").headers["location"]
        forged = re.sub(r"state=[^&]+", "state=forged", callback)
        refused = client.get(forged)
        first = client.get(callback)
        replayed = client.get(callback)
    assert refused.status_code == 400
    assert result(refused)["error"] == "state_mismatch"
    assert "expired or was already used" in refused.text
    assert "token" not in result(refused)
    assert first.status_code == 200 and result(first)["agent"]["address"] == "1002"
    assert replayed.status_code == 400 and result(replayed)["error"] == "state_mismatch"


def test_a_salesforce_user_without_a_roster_agent_is_refused_plainly(
    proxy: RunningProxy,
) -> None:
    """A Salesforce user no roster agent names gets a page saying so, and no token."""
    with browser_like(proxy) as client:
        page = client.get(choose(client, proxy, "Sign in as Robin Park").headers["location"])
    assert page.status_code == 403
    assert "Robin Park has no softphone agent" in page.text
    assert result(page)["error"] == "no_agent"
    assert "token" not in result(page)


def test_denying_access_at_salesforce_signs_no_one_in(proxy: RunningProxy) -> None:
    """Choosing Deny on Salesforce's page comes back as a plain refusal."""
    with browser_like(proxy) as client:
        page = client.get(choose(client, proxy, "Deny access").headers["location"])
    assert page.status_code == 403
    assert result(page)["error"] == "denied"
    assert "cancelled or denied" in page.text


def test_the_standin_refuses_a_code_with_the_wrong_pkce_verifier(proxy: RunningProxy) -> None:
    """The stand-in's token endpoint answers 400 invalid_grant to a verifier that does not fit."""
    org = proxy.services.org
    assert org is not None
    redirect_uri = "http://127.0.0.1:1/sso/callback"

    def code_for(verifier: str) -> str:
        query = {
            "response_type": "code",
            "client_id": org.consumer_key,
            "redirect_uri": redirect_uri,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            "state": "s",
            "login_as": next(iter(org.users)),
        }
        answer = client.get(f"{org.instance_url}/services/oauth2/authorize", params=query)
        assert answer.status_code == 302
        return str(httpx.URL(answer.headers["location"]).params["code"])

    def redeem(code: str, verifier: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": org.consumer_key,
            "code_verifier": verifier,
        }
        return client.post(f"{org.instance_url}/services/oauth2/token", data=form)

    verifier = secrets.token_urlsafe(64)
    with browser_like(proxy) as client:
        wrong = redeem(code_for(verifier), secrets.token_urlsafe(64))
        right = redeem(code_for(verifier), verifier)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert right.status_code == 200 and right.json()["access_token"]


def test_sso_is_off_unless_configured(tmp_path: Path) -> None:
    """Outside the demo and with no login URL, the config says no SSO and /sso/start is a 404."""
    with running_proxy(tmp_path, demo=False) as proxy:
        config = httpx.get(f"{proxy.base_url}/api/v1/config")
        start = httpx.get(f"{proxy.base_url}/sso/start")
    assert config.json() == {"sso": False}
    assert start.status_code == 404


def test_sso_honours_the_seat_limit(tmp_path: Path) -> None:
    """With every seat taken, Salesforce sign-in is refused as a password sign-in would be."""
    with running_proxy(tmp_path, max_agents=1) as proxy:
        proxy.sign_in("1002")
        with browser_like(proxy) as client:
            page = client.get(choose(client, proxy, "Sign in as Alex Morgan").headers["location"])
    assert page.status_code == 403
    assert result(page)["error"] == "seats_full"
    assert "seats are in use" in page.text


async def test_a_hot_desk_agent_is_asked_for_the_phone_then_seated_there(
    proxy: RunningProxy,
) -> None:
    """A hot-desk agent signing in with Salesforce and naming no phone gets extension_required
    (their roster phone offered) and no token; naming 2302 on the second try seats them there,
    and their page's calls are 2302's."""
    store = proxy.services.store
    casey = proxy.run(store.get_agent("1005"))
    assert casey is not None
    proxy.run(store.put_agent(replace(casey, kind="hot_desk")))
    proxy.run(proxy.services.seating.reload_roster())
    with browser_like(proxy) as client:
        asked = client.get(choose(client, proxy, "Sign in as Casey Novak").headers["location"])
        too_long = client.get(f"{proxy.base_url}/sso/start", params={"extension": "1" * 17})
        back = choose(client, proxy, "Sign in as Casey Novak", extension="2302")
        seated = client.get(back.headers["location"])
    assert asked.status_code == 400
    assert result(asked) == {
        "type": "softphone-sso",
        "error": "extension_required",
        "message": "Enter the extension of the phone you are at",
        "default_extension": "1005",
    }
    assert (too_long.status_code, result(too_long)["error"]) == (400, "bad_extension")
    outcome = result(seated)
    assert outcome["agent"] == {"address": "1005", "name": "Casey Novak", "extension": "2302"}
    async with proxy.connect(outcome["token"]) as ws:
        welcome = await next_message(ws)
        assert welcome["agent"]["extension"] == "2302"
        call_id = proxy.place_call(agent="2302")
        await wait_for_call(ws, call_id, matching=False)
