"""The Salesforce seam: the few REST calls the proxy needs, async, whatever the org."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from proxy.errors import SalesforceError

Record = dict[str, Any]
# sObject Collections take at most this many records per call (REST API guide).
COLLECTION_LIMIT = 200


@dataclass(frozen=True)
class ObjectDescription:
    """What the matcher must know of an object: its name field and which fields can filter."""

    name: str
    name_field: str
    filterable: frozenset[str]


class SalesforceApi(Protocol):
    async def search(self, sosl: str) -> list[Record]:
        """Run a SOSL search; the records carry `attributes.type`."""
        ...

    async def query(self, soql: str) -> list[Record]: ...

    async def composite(self, requests_: list[Record]) -> list[Record]:
        """Several GET subrequests in one API call; one answer per subrequest, in order."""
        ...

    @property
    def version(self) -> str:
        """The REST API version, e.g. "60.0", for building subrequest URLs."""
        ...

    async def create(self, obj: str, fields: Record) -> str:
        """Create one record; its Id."""
        ...

    async def create_many(self, obj: str, records: list[Record]) -> list[str | SalesforceError]:
        """Create 1 to `COLLECTION_LIMIT` records in one API call (sObject Collections, not all
        or none): for each record, in order, its Id or why Salesforce refused it.

        Raises `SalesforceError` when the call as a whole failed: then any record may or may
        not have been created.
        """
        ...

    async def upsert(self, obj: str, external_field: str, value: str, fields: Record) -> str:
        """Create or update the record whose `external_field` is `value`; its Id if created."""
        ...

    async def object_names(self) -> frozenset[str]:
        """The API names of every object the integration user can see (describe global)."""
        ...

    async def describe(self, obj: str) -> ObjectDescription: ...

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, limit) of the org's daily API budget, from the last response seen."""
        ...
