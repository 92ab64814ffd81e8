"""Carries out the core's lookup plan against Salesforce, spending as few API calls as it can.

- A new caller costs one API call, whatever the plan holds: when several lookups are needed
  (caller ID, a campaign number, IVR data) they travel in one composite request.
- A repeat caller within `cache_seconds` costs none, and identical lookups in flight share
  one request; in a cluster, through `SharedAnswers` (proxy/cluster/answers.py), across nodes.
- IVR object and field names are checked against describe metadata (fetched once per object,
  the object list at start) before any query is built; an unknown one costs nothing.
- Below the API budget floor, or without an integration user, the page searches instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from proxy.cluster.answers import LocalAnswers, SharedAnswers
from proxy.errors import SalesforceError
from proxy.salesforce.base import ObjectDescription, Record, SalesforceApi
from softphone import matching
from softphone.calls import Call
from softphone.errors import CommandRefused
from softphone.ivr import IvrEntry
from softphone.matching import IvrLookup, KnownRecords, MatchSettings, PhoneLookup
from softphone.phone import mask, search_variants
from softphone.pops import Pop, RecordRef
from softphone.soql import soql_field_equals, sosl_name_search, sosl_phone_search

log = logging.getLogger(__name__)
IVR_LIMIT = 10
# Composite allows 25 subrequests of which at most 5 may be queries or searches.
COMPOSITE_QUERIES = 5


@dataclass(frozen=True)
class _Query:
    """One SOSL or SOQL request the plan needs, and how its records become matches."""

    kind: str  # "search" | "query"
    text: str
    to_refs: Callable[[list[Record]], list[RecordRef]]
    cache_key: tuple[object, ...] | None = None


class RecordMatcher:
    def __init__(
        self,
        api: SalesforceApi | None,
        *,
        cache_seconds: float,
        budget_floor: int = 0,
        clock: Callable[[], float] = time.monotonic,
        answers: SharedAnswers | None = None,
        usage: Callable[[], tuple[int, int] | None] | None = None,
    ) -> None:
        self.api = api
        # The org's API use today (used, limit): the cluster's newest reading, or this node's.
        self.usage = usage or (lambda: api.api_usage if api is not None else None)
        self.answers = answers or LocalAnswers()
        self.cache_seconds = cache_seconds
        self.budget_floor = budget_floor
        self.clock = clock
        self._phone_cache: dict[tuple[object, ...], tuple[float, list[Record]]] = {}
        self._in_flight: dict[tuple[str, ...], asyncio.Future[list[list[Record]]]] = {}
        self._objects: frozenset[str] | None = None
        self._describes: dict[str, ObjectDescription] = {}

    async def warm_up(self) -> None:
        """Fetch the org's object list now, so IVR checks cost no API call while calls ring."""
        if self.api is None:
            return
        try:
            self._objects = await self.api.object_names()
        except SalesforceError as exc:
            log.warning("Salesforce not reachable at start, will retry on the first call: %s", exc)

    @property
    def budget_left(self) -> int | None:
        usage = self.usage()
        return None if usage is None else usage[1] - usage[0]

    async def search_people(
        self, text: str, settings: MatchSettings, limit: int = 20
    ) -> tuple[list[RecordRef], dict[str, str]]:
        """Contacts, Leads and Accounts by name or number, for the agent's search field.

        One API call per search. Refused (`CommandRefused` "search_unavailable") without an
        integration user or below the API budget floor: the page then searches in the agent's
        own Salesforce session instead.
        """
        left = self.budget_left
        if self.api is None or (left is not None and left < self.budget_floor):
            raise CommandRefused(
                "search_unavailable", "Search here is unavailable; use Salesforce's search"
            )
        returning = {
            obj: ("Id", "Name", *matching.PHONE_FIELDS[obj])
            for obj in ("Contact", "Lead", "Account")
        }
        digits = "".join(c for c in text if c.isdigit())
        if len(digits) >= 4 and len(digits) >= len(text.replace(" ", "")) - 4:
            sosl = sosl_phone_search(search_variants(text, settings.region), returning)
        else:
            words = [w for w in text.split() if w]
            sosl = sosl_name_search(words, returning, limit)
        records = (await self.api.search(sosl))[:limit]
        refs = [
            RecordRef(object=str(r["attributes"]["type"]), id=str(r["Id"]), name=str(r["Name"]))
            for r in records
        ]
        phones = {
            str(r["Id"]): next(
                (str(r[f]) for f in matching.PHONE_FIELDS[r["attributes"]["type"]] if r.get(f)),
                "",
            )
            for r in records
        }
        return refs, {k: v for k, v in phones.items() if v}

    async def match(self, call: Call, settings: MatchSettings, owner_id: str = "") -> Pop:
        plan = matching.plan_lookup(call, settings)
        for problem in plan.rejected_ivr:
            log.warning("IVR data ignored [call_id=%s]: %s", call.call_id, problem)
        if self.api is None:
            return matching.browser_pop(plan)
        left = self.budget_left
        if left is not None and left < self.budget_floor:
            log.warning(
                "API budget low (%d left, floor %d): the page searches [call_id=%s]",
                left,
                self.budget_floor,
                call.call_id,
            )
            return matching.browser_pop(plan)

        steps: list[tuple[str, list[RecordRef] | _Query]] = []
        for rule, step in plan.steps:
            steps.append((rule, await self._resolve(step, settings, owner_id, call.call_id)))
        pop = matching.decide_pop(await self._answer(steps), plan)
        if call.ani:
            log.info(
                "caller %s: pop %s by %s [call_id=%s]",
                mask(call.ani),
                pop.kind,
                pop.rule or "-",
                call.call_id,
            )
        return pop

    async def _answer(
        self, steps: list[tuple[str, list[RecordRef] | _Query]]
    ) -> list[tuple[str, list[RecordRef]]]:
        """Each rule's matches: known ones as they are, the others asked of Salesforce."""
        # Only the lookups before the first rule already known to match are worth asking.
        needed: list[_Query] = []
        for _, item in steps:
            if isinstance(item, list):
                if item:
                    break
            else:
                needed.append(item)
        answers = dict(zip(needed, await self._fetch(needed), strict=True))
        results: list[tuple[str, list[RecordRef]]] = []
        for step_rule, item in steps:
            if isinstance(item, list):
                results.append((step_rule, item))
            elif item in answers:
                records = answers[item]
                if item.cache_key is not None:
                    self._phone_cache[item.cache_key] = (self.clock(), records)
                results.append((step_rule, item.to_refs(records)))
        return results

    async def _resolve(
        self,
        step: PhoneLookup | IvrLookup | KnownRecords,
        settings: MatchSettings,
        owner_id: str,
        call_id: str,
    ) -> list[RecordRef] | _Query:
        """Matches known without a request, or the request that will find them."""
        if isinstance(step, KnownRecords):
            return list(step.refs)
        if isinstance(step, PhoneLookup):
            key = (step.variants, tuple(sorted(step.phone_fields.items())))

            def phone_refs(records: list[Record]) -> list[RecordRef]:
                return matching.phone_matches(records, step, settings.region, owner_id)

            cached = self._phone_cache.get(key)
            if cached is not None and self.clock() - cached[0] < self.cache_seconds:
                return phone_refs(cached[1])
            text = sosl_phone_search(step.variants, step.returning)
            return _Query("search", text, phone_refs, key)
        entry = step.entry
        description = await self._checked(entry, call_id)
        if description is None:
            return []
        text = soql_field_equals(
            entry.object,
            ("Id", description.name_field),
            entry.field,
            entry.value,
            start_with=step.start_with,
            limit=IVR_LIMIT,
        )

        def ivr_refs(records: list[Record]) -> list[RecordRef]:
            return matching.ivr_matches(records, entry.object, description.name_field)

        return _Query("query", text, ivr_refs)

    async def _fetch(self, queries: list[_Query]) -> list[list[Record]]:
        """The records of each query, in one API call when possible; shared while in flight."""
        if not queries:
            return []
        key = tuple(q.text for q in queries)
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[list[list[Record]]] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            result = await self._shared_request(queries)
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here so an unawaited future never warns
            raise
        finally:
            del self._in_flight[key]

    async def _shared_request(self, queries: list[_Query]) -> list[list[Record]]:
        """The request made once among the nodes asking it now; phone searches kept for the
        cache time on every node (IVR queries are shared only while in flight)."""
        ttl = self.cache_seconds if all(q.cache_key is not None for q in queries) else 0.0
        key = "\n".join(f"{q.kind}:{q.text}" for q in queries)
        result: list[list[Record]] = await self.answers.answer(
            key, ttl, lambda: self._request(queries)
        )
        return result

    async def _request(self, queries: list[_Query]) -> list[list[Record]]:
        assert self.api is not None
        if len(queries) == 1:
            (q,) = queries
            return [
                await (self.api.search(q.text) if q.kind == "search" else self.api.query(q.text))
            ]
        results: list[list[Record]] = []
        for start in range(0, len(queries), COMPOSITE_QUERIES):
            chunk = queries[start : start + COMPOSITE_QUERIES]
            base = f"/services/data/v{self.api.version}"
            subrequests: list[Record] = [
                {
                    "method": "GET",
                    "referenceId": f"q{i}",
                    "url": f"{base}/{q.kind}/?q={quote(q.text)}",
                }
                for i, q in enumerate(chunk)
            ]
            for q, answer in zip(chunk, await self.api.composite(subrequests), strict=True):
                body = answer.get("body")
                if answer.get("httpStatusCode") != 200 or not isinstance(body, dict):
                    log.error("Salesforce refused a lookup: %s (%s)", body, q.text[:80])
                    results.append([])
                else:
                    found = body.get("searchRecords", body.get("records")) or []
                    results.append([r for r in found if isinstance(r, dict)])
        return results

    async def _checked(self, entry: IvrEntry, call_id: str) -> ObjectDescription | None:
        """The object's description when `entry` names a real, filterable field; else None."""
        assert self.api is not None
        if self._objects is None:
            self._objects = await self.api.object_names()
        if entry.object not in self._objects:
            log.warning(
                "IVR data ignored [call_id=%s]: no object %r in this org", call_id, entry.object
            )
            return None
        description = self._describes.get(entry.object)
        if description is None:
            try:
                description = await self.api.describe(entry.object)
            except SalesforceError as exc:
                log.warning("IVR data ignored [call_id=%s]: describe failed: %s", call_id, exc)
                return None
            self._describes[entry.object] = description
        if entry.field not in description.filterable:
            log.warning(
                "IVR data ignored [call_id=%s]: %s.%s is not a filterable field",
                call_id,
                entry.object,
                entry.field,
            )
            return None
        return description
