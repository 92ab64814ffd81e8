"""The real Salesforce client: simple-salesforce, run off the event loop, with timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError

from proxy.errors import SalesforceError
from proxy.salesforce.base import ObjectDescription, Record


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


class SimpleSalesforceApi:
    """`SalesforceApi` on a `simple_salesforce.Salesforce` instance (any auth mode)."""

    def __init__(self, sf: Salesforce) -> None:
        self._sf = sf

    async def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except SimpleSalesforceError as exc:
            content = exc.content
            first: Any = content[0] if isinstance(content, list) and content else {}
            code = first.get("errorCode", type(exc).__name__) if isinstance(first, dict) else ""
            message = first.get("message", str(exc)) if isinstance(first, dict) else str(exc)
            raise SalesforceError(str(code), str(message)) from None
        except requests.RequestException as exc:
            raise SalesforceError("NETWORK_ERROR", str(exc)) from None

    async def search(self, sosl: str) -> list[Record]:
        result = await self._call(self._sf.search, sosl)
        return list(result.get("searchRecords", []))

    async def query(self, soql: str) -> list[Record]:
        result = await self._call(self._sf.query, soql)
        return list(result.get("records", []))

    async def object_names(self) -> frozenset[str]:
        result = await self._call(self._sf.describe)
        return frozenset(o["name"] for o in result.get("sobjects", []) if o.get("queryable"))

    async def describe(self, obj: str) -> ObjectDescription:
        result = await self._call(self._sf.restful, f"sobjects/{obj}/describe/")
        fields = result.get("fields", [])
        name_field = next((f["name"] for f in fields if f.get("nameField")), "Id")
        filterable = frozenset(f["name"] for f in fields if f.get("filterable"))
        return ObjectDescription(name=obj, name_field=name_field, filterable=filterable)

    @property
    def api_usage(self) -> tuple[int, int] | None:
        usage = self._sf.api_usage.get("api-usage")
        return None if usage is None else (int(usage.used), int(usage.total))
