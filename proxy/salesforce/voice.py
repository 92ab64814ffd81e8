"""The Telephony Integration API client: how our server tells Salesforce Voice about calls.

Base URL: SOFTPHONE_VOICE_SCRT_URL + /telephony/v1 (the org's
`https://<MyDomain>.my.salesforce-scrt.com`). Every request carries a fresh bearer JWT, RS256,
`iss` = the org id, `sub` = the contact center's API name, valid five minutes: short, so a
leaked token is worth little, and fresh, so a clock step or a slow retry never sends an
expired one. The key's certificate is the contact center's `reqTelephonyIntegrationCertificate`.

Errors (`TelephonyError`, a `SalesforceError`): `code` is the API's own error code when it
sends one, else `HTTP_<status>`; `retryable` says whether a later attempt may succeed. A
refused token is `JWT_REFUSED` and says what to check, since that is an admin's to fix.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jwt
import requests

from proxy.errors import SalesforceError
from proxy.settings import Settings

if TYPE_CHECKING:
    from proxy.salesforce.standin.org import StandinOrg

log = logging.getLogger(__name__)
TOKEN_SECONDS = 300
PROVIDER_NAME = "softphone-proxy"  # the Telephony-Provider-Name header


class TelephonyError(SalesforceError):
    def __init__(self, code: str, message: str, *, status: int = 0, retryable: bool) -> None:
        super().__init__(code, message)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class VoiceCredentials:
    """Who the JWT says we are, and the key that signs it."""

    org_id: str
    call_center: str
    private_key: str

    def token(self, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": self.org_id,
            "sub": self.call_center,
            "iat": issued,
            "exp": issued + TOKEN_SECONDS,
            "jti": str(uuid.uuid4()),  # never reused, as the API requires of a jti
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256")


def credentials_from(settings: Settings) -> VoiceCredentials:
    """The settings' Voice credentials, or a `ValueError` naming what is missing or unreadable."""
    missing = [
        name
        for name, value in (
            ("SOFTPHONE_VOICE_ORG_ID", settings.voice_org_id),
            ("SOFTPHONE_VOICE_CALL_CENTER", settings.voice_call_center),
            ("SOFTPHONE_VOICE_PRIVATE_KEY_FILE", settings.voice_private_key_file),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"SOFTPHONE_VOICE_SCRT_URL is set: also set {', '.join(missing)}")
    path = Path(settings.voice_private_key_file)
    try:
        key = path.read_text()
    except OSError as exc:
        raise ValueError(f"SOFTPHONE_VOICE_PRIVATE_KEY_FILE {path}: {exc.strerror}") from None
    try:
        jwt.encode({"probe": True}, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        raise ValueError(
            f"SOFTPHONE_VOICE_PRIVATE_KEY_FILE {path} is not a PEM RSA private key"
        ) from None
    return VoiceCredentials(settings.voice_org_id, settings.voice_call_center, key)


def trusted_cas(ca_file: str | None = None) -> str | bool:
    """What TLS verification trusts: the stand-in's CA, else REQUESTS_CA_BUNDLE or
    SSL_CERT_FILE (an org reached through a private CA), else the system's."""
    if ca_file:
        return ca_file
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or True


class TelephonyApi:
    """POST /voiceCalls, PATCH /voiceCalls/{key}, PATCH /voiceCalls/{key}/clearRouting."""

    def __init__(
        self,
        base_url: str,
        credentials: VoiceCredentials,
        *,
        timeout: float = 10.0,
        ca_file: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock  # what the token's iat and exp count from
        self.base_url = base_url.rstrip("/") + "/telephony/v1"
        self.credentials = credentials
        self.timeout = timeout
        self.http = requests.Session()
        self.http.verify = trusted_cas(ca_file)
        self.http.trust_env = False  # verification is decided above, once

    def close(self) -> None:
        self.http.close()

    async def create(self, body: dict[str, Any]) -> str:
        """Create the VoiceCall; the id Salesforce gave it."""
        answer = await self._send("POST", "/voiceCalls", body)
        return str(answer.get("voiceCallId", ""))

    async def update(self, key: str, body: dict[str, Any]) -> None:
        await self._send("PATCH", f"/voiceCalls/{quote(key, safe='')}", body)

    async def clear_routing(self, key: str) -> None:
        await self._send("PATCH", f"/voiceCalls/{quote(key, safe='')}/clearRouting", {})

    async def check(self) -> str:
        """Prove the JWT is accepted with a request that changes nothing: clear the routing of
        a call that does not exist. Any answer but a refused token is success."""
        probe = f"softphone-proxy-doctor-{secrets.token_hex(6)}"
        try:
            await self.clear_routing(probe)
        except TelephonyError as exc:
            if exc.code == "JWT_REFUSED" or exc.status in (0, 500, 502, 503, 504):
                raise
            return f"token accepted (the probe answered {exc.code})"
        return "token accepted"

    async def _send(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self._send_now, method, path, body)

    def _send_now(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self.credentials.token(self.clock())}",
            "Content-Type": "application/json",
            "Telephony-Provider-Name": PROVIDER_NAME,
        }
        try:
            response = self.http.request(
                method, self.base_url + path, json=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise TelephonyError("UNREACHABLE", str(exc), retryable=True) from None
        if response.status_code < 300:
            try:
                answer = response.json() if response.content else {}
            except ValueError:
                answer = {}
            return answer if isinstance(answer, dict) else {}
        raise _error_of(response)


def _error_of(response: requests.Response) -> TelephonyError:
    status = response.status_code
    code, message = f"HTTP_{status}", response.text[:500]
    try:
        answer: Any = response.json()
    except ValueError:
        answer = None
    errors = answer.get("errors") if isinstance(answer, dict) else answer
    first = errors[0] if isinstance(errors, list) and errors else answer
    if isinstance(first, dict):
        code = str(first.get("errorCode") or first.get("code") or code)
        message = str(first.get("message") or message)
    if status in (401, 403):
        return TelephonyError(
            "JWT_REFUSED",
            f"Salesforce Voice refused our token ({code}: {message}). Check "
            "SOFTPHONE_VOICE_ORG_ID (iss), SOFTPHONE_VOICE_CALL_CENTER (sub), and that the "
            "certificate of SOFTPHONE_VOICE_PRIVATE_KEY_FILE is the contact center's "
            "Telephony Integration certificate",
            status=status,
            retryable=True,  # an admin may fix the contact center while the row waits
        )
    return TelephonyError(code, message, status=status, retryable=status >= 500 or status == 429)


def check_voice_settings(settings: Settings) -> None:
    """Stop at start, saying what is wrong, when the Voice settings cannot make a client."""
    url = settings.voice_scrt_url
    if url.startswith("standin:") and not settings.salesforce_url.startswith("standin:"):
        raise ValueError(
            "SOFTPHONE_VOICE_SCRT_URL=standin:// needs the demo org (SOFTPHONE_SALESFORCE_URL="
            "standin://); give a real org's https://<MyDomain>.my.salesforce-scrt.com instead"
        )
    if url.startswith("https:"):
        credentials_from(settings)


def telephony_api(settings: Settings, org: StandinOrg | None) -> TelephonyApi | None:
    """The configured Telephony Integration API client, or None when Voice is not set up.

    `standin://` is the demo org's own API, signed with the key the demo contact center holds
    (call after the stand-in is serving, which sets its URL and CA)."""
    url = settings.voice_scrt_url
    if not url:
        return None
    timeout = settings.salesforce_timeout_seconds
    if url.startswith("standin:"):
        if org is None:
            raise ValueError("SOFTPHONE_VOICE_SCRT_URL=standin:// needs the demo org")
        center = org.telephony.with_demo_key()
        demo = VoiceCredentials(center.org_id, center.call_center, center.private_key)
        return TelephonyApi(org.instance_url, demo, timeout=timeout, ca_file=org.ca_file)
    return TelephonyApi(url, credentials_from(settings), timeout=timeout)
