"""Salesforce's OAuth 2.0 web server flow with PKCE, as this server's side of "Sign in with
Salesforce": where the org signs users in, the verifiers waiting for their callback, and the
exchange of a code for the user's identity.

The routes (`proxy/web/sso.py`) only send the browser to `authorize_url` and hand the callback's
code to `user_for_code`; which roster agent that user is, and the session, are the application
layer's (`proxy/agents/signin.py`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx

from proxy.cluster.tickets import LocalTickets, Tickets
from proxy.errors import SalesforceError
from proxy.settings import Settings

if TYPE_CHECKING:
    from proxy.salesforce.standin.org import StandinOrg

PENDING_SECONDS = 600.0
MAX_PENDING = 1000


class OAuthFailed(SalesforceError):
    """The exchange did not give us the user: `upstream` when Salesforce failed or could not be
    reached (try again), else Salesforce refused the sign-in."""

    def __init__(self, code: str, message: str, *, upstream: bool) -> None:
        super().__init__(code, message)
        self.upstream = upstream


@dataclass(frozen=True)
class SalesforceUser:
    """Who Salesforce says signed in (from userinfo)."""

    user_id: str
    name: str = ""


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class PendingLogins:
    """PKCE verifiers (and the extension a hot-desk agent gave) by OAuth state: short-lived and
    single use. Kept as tickets every node sees (cluster/tickets.py): the callback may reach
    another node than the start did."""

    def __init__(self, tickets: Tickets | None = None, ttl: float = PENDING_SECONDS) -> None:
        self.tickets: Tickets = tickets or LocalTickets(MAX_PENDING)
        self.ttl = ttl

    async def new(self, extension: str = "") -> tuple[str, str]:
        """A fresh (state, verifier) pair, remembered until taken or expired."""
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        await self.tickets.put(state, {"verifier": verifier, "extension": extension}, self.ttl)
        return state, verifier

    async def take(self, state: str) -> tuple[str, str] | None:
        """The verifier and extension for `state` if it is known and fresh; either way it is
        forgotten."""
        found = await self.tickets.take(state)
        if found is None:
            return None
        return str(found["verifier"]), str(found.get("extension", ""))


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

    async def authorize_url(self, redirect_uri: str, extension: str = "") -> str:
        """The org's authorize page for a new sign-in, its PKCE verifier (and the phone a
        hot-desk agent named) kept for the callback."""
        state, verifier = await self.pending.new(extension)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
                "state": state,
            }
        )
        return f"{self.login_url}/services/oauth2/authorize?{query}"

    async def user_for_code(self, code: str, verifier: str, redirect_uri: str) -> SalesforceUser:
        """Code + verifier for the user's access token, then the user's identity (userinfo)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        unreachable = OAuthFailed(
            "unreachable", "Salesforce could not be reached; try again.", upstream=True
        )
        try:
            async with self.http() as http:
                granted = await http.post(f"{self.login_url}/services/oauth2/token", data=form)
                if granted.status_code != 200:
                    reason = _oauth_error(granted)
                    raise OAuthFailed(
                        "refused", f"Salesforce refused the sign-in ({reason}).", upstream=False
                    )
                tokens = granted.json()
                instance = str(tokens.get("instance_url") or self.login_url).rstrip("/")
                info = await http.get(
                    f"{instance}/services/oauth2/userinfo",
                    headers={"authorization": f"Bearer {tokens['access_token']}"},
                )
        except (httpx.HTTPError, ValueError, KeyError):
            raise unreachable from None
        if info.status_code != 200:
            raise OAuthFailed(
                "refused", "Salesforce did not say who you are; try again.", upstream=True
            )
        try:
            user = info.json()
        except ValueError:
            raise unreachable from None
        if not isinstance(user, dict):
            user = {}
        return SalesforceUser(str(user.get("user_id", "")), str(user.get("name") or ""))


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


def _oauth_error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.status_code))
    except ValueError:
        return str(response.status_code)
