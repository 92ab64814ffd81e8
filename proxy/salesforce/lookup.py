"""Carries out the core's lookup plan against Salesforce: cached, coalesced, describe-checked."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from proxy.errors import SalesforceError
from proxy.salesforce.base import ObjectDescription, SalesforceApi
from softphone import matching
from softphone.calls import Call
from softphone.ivr import IvrEntry
from softphone.matching import IvrLookup, MatchSettings, PhoneLookup
from softphone.phone import mask
from softphone.pops import Pop, RecordRef
from softphone.soql import soql_field_equals, sosl_phone_search

log = logging.getLogger(__name__)
IVR_LIMIT = 10


class RecordMatcher:
    """Turns a ringing call into a pop, spending as few API calls as it can.

    Phone searches are cached per number for `cache_seconds`, and identical searches in flight
    share one request. Object and field names from IVR data are checked against describe
    metadata (fetched once per object) before any query is built.
    """

    def __init__(
        self,
        api: SalesforceApi,
        settings: MatchSettings,
        *,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.settings = settings
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._phone_cache: dict[tuple[str, ...], tuple[float, list[RecordRef]]] = {}
        self._in_flight: dict[tuple[str, ...], asyncio.Future[list[RecordRef]]] = {}
        self._objects: frozenset[str] | None = None
        self._describes: dict[str, ObjectDescription] = {}

    async def match(self, call: Call) -> Pop:
        plan = matching.plan_lookup(call, self.settings)
        for problem in plan.rejected_ivr:
            log.warning("IVR data ignored [call_id=%s]: %s", call.call_id, problem)
        results: list[tuple[str, list[RecordRef]]] = []
        for rule, step in plan.steps:
            if isinstance(step, PhoneLookup):
                refs = await self._phone(step, call.call_id)
            else:
                refs = await self._ivr(step, call.call_id)
            results.append((rule, refs))
            if refs:
                break
        return matching.decide_pop(results, plan)

    async def _phone(self, lookup: PhoneLookup, call_id: str) -> list[RecordRef]:
        key = lookup.variants
        cached = self._phone_cache.get(key)
        if cached is not None and self.clock() - cached[0] < self.cache_seconds:
            return cached[1]
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[list[RecordRef]] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            records = await self.api.search(sosl_phone_search(lookup.variants, lookup.returning))
            refs = matching.phone_matches(records, lookup, self.settings.region)
            self._phone_cache[key] = (self.clock(), refs)
            future.set_result(refs)
            log.info(
                "caller %s matched %d record(s) [call_id=%s]",
                mask(lookup.number),
                len(refs),
                call_id,
            )
            return refs
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here so an unawaited future never warns
            raise
        finally:
            del self._in_flight[key]

    async def _ivr(self, lookup: IvrLookup, call_id: str) -> list[RecordRef]:
        entry = lookup.entry
        description = await self._checked(entry, call_id)
        if description is None:
            return []
        soql = soql_field_equals(
            entry.object,
            ("Id", description.name_field),
            entry.field,
            entry.value,
            start_with=lookup.start_with,
            limit=IVR_LIMIT,
        )
        records = await self.api.query(soql)
        return matching.ivr_matches(records, entry.object, description.name_field)

    async def _checked(self, entry: IvrEntry, call_id: str) -> ObjectDescription | None:
        """The object's description when `entry` names a real, filterable field; else None."""
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
