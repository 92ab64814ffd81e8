"""Match planning: from a ringing call, what to look up in Salesforce, in which order.

The plan is pure data; the shell executes it against the API and hands the records back here
to be filtered (`phone_matches`) and turned into a pop (`decide_pop`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from softphone import phone
from softphone.calls import Call
from softphone.errors import InvalidIvrTag
from softphone.ivr import IvrEntry, parse_ivr
from softphone.pops import NO_POP, Pop, RecordRef, new_contact_pop, record_pop

# The phone fields searched per object, and so the fields every search returns.
PHONE_FIELDS: dict[str, tuple[str, ...]] = {
    "Contact": ("Phone", "MobilePhone", "HomePhone", "OtherPhone"),
    "Account": ("Phone",),
    "Lead": ("Phone", "MobilePhone"),
}
PopRule = Literal["ani", "ivr", "new_contact"]


@dataclass(frozen=True)
class MatchSettings:
    """How one agent's calls are matched (MaxACD/MiVoice call these the pop settings)."""

    region: str = "US"
    phone_objects: tuple[str, ...] = ("Contact", "Account", "Lead")
    pop_order: tuple[PopRule, ...] = ("ani", "ivr", "new_contact")
    ivr_start_with: bool = False


@dataclass(frozen=True)
class PhoneLookup:
    """Search the caller's number across the phone fields of `returning`'s objects."""

    number: str
    e164: str | None
    variants: tuple[str, ...]
    returning: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class IvrLookup:
    """Find the records whose field holds an IVR-collected value."""

    entry: IvrEntry
    start_with: bool


@dataclass(frozen=True)
class LookupPlan:
    """The lookups for one call, in pop order, and the IVR entries refused before any API call."""

    steps: tuple[tuple[PopRule, PhoneLookup | IvrLookup], ...]
    new_contact_number: str
    rejected_ivr: tuple[str, ...] = field(default=())


def plan_lookup(call: Call, settings: MatchSettings) -> LookupPlan:
    """What to look up for `call`; nothing here touches the network."""
    steps: list[tuple[PopRule, PhoneLookup | IvrLookup]] = []
    rejected: list[str] = []
    entries: list[IvrEntry] = []
    for tag in call.ivr:
        try:
            entries.append(parse_ivr(tag))
        except InvalidIvrTag as exc:
            rejected.append(str(exc))
    for rule in settings.pop_order:
        if rule == "ani":
            variants = phone.search_variants(call.ani, settings.region)
            if variants:
                returning = {o: ("Id", "Name", *PHONE_FIELDS[o]) for o in settings.phone_objects}
                lookup = PhoneLookup(
                    call.ani, phone.to_e164(call.ani, settings.region), variants, returning
                )
                steps.append((rule, lookup))
        elif rule == "ivr":
            steps.extend((rule, IvrLookup(e, settings.ivr_start_with)) for e in entries)
    new_number = ""
    if "new_contact" in settings.pop_order and phone.digits(call.ani):
        new_number = phone.display(call.ani, settings.region)
    return LookupPlan(tuple(steps), new_number, tuple(rejected))


def phone_matches(
    records: Iterable[Mapping[str, Any]], lookup: PhoneLookup, region: str
) -> list[RecordRef]:
    """The searched records whose stored number really is the caller's, digit for digit.

    SOSL finds by fragments, so `+1 650 450 8810 ext. 12` and `(650) 450-8810` both come back
    for `6504508810`; numbers that merely share digits are dropped here.
    """
    found: list[RecordRef] = []
    for record in records:
        obj = str(record.get("attributes", {}).get("type", ""))
        fields = PHONE_FIELDS.get(obj, ())
        if any(
            isinstance(record.get(f), str) and phone.same_number(record[f], lookup.number, region)
            for f in fields
        ):
            found.append(RecordRef(object=obj, id=str(record["Id"]), name=str(record["Name"])))
    return found


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
            return record_pop(rule, refs)
    if plan.new_contact_number:
        return new_contact_pop(plan.new_contact_number)
    return NO_POP
