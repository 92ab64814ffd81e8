"""The stand-in's Telephony Integration API: VoiceCalls as Salesforce Voice keeps them.

Served at `/telephony/v1` next to the REST API (a real org serves it from its own
`*.my.salesforce-scrt.com` host). Every request must carry a bearer JWT that the real API would
take: RS256, signed by the key whose certificate the contact center holds, `iss` = the org id,
`sub` = the contact center's API name, `iat` and an `exp` at most 24 hours later, and a `jti`
not seen before. Anything else is refused with 401, the reason in the body.

What it records (tests and the demo read it): each VoiceCall by vendorCallKey, every update
and routing cleared, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_TOKEN_SECONDS = 24 * 3600
REQUIRED = ("callCenterApiName", "vendorCallKey", "to", "from", "initiationMethod", "startTime")
INITIATIONS = {"Inbound", "Outbound", "Transfer", "Callback"}


def new_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh RSA key, as an admin makes for a contact center."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class StandinTelephony:
    """The org's Salesforce Voice side: its contact center, and the VoiceCalls written to it."""

    org_id: str = "00DDm0000000001AAA"
    call_center: str = "SoftphoneProxyVoice"
    public_key: str = ""
    # The demo's own key (the proxy signs with it when SOFTPHONE_VOICE_SCRT_URL=standin://).
    private_key: str = ""
    voice_calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # Faults to inject: the next authenticated requests answer with these statuses, in order.
    faults: list[int] = field(default_factory=list)
    _jtis: set[str] = field(default_factory=set)
    _ids: int = 0

    def with_demo_key(self) -> StandinTelephony:
        if not self.public_key:
            self.private_key, self.public_key = new_key_pair()
        return self

    def by_id(self, key: str) -> dict[str, Any] | None:
        """A VoiceCall by vendorCallKey or by its Salesforce id, as the API finds them."""
        found = self.voice_calls.get(key)
        if found is not None:
            return found
        return next((v for v in self.voice_calls.values() if v["Id"] == key), None)

    def children(self, parent_key: str) -> list[dict[str, Any]]:
        return [v for v in self.voice_calls.values() if v.get("parentVoiceCallId") == parent_key]

    def refusal(self, authorization: str) -> str:
        """Why this Authorization header is refused, or "" when it is good."""
        token = authorization.removeprefix("Bearer ").strip()
        if not token or token == authorization:
            return "no bearer token"
        if not self.public_key:
            return "the contact center has no Telephony Integration certificate"
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                issuer=self.org_id,
                options={"require": ["iss", "sub", "iat", "exp"]},
                leeway=5,
            )
        except jwt.InvalidSignatureError:
            return "the signature does not match the contact center's certificate"
        except jwt.ExpiredSignatureError:
            return "the token has expired"
        except jwt.InvalidIssuerError:
            return "iss is not this org's id"
        except jwt.PyJWTError as exc:
            return f"invalid token: {exc}"
        if claims["sub"] != self.call_center:
            return f"sub {claims['sub']!r} is not a contact center of this org"
        if int(claims["exp"]) - int(claims["iat"]) > MAX_TOKEN_SECONDS:
            return "exp is more than 24 hours after iat"
        jti = claims.get("jti")
        if jti is not None:
            if jti in self._jtis:
                return "jti already used"
            self._jtis.add(str(jti))
        return ""

    def create(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 400, _errors("INVALID_INPUT", "the body must be a JSON object")
        missing = [name for name in REQUIRED if not body.get(name)]
        if missing:
            return 400, _errors("MISSING_FIELD", f"required: {', '.join(missing)}")
        if body["callCenterApiName"] != self.call_center:
            return 400, _errors("INVALID_CALL_CENTER", "no such contact center")
        if body["initiationMethod"] not in INITIATIONS:
            return 400, _errors("INVALID_INPUT", "unknown initiationMethod")
        if "callAttributes" in body and not isinstance(body["callAttributes"], str):
            return 400, _errors("INVALID_INPUT", "callAttributes must be a string")
        key = str(body["vendorCallKey"])
        if key in self.voice_calls:
            return 409, _errors("DUPLICATE_VALUE", f"vendorCallKey {key} exists already")
        parent = body.get("parentVoiceCallId")
        if parent and self.by_id(str(parent)) is None:
            return 400, _errors("INVALID_PARENT", f"no VoiceCall {parent}")
        self._ids += 1
        record = {"Id": f"0LQDm{self._ids:010d}AAA", **body, "CallDisposition": "new"}
        self.voice_calls[key] = record
        return 200, {"voiceCallId": record["Id"], "errors": []}

    def update(self, key: str, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 400, _errors("INVALID_INPUT", "the body must be a JSON object")
        record = self.by_id(key)
        if record is None:
            return 404, _errors("NOT_FOUND", f"no VoiceCall {key}")
        self.updates.append((str(record["vendorCallKey"]), body))
        record.update(body)
        record["CallDisposition"] = "completed"
        return 200, {"status": "pending"}

    def clear_routing(self, key: str) -> tuple[int, dict[str, Any]]:
        record = self.by_id(key)
        if record is None:
            return 404, _errors("NOT_FOUND", f"no VoiceCall {key}")
        self.cleared.append(str(record["vendorCallKey"]))
        return 200, {"status": "pending"}


def _errors(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"errorCode": code, "message": message}]}


def telephony_routes(telephony: StandinTelephony) -> list[Route]:
    async def guarded(request: Request) -> Response:
        refusal = telephony.refusal(request.headers.get("authorization", ""))
        if refusal:
            telephony.refused.append(refusal)
            return JSONResponse(_errors("INVALID_AUTH", refusal), status_code=401)
        if telephony.faults:
            status = telephony.faults.pop(0)
            code = "INVALID_INPUT" if status < 500 else "SERVER_UNAVAILABLE"
            return JSONResponse(_errors(code, "injected"), status_code=status)
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            return JSONResponse(_errors("INVALID_INPUT", "malformed JSON"), status_code=400)
        key = request.path_params.get("key", "")
        if request.url.path.endswith("/clearRouting"):
            status, answer = telephony.clear_routing(key)
        elif key:
            status, answer = telephony.update(key, body)
        else:
            status, answer = telephony.create(body)
        return JSONResponse(answer, status_code=status)

    base = "/telephony/v1/voiceCalls"
    return [
        Route(base, guarded, methods=["POST"]),
        Route(base + "/{key}", guarded, methods=["PATCH"]),
        Route(base + "/{key}/clearRouting", guarded, methods=["PATCH"]),
    ]
