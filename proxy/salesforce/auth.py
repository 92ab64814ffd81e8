"""Signing in to a Salesforce org: which OAuth flow the settings complete, and renewal.

simple-salesforce builds its token URLs from `<domain>.salesforce.com`, so the token exchange
happens here, against the org's own URL (`https://<my domain>/services/oauth2/token`, which
Salesforce serves for every flow), and simple-salesforce gets the resulting session.

Modes, in the order they are recognised:
- session id + instance URL (`SOFTPHONE_SALESFORCE_SESSION_ID`): cannot be renewed;
- JWT bearer (`_CONSUMER_KEY`, `_PRIVATE_KEY_FILE`, `_USERNAME`): the recommended one;
- username-password OAuth (`_CONSUMER_KEY`, `_CONSUMER_SECRET`, `_USERNAME`, `_PASSWORD`,
  optionally `_SECURITY_TOKEN`);
- client credentials (`_CONSUMER_KEY`, `_CONSUMER_SECRET`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
import requests

from proxy.errors import SalesforceError
from proxy.settings import Settings

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class OrgSession:
    instance_url: str
    access_token: str


class FixedSession:
    """An existing session id: used as given, and an error once Salesforce ends it."""

    renewable = False

    def __init__(self, instance_url: str, session_id: str) -> None:
        self.mode = "session id"
        self._session = OrgSession(instance_url, session_id)

    def login(self) -> OrgSession:
        return self._session


class OAuthSession:
    """An OAuth flow against `token_url`; `login()` can run again whenever a session expires."""

    renewable = True

    def __init__(
        self,
        mode: str,
        token_url: str,
        form: Callable[[], dict[str, str]],
        http: requests.Session,
    ) -> None:
        self.mode = mode
        self.token_url = token_url
        self._form = form
        self._http = http

    def login(self) -> OrgSession:
        try:
            response = self._http.post(self.token_url, data=self._form())
        except requests.RequestException as exc:
            raise SalesforceError("NETWORK_ERROR", f"sign-in to {self.token_url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or response.reason
            raise SalesforceError(
                "AUTHENTICATION_FAILED", f"{self.mode} sign-in refused by Salesforce: {reason}"
            )
        return OrgSession(str(body["instance_url"]), str(body["access_token"]))


TokenSource = FixedSession | OAuthSession


def jwt_assertion(consumer_key: str, username: str, private_key: str, audience: str) -> str:
    """A signed JWT for the bearer flow; valid three minutes, as Salesforce allows at most."""
    claims = {"iss": consumer_key, "sub": username, "aud": audience, "exp": int(time.time()) + 180}
    return jwt.encode(claims, private_key, algorithm="RS256")


def default_audience(org_url: str) -> str:
    return (
        "https://test.salesforce.com" if ".sandbox." in org_url else "https://login.salesforce.com"
    )


def token_source(settings: Settings, org_url: str, http: requests.Session) -> TokenSource:
    """The sign-in the settings complete, or a `ValueError` naming what each mode needs."""
    s = settings
    key = s.salesforce_consumer_key
    secret = s.salesforce_consumer_secret.get_secret_value()
    token_url = f"{org_url.rstrip('/')}/services/oauth2/token"
    if s.salesforce_session_id.get_secret_value():
        return FixedSession(org_url, s.salesforce_session_id.get_secret_value())
    if key and s.salesforce_private_key_file and s.salesforce_username:
        private_key = Path(s.salesforce_private_key_file).read_text()
        audience = s.salesforce_audience or default_audience(org_url)

        def jwt_form() -> dict[str, str]:
            assertion = jwt_assertion(key, s.salesforce_username, private_key, audience)
            return {"grant_type": JWT_GRANT, "assertion": assertion}

        return OAuthSession("JWT bearer", token_url, jwt_form, http)
    if key and secret and s.salesforce_username:
        password = (
            s.salesforce_password.get_secret_value()
            + s.salesforce_security_token.get_secret_value()
        )
        form = {
            "grant_type": "password",
            "client_id": key,
            "client_secret": secret,
            "username": s.salesforce_username,
            "password": password,
        }
        return OAuthSession("username-password", token_url, lambda: form, http)
    if key and secret:
        form = {"grant_type": "client_credentials", "client_id": key, "client_secret": secret}
        return OAuthSession("client credentials", token_url, lambda: form, http)
    raise ValueError(
        "SOFTPHONE_SALESFORCE_URL names an org but no sign-in is complete: set "
        "SOFTPHONE_SALESFORCE_CONSUMER_KEY with _PRIVATE_KEY_FILE and _USERNAME (JWT bearer), "
        "or _CONSUMER_KEY with _CONSUMER_SECRET (client credentials; add _USERNAME and "
        "_PASSWORD for username-password), or SOFTPHONE_SALESFORCE_SESSION_ID"
    )
