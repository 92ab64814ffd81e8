"""The real Salesforce client: simple-salesforce, off the event loop, with timeouts, retries,
session renewal and the org's API usage read from every response."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError

from proxy.errors import SalesforceError
from proxy.salesforce.auth import TokenSource
from proxy.salesforce.base import COLLECTION_LIMIT, ObjectDescription, Record
from proxy.seams import Resource

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRIES = 3
BACKOFF_SECONDS = 0.2


class _TimeoutAdapter(HTTPAdapter):
    """requests has no session-wide timeout; every Salesforce request gets one here."""

    def __init__(self, timeout: float) -> None:
        super().__init__(max_retries=0)
        self.timeout = timeout

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def http_session(timeout: float, ca_file: str | None = None) -> requests.Session:
    """A requests session for simple-salesforce; REQUESTS_CA_BUNDLE is honoured for real orgs.

    With `ca_file` (the stand-in's private CA) the environment is ignored, because requests
    lets REQUESTS_CA_BUNDLE override a session's own `verify`.
    """
    session = requests.Session()
    session.mount("https://", _TimeoutAdapter(timeout))
    if ca_file is not None:
        session.verify = ca_file
        session.trust_env = False
    return session


def _error_of(exc: SimpleSalesforceError) -> SalesforceError:
    content = exc.content
    first: Any = content[0] if isinstance(content, list) and content else {}
    code = first.get("errorCode", type(exc).__name__) if isinstance(first, dict) else ""
    message = first.get("message", str(exc)) if isinstance(first, dict) else str(exc)
    if code == "REQUEST_LIMIT_EXCEEDED":
        message = f"the org's daily API limit is used up ({message})"
    return SalesforceError(str(code), str(message))


def _save_result(result: Any) -> str | SalesforceError:
    """One SaveResult of a collection write: the record's Id, or its first error."""
    if not isinstance(result, dict):
        return SalesforceError("UNEXPECTED_RESPONSE", f"not a SaveResult: {result!r:.200}")
    if result.get("success") and result.get("id"):
        return str(result["id"])
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    fields = first.get("fields") or []
    message = str(first.get("message", "refused, with no error given"))
    if fields:
        message = f"{message} (fields: {', '.join(map(str, fields))})"
    return SalesforceError(str(first.get("statusCode", "UNKNOWN_EXCEPTION")), message)


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, requests.RequestException):
        return True
    return isinstance(exc, SalesforceGeneralError) and int(exc.status) >= 500


class SimpleSalesforceApi(Resource):
    """`SalesforceApi` on simple-salesforce, signed in through `tokens` when first used.

    An expired session is renewed once and the request repeated, so no lookup is lost; 5xx
    answers and network errors are retried with backoff; other errors surface at once.
    Closing it closes its HTTP session: idle keep-alive connections would otherwise hold a
    server's shutdown open (the stand-in's, in the demo).
    """

    def __init__(self, tokens: TokenSource, http: requests.Session, version: str) -> None:
        super().__init__()
        self.tokens = tokens
        self.http = http
        self.version = version
        self._sf: Salesforce | None = None
        self._renewing = asyncio.Lock()
        self._usage: tuple[int, int] | None = None
        # Why the last request failed, or "" after a success: for /readyz.
        self.last_error = ""

    async def aclose(self) -> None:
        self.http.close()

    def _connect(self) -> Salesforce:
        session = self.tokens.login()
        self._sf = Salesforce(
            instance_url=session.instance_url,
            session_id=session.access_token,
            version=self.version,
            session=self.http,
        )
        return self._sf

    def _run(self, sf: Salesforce | None, op: Callable[[Salesforce], T]) -> T:
        sf = sf or self._connect()
        try:
            return op(sf)
        finally:
            usage = sf.api_usage.get("api-usage")
            if usage is not None:
                self._usage = (int(usage.used), int(usage.total))

    async def _renew(self, expired: Salesforce | None) -> None:
        async with self._renewing:
            if self._sf is expired:  # another lookup may have renewed it already
                await asyncio.to_thread(self._connect)
                log.info("Salesforce session renewed (%s)", self.tokens.mode)

    async def _call(self, op: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run `op`; a request that may have taken effect is retried only if `idempotent`.

        A create that timed out may have created the record, so it is never repeated here:
        the caller (the Task writer) checks before trying again.
        """
        renewed = False
        attempt = 0
        while True:
            sf = self._sf
            try:
                result = await asyncio.to_thread(self._run, sf, op)
                self.last_error = ""
                return result
            except SalesforceExpiredSession as exc:
                if renewed or not self.tokens.renewable:
                    raise SalesforceError(
                        "INVALID_SESSION_ID",
                        f"the Salesforce session ended and {self.tokens.mode} cannot renew it",
                    ) from exc
                renewed = True
                await self._renew(sf)
            except (SimpleSalesforceError, requests.RequestException) as exc:
                attempt += 1
                if not idempotent or not _retryable(exc) or attempt >= RETRIES:
                    error = (
                        _error_of(exc)
                        if isinstance(exc, SimpleSalesforceError)
                        else SalesforceError("NETWORK_ERROR", str(exc))
                    )
                    self.last_error = error.code
                    raise error from None
                delay = BACKOFF_SECONDS * 2 ** (attempt - 1)
                log.warning("Salesforce request failed (%s); retry in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    async def search(self, sosl: str) -> list[Record]:
        result = await self._call(lambda sf: sf.search(sosl))
        return list(result.get("searchRecords", []))

    async def query(self, soql: str) -> list[Record]:
        result = await self._call(lambda sf: sf.query(soql))
        return list(result.get("records", []))

    async def composite(self, requests_: list[Record]) -> list[Record]:
        body = {"allOrNone": False, "compositeRequest": requests_}
        result = await self._call(lambda sf: sf.restful("composite", method="POST", json=body))
        result = result or {}
        return list(result.get("compositeResponse", []))

    async def create(self, obj: str, fields: Record) -> str:
        result = await self._call(lambda sf: getattr(sf, obj).create(fields), idempotent=False)
        return str(result["id"])

    async def create_many(self, obj: str, records: list[Record]) -> list[str | SalesforceError]:
        if not 0 < len(records) <= COLLECTION_LIMIT:
            raise ValueError(f"a collection holds 1 to {COLLECTION_LIMIT} records")
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": obj}, **record} for record in records],
        }
        # Not idempotent: a call that timed out may have created every record.
        results = await self._call(
            lambda sf: sf.restful("composite/sobjects", method="POST", json=body),
            idempotent=False,
        )
        if not isinstance(results, list) or len(results) != len(records):
            raise SalesforceError(
                "UNEXPECTED_RESPONSE",
                f"{len(records)} records sent, answer was not {len(records)} SaveResults",
            )
        return [_save_result(result) for result in results]

    async def upsert(self, obj: str, external_field: str, value: str, fields: Record) -> str:
        path = f"{external_field}/{quote(value, safe='')}"

        def run(sf: Salesforce) -> requests.Response:
            response: requests.Response = getattr(sf, obj).upsert(path, fields, raw_response=True)
            return response

        response = await self._call(run)
        body = response.json() if response.status_code == 201 and response.content else {}
        return str(body.get("id", ""))

    async def object_names(self) -> frozenset[str]:
        result = await self._call(lambda sf: sf.describe()) or {}
        return frozenset(o["name"] for o in result.get("sobjects", []) if o.get("queryable"))

    async def describe(self, obj: str) -> ObjectDescription:
        result = await self._call(lambda sf: sf.restful(f"sobjects/{obj}/describe/")) or {}
        fields = result.get("fields", [])
        name_field = next((f["name"] for f in fields if f.get("nameField")), "Id")
        filterable = frozenset(f["name"] for f in fields if f.get("filterable"))
        return ObjectDescription(name=obj, name_field=name_field, filterable=filterable)

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self._usage
