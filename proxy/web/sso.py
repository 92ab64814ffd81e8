"""Sign in with Salesforce: the routes of the OAuth 2.0 web server flow with PKCE.

/sso/start sends the popup to the org's authorize page; /sso/callback has the exchange
(`proxy/salesforce/oauth.py`) trade the code for who the user is, has the application layer
(`proxy/agents/signin.py`) sign in the roster agent with that Salesforce user id, and answers
with a small page that hands our session token to the softphone page that opened the popup
(static/softphone/sso-done.js).
"""

from __future__ import annotations

import html
import json
import logging
from typing import TYPE_CHECKING, TypedDict

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from proxy.agents.auth import SignInFailed
from proxy.agents.signin import ExtensionRequired, SignedIn
from proxy.errors import LinkError, ProxyError
from proxy.salesforce.oauth import OAuthFailed
from proxy.services import services_of
from softphone.errors import CommandRefused
from softphone.messages.to_page import AgentView

if TYPE_CHECKING:
    from proxy.services import Services

log = logging.getLogger(__name__)
MAX_EXTENSION = 16


class SsoResult(TypedDict, total=False):
    """What the popup's last page tells sso-done.js: a session, or why there is none."""

    token: str
    agent: dict[str, str]
    # Whom Salesforce signed in: the Voice connector checks it is the user its host passed.
    salesforce_user_id: str
    error: str
    message: str
    default_extension: str


class SsoRefused(ProxyError):
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
        return {"sso": services_of(request).sso is not None}

    @router.get("/sso/start", include_in_schema=False)
    async def start(request: Request, extension: str = "") -> Response:
        """`extension`: the phone a hot-desk agent is at, asked for by the page when a first
        try ended in extension_required; kept with the state until the callback."""
        sso = services_of(request).sso
        if sso is None:
            return _page(404, {"error": "off"}, "Sign in with Salesforce is not configured.")
        if len(extension) > MAX_EXTENSION:
            return _page(400, {"error": "bad_extension"}, "An extension is 1 to 16 digits.")
        url = await sso.authorize_url(_redirect_uri(request), extension.strip())
        return RedirectResponse(url, 302)

    @router.get("/sso/callback", include_in_schema=False)
    async def callback(
        request: Request, code: str = "", state: str = "", error: str = ""
    ) -> Response:
        services = services_of(request)
        try:
            signed = await _finish(services, request, code, state, error)
        except SsoRefused as exc:
            if exc.code in ("seats_full", "no_agent"):
                services.metrics.sign_ins.labels(exc.code).inc()
            log.info("Salesforce sign-in refused: %s", exc.code)
            outcome: SsoResult = {"error": exc.code, "message": exc.message}
            if exc.default_extension:
                outcome["default_extension"] = exc.default_extension
            return _page(exc.status, outcome, exc.message)
        agent = signed.agent
        services.metrics.sign_ins.labels("ok").inc()
        log.info("agent %s signed in with Salesforce", agent.address)
        view = AgentView(address=agent.address, name=agent.name, extension=signed.extension)
        return _page(
            200,
            {
                "token": signed.token,
                "agent": view.model_dump(),
                "salesforce_user_id": agent.salesforce_user_id,
            },
            f"Signed in as {agent.name}. You can close this window.",
        )

    return router


def _redirect_uri(request: Request) -> str:
    """Where Salesforce sends the agent back: our public address, which behind a TLS-terminating
    balancer is not the address this request reached us at."""
    public: str = services_of(request).settings.public_url
    base = public or str(request.base_url)
    return f"{base.rstrip('/')}/sso/callback"


async def _finish(
    services: Services, request: Request, code: str, state: str, error: str
) -> SignedIn:
    sso = services.sso
    if sso is None:
        raise SsoRefused(404, "off", "Sign in with Salesforce is not configured.")
    pending = await sso.pending.take(state) if state else None
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
    try:
        user = await sso.user_for_code(code, verifier, _redirect_uri(request))
    except OAuthFailed as exc:
        raise SsoRefused(502 if exc.upstream else 403, exc.code, exc.message) from None
    # A hot-desk agent is seated exactly as at a password sign-in: at the phone they hold
    # already (another tab, or before a restart), else at the one they name. Naming none ends
    # in extension_required, which the page answers by showing the Extension field; "Sign in
    # with Salesforce" again then brings it here (Salesforce remembers them: one click). Not
    # the phone they sat at last time: hot desks change, and a call ringing at the wrong desk
    # is worse than being asked.
    try:
        return await services.signins.salesforce_user(user.user_id, user.name, extension)
    except ExtensionRequired as exc:
        raise SsoRefused(400, exc.code, exc.message, exc.default_extension) from None
    except SignInFailed as exc:
        raise SsoRefused(403, exc.code, exc.message) from None
    except CommandRefused as exc:
        status = 409 if exc.code == "extension_taken" else 400
        raise SsoRefused(status, exc.code, exc.message) from None
    except LinkError as exc:
        raise SsoRefused(502, exc.code, str(exc)) from None


def _page(status: int, result: SsoResult, message: str) -> HTMLResponse:
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
