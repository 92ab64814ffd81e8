"""The Salesforce seam: the few REST calls the proxy needs, async, whatever the org."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Record = dict[str, Any]


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
