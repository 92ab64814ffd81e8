"""Match planning: from a ringing call, what to look up in Salesforce, in which order.

The plan is pure data; the shell executes it against the API and hands the records back here
to be filtered and ranked (`phone_matches`) and turned into a pop (`decide_pop`).

Pop order (MiVoice's words): caller ID (`ani`), dialled number (`dnis`), IVR-collected data
(`ivr`), then a new Contact (`new_contact`); a rule left out of the order is the do-not-pop
bucket. The first rule that yields records wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from softphone import phone
from softphone.calls import Call
from softphone.errors import InvalidIvrTag
from softphone.ivr import IvrEntry, parse_ivr
from softphone.pops import NO_POP, Pop, RecordRef, browser_search_pop, new_contact_pop, record_pop

# The phone fields searched per object.
PHONE_FIELDS: dict[str, tuple[str, ...]] = {
    "Contact": ("Phone", "MobilePhone", "HomePhone", "OtherPhone"),
    "Account": ("Phone",),
    "Lead": ("Phone", "MobilePhone"),
}
# Asked for with every phone search so several matches can be ranked (see `rank`).
RANKING_FIELDS = ("OwnerId", "LastModifiedDate")
PopRule = Literal["ani", "dnis", "ivr", "new_contact"]
POP_RULES: tuple[PopRule, ...] = ("ani", "dnis", "ivr", "new_contact")


@dataclass(frozen=True)
class MatchSettings:
    """How calls are matched (MaxACD and MiVoice call these the pop settings)."""

    region: str = "US"
    phone_objects: tuple[str, ...] = ("Contact", "Account", "Lead")
    pop_order: tuple[PopRule, ...] = POP_RULES
    ivr_start_with: bool = False
    pop_at: Literal["ringing", "answer"] = "ringing"
    # Dialled number (digits) -> Campaign Id, for numbers an admin maps by hand ...
    dnis_campaigns: Mapping[str, str] = field(default_factory=dict)
    # ... and/or the Campaign phone field that holds each campaign's number.
    campaign_phone_field: str = ""


@dataclass(frozen=True)
class PhoneLookup:
    """Search a number across the phone fields of `phone_fields`' objects (one SOSL request)."""

    number: str
    variants: tuple[str, ...]
    phone_fields: Mapping[str, tuple[str, ...]]

    @property
    def returning(self) -> dict[str, tuple[str, ...]]:
        return {
            obj: ("Id", "Name", *RANKING_FIELDS, *fields)
            for obj, fields in self.phone_fields.items()
        }


@dataclass(frozen=True)
class IvrLookup:
    """Find the records whose field holds an IVR-collected value."""

    entry: IvrEntry
    start_with: bool


@dataclass(frozen=True)
class KnownRecords:
    """Records known without asking Salesforce (a dialled number mapped to a campaign)."""

    refs: tuple[RecordRef, ...]


Lookup = PhoneLookup | IvrLookup | KnownRecords


@dataclass(frozen=True)
class LookupPlan:
    """The lookups for one call, in pop order, and the IVR entries refused before any API call."""

    steps: tuple[tuple[PopRule, Lookup], ...]
    new_contact_number: str
    search_number: str
    rejected_ivr: tuple[str, ...] = ()
    pop_at: Literal["ringing", "answer"] = "ringing"


def plan_lookup(call: Call, settings: MatchSettings) -> LookupPlan:
    """What to look up for `call`; nothing here touches the network."""
    steps: list[tuple[PopRule, Lookup]] = []
    rejected: list[str] = []
    entries: list[IvrEntry] = []
    for tag in call.ivr:
        try:
            entries.append(parse_ivr(tag))
        except InvalidIvrTag as exc:
            rejected.append(str(exc))
    # An internal extension is a colleague, not a customer: nothing to search, nothing to create.
    external = phone.to_e164(call.ani, settings.region) is not None or (
        len(phone.digits(call.ani)) > phone.MAX_EXTENSION_DIGITS
    )
    for rule in settings.pop_order:
        if rule == "ani":
            variants = phone.search_variants(call.ani, settings.region) if external else ()
            if variants:
                fields = {o: PHONE_FIELDS[o] for o in settings.phone_objects if o in PHONE_FIELDS}
                steps.append((rule, PhoneLookup(call.ani, variants, fields)))
        elif rule == "dnis":
            steps.extend((rule, step) for step in _dnis_steps(call.dnis, settings))
        elif rule == "ivr":
            steps.extend((rule, IvrLookup(e, settings.ivr_start_with)) for e in entries)
    shown = phone.display(call.ani, settings.region) if external else ""
    return LookupPlan(
        steps=tuple(steps),
        new_contact_number=shown if "new_contact" in settings.pop_order else "",
        search_number=shown,
        rejected_ivr=tuple(rejected),
        pop_at=settings.pop_at,
    )


def _dnis_steps(dnis: str, settings: MatchSettings) -> list[Lookup]:
    digits = phone.digits(dnis)
    if not digits:
        return []
    mapped = settings.dnis_campaigns.get(digits)
    if mapped:
        return [KnownRecords((RecordRef(object="Campaign", id=mapped, name=f"Campaign {dnis}"),))]
    if settings.campaign_phone_field:
        variants = phone.search_variants(dnis, settings.region)
        return [PhoneLookup(dnis, variants, {"Campaign": (settings.campaign_phone_field,)})]
    return []


def rank(records: Iterable[Mapping[str, Any]], owner_id: str) -> list[Mapping[str, Any]]:
    """Several matches, best first: records the agent owns, then the most recently modified."""
    by_recency = sorted(records, key=lambda r: str(r.get("LastModifiedDate") or ""), reverse=True)
    return sorted(by_recency, key=lambda r: not (owner_id and r.get("OwnerId") == owner_id))


def phone_matches(
    records: Iterable[Mapping[str, Any]], lookup: PhoneLookup, region: str, owner_id: str = ""
) -> list[RecordRef]:
    """The searched records whose stored number really is the caller's, best first.

    SOSL finds by fragments, so `+1 650 450 8810 ext. 12` and `(650) 450-8810` both come back
    for `6504508810`; numbers that merely share digits are dropped here.
    """
    kept = []
    for record in records:
        obj = str(record.get("attributes", {}).get("type", ""))
        fields = lookup.phone_fields.get(obj, ())
        if any(
            isinstance(record.get(f), str) and phone.same_number(record[f], lookup.number, region)
            for f in fields
        ):
            kept.append(record)
    return [
        RecordRef(object=str(r["attributes"]["type"]), id=str(r["Id"]), name=str(r["Name"]))
        for r in rank(kept, owner_id)
    ]


def ivr_matches(records: Iterable[Mapping[str, Any]], obj: str, name_field: str) -> list[RecordRef]:
    """The records an IVR query returned, named by the object's name field."""
    return [
        RecordRef(object=obj, id=str(r["Id"]), name=str(r.get(name_field) or r["Id"]))
        for r in records
    ]


def decide_pop(results: Iterable[tuple[str, list[RecordRef]]], plan: LookupPlan) -> Pop:
    """The first rule in pop order that found records wins; else a new Contact, else nothing."""
    for rule, refs in results:
        if refs:
            return record_pop(rule, refs).model_copy(update={"when": plan.pop_at})
    if plan.new_contact_number:
        return new_contact_pop(plan.new_contact_number).model_copy(update={"when": plan.pop_at})
    return NO_POP


def browser_pop(plan: LookupPlan) -> Pop:
    """The pop when the server must not search: the page searches the caller's number itself."""
    pop = browser_search_pop(plan.search_number)
    return pop if pop.kind == "none" else pop.model_copy(update={"when": plan.pop_at})
