"""Sign in with Salesforce: the OAuth 2.0 web server flow with PKCE, ending in our own session.

/sso/start sends the popup to the org's authorize page; /sso/callback trades the code (and the
PKCE verifier only this server knows) for the user's token, asks Salesforce who the user is,
finds the roster agent with that Salesforce user id, and answers with a small page that hands
our session token to the softphone page that opened the popup (static/softphone/sso-done.js).
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from proxy import signin
from proxy.salesforce.standin.org import StandinOrg, pkce_challenge
from proxy.settings import Settings
from proxy.store import AgentRecord
from softphone.messages import AgentView

if TYPE_CHECKING:
    from proxy.app import Services

log = logging.getLogger(__name__)
PENDING_SECONDS = 600.0
MAX_PENDING = 1000
MAX_EXTENSION = 16


@dataclass
class PendingLogins:
    """PKCE verifiers (and the extension a hot-desk agent gave) by OAuth state: short-lived,
    single use, and bounded in number."""

    ttl: float = PENDING_SECONDS
    limit: int = MAX_PENDING
    _by_state: OrderedDict[str, tuple[str, float, str]] = field(default_factory=OrderedDict)

    def new(self, extension: str = "") -> tuple[str, str]:
        """A fresh (state, verifier) pair, remembered until taken or expired."""
        now = time.monotonic()
        while self._by_state and (
            len(self._by_state) >= self.limit or next(iter(self._by_state.values()))[1] < now
        ):
            self._by_state.popitem(last=False)
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        self._by_state[state] = (verifier, now + self.ttl, extension)
        return state, verifier

    def take(self, state: str) -> tuple[str, str] | None:
        """The verifier and extension for `state` if it is known and fresh; either way it is
        forgotten."""
        found = self._by_state.pop(state, None)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0], found[2]


@dataclass
class SingleSignOn:
    """Where the org signs users in, as which connected app, and how to trust its certificate."""

    login_url: str
    client_id: str
    client_secret: str = ""
    ca_file: str = ""
    timeout: float = 10.0
    pending: PendingLogins = field(default_factory=PendingLogins)

    def http(self) -> httpx.AsyncClient:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True
        )
        return httpx.AsyncClient(verify=verify, timeout=self.timeout)


def single_sign_on(settings: Settings, org: StandinOrg | None) -> SingleSignOn | None:
    """SSO as configured, the stand-in org's in the demo, else None (the button stays hidden)."""
    timeout = settings.salesforce_timeout_seconds
    if settings.sso_login_url:
        return SingleSignOn(
            settings.sso_login_url.rstrip("/"),
            settings.sso_client_id,
            settings.sso_client_secret.get_secret_value(),
            timeout=timeout,
        )
    if settings.demo and org is not None and org.instance_url:
        return SingleSignOn(org.instance_url, org.consumer_key, "", org.ca_file, timeout)
    return None


class SsoRefused(Exception):
    """A sign-in that cannot finish: `code` for the page's script, `message` for the agent."""

    def __init__(self, status: int, code: str, message: str, default_extension: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.default_extension = default_extension


def sso_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/config")
    async def config(request: Request) -> dict[str, bool]:
        """What the sign-in screen offers: whether "Sign in with Salesforce" is on."""
        return {"sso": request.app.state.services.sso is not None}

    @router.get("/sso/start", include_in_schema=False)
    async def start(request: Request, extension: str = "") -> Response:
        """`extension`: the phone a hot-desk agent is at, asked for by the page when a first
        try ended in extension_required; kept with the state until the callback."""
        sso: SingleSignOn | None = request.app.state.services.sso
        if sso is None:
            return _page(404, {"error": "off"}, "Sign in with Salesforce is not configured.")
        if len(extension) > MAX_EXTENSION:
            return _page(400, {"error": "bad_extension"}, "An extension is 1 to 16 digits.")
        state, verifier = sso.pending.new(extension.strip())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": sso.client_id,
                "redirect_uri": _redirect_uri(request),
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
                "state": state,
            }
        )
        return RedirectResponse(f"{sso.login_url}/services/oauth2/authorize?{query}", 302)

    @router.get("/sso/callback", include_in_schema=False)
    async def callback(
        request: Request, code: str = "", state: str = "", error: str = ""
    ) -> Response:
        services: Services = request.app.state.services
        try:
            token, view = await _finish(services, request, code, state, error)
        except SsoRefused as exc:
            if exc.code in ("seats_full", "no_agent"):
                services.metrics.sign_ins.labels(exc.code).inc()
            log.info("Salesforce sign-in refused: %s", exc.code)
            outcome = {"error": exc.code, "message": exc.message}
            if exc.default_extension:
                outcome["default_extension"] = exc.default_extension
            return _page(exc.status, outcome, exc.message)
        services.metrics.sign_ins.labels("ok").inc()
        log.info("agent %s signed in with Salesforce", view.address)
        return _page(
            200,
            {"token": token, "agent": view.model_dump()},
            f"Signed in as {view.name}. You can close this window.",
        )

    return router


def _redirect_uri(request: Request) -> str:
    """Where Salesforce sends the agent back: our public address, which behind a TLS-terminating
    balancer is not the address this request reached us at."""
    public: str = request.app.state.services.settings.public_url
    base = public or str(request.base_url)
    return f"{base.rstrip('/')}/sso/callback"


async def _finish(
    services: Services, request: Request, code: str, state: str, error: str
) -> tuple[str, AgentView]:
    sso = services.sso
    if sso is None:
        raise SsoRefused(404, "off", "Sign in with Salesforce is not configured.")
    pending = sso.pending.take(state) if state else None
    if pending is None:
        raise SsoRefused(
            400,
            "state_mismatch",
            "This sign-in has expired or was already used. Close this window and try again.",
        )
    if error:
        raise SsoRefused(403, "denied", "Salesforce sign-in was cancelled or denied.")
    if not code:
        raise SsoRefused(400, "no_code", "Salesforce sent no authorization code.")
    verifier, extension = pending
    user = await _salesforce_user(sso, code, verifier, _redirect_uri(request))
    user_id = str(user.get("user_id", ""))
    agent = await _agent_for_user(services, user_id)
    if agent is None:
        raise SsoRefused(
            403,
            "no_agent",
            f"The Salesforce user {user.get('name') or user_id} has no softphone agent. "
            "Ask your administrator to add your Salesforce user id to the roster.",
        )
    # A hot-desk agent is seated exactly as at a password sign-in: at the phone they hold
    # already (another tab, or before a restart), else at the one they name. Naming none ends
    # in extension_required, which the page answers by showing the Extension field; "Sign in
    # with Salesforce" again then brings it here (Salesforce remembers them: one click). Not
    # the phone they sat at last time: hot desks change, and a call ringing at the wrong desk
    # is worse than being asked.
    try:
        return await signin.open_session(services.auth, services.board, agent, extension)
    except signin.SignInRefused as exc:
        status = 502 if exc.pbx else 409 if exc.code == "extension_taken" else 403
        status = 400 if exc.code in ("extension_required", "bad_extension") else status
        raise SsoRefused(status, exc.code, exc.message, exc.default_extension) from None


async def _salesforce_user(
    sso: SingleSignOn, code: str, verifier: str, redirect_uri: str
) -> dict[str, Any]:
    """Code + verifier for the user's access token, then the user's identity (userinfo)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": sso.client_id,
        "code_verifier": verifier,
    }
    if sso.client_secret:
        form["client_secret"] = sso.client_secret
    unreachable = SsoRefused(502, "unreachable", "Salesforce could not be reached; try again.")
    try:
        async with sso.http() as http:
            granted = await http.post(f"{sso.login_url}/services/oauth2/token", data=form)
            if granted.status_code != 200:
                reason = _oauth_error(granted)
                raise SsoRefused(403, "refused", f"Salesforce refused the sign-in ({reason}).")
            tokens = granted.json()
            instance = str(tokens.get("instance_url") or sso.login_url).rstrip("/")
            info = await http.get(
                f"{instance}/services/oauth2/userinfo",
                headers={"authorization": f"Bearer {tokens['access_token']}"},
            )
    except (httpx.HTTPError, ValueError, KeyError):
        raise unreachable from None
    if info.status_code != 200:
        raise SsoRefused(502, "refused", "Salesforce did not say who you are; try again.")
    user: dict[str, Any] = info.json()
    return user


def _oauth_error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.status_code))
    except ValueError:
        return str(response.status_code)


def _same_user(a: str, b: str) -> bool:
    """Salesforce ids come in 15 (case-sensitive) and 18 characters; the first 15 decide."""
    return len(a) >= 15 and len(b) >= 15 and a[:15] == b[:15]


async def _agent_for_user(services: Services, user_id: str) -> AgentRecord | None:
    if not user_id:
        return None
    for agent in await services.store.list_agents():
        if _same_user(agent.salesforce_user_id, user_id):
            return agent
    return None


def _page(status: int, result: dict[str, Any], message: str) -> HTMLResponse:
    """The popup's last page: the outcome as JSON for sso-done.js (no inline script runs)."""
    data = json.dumps({"type": "softphone-sso", **result})
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Sign in with Salesforce</title>"
        '<script type="module" src="/softphone/sso-done.js"></script></head><body>'
        f'<p id="sso-message">{html.escape(message)}</p>'
        f'<script type="application/json" id="sso-result">{data}</script></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})
