"""Match planning and pop decisions, from ringing call to the pop the page carries out."""

from __future__ import annotations

from typing import Any

import pytest

from softphone.calls import Call
from softphone.events import CallState, Direction
from softphone.matching import (
    IvrLookup,
    MatchSettings,
    PhoneLookup,
    decide_pop,
    phone_matches,
    plan_lookup,
)
from softphone.pops import RecordRef


def ringing(ani: str = "", ivr: tuple[str, ...] = ()) -> Call:
    return Call("c1", "1001", Direction.INBOUND, CallState.RINGING, ani=ani, ivr=ivr)


def record(obj: str, rid: str, name: str, **phones: str) -> dict[str, Any]:
    return {"attributes": {"type": obj}, "Id": rid, "Name": name, **phones}


def test_plan_orders_ani_then_ivr_and_keeps_new_contact_number() -> None:
    """Caller ID first, then each IVR entry, with the number ready for a new Contact."""
    plan = plan_lookup(
        ringing("+16504508810", ("Case.CaseNumber=1", "Contract.ContractNumber=2")),
        MatchSettings(),
    )
    rules = [(rule, type(step)) for rule, step in plan.steps]
    assert rules == [("ani", PhoneLookup), ("ivr", IvrLookup), ("ivr", IvrLookup)]
    phone_step = plan.steps[0][1]
    assert isinstance(phone_step, PhoneLookup)
    assert phone_step.variants == ("16504508810", "6504508810")
    assert set(phone_step.returning) == {"Contact", "Account", "Lead"}
    assert phone_step.returning["Lead"] == (
        "Id",
        "Name",
        "OwnerId",
        "LastModifiedDate",
        "Phone",
        "MobilePhone",
    )
    assert plan.new_contact_number == "+1 650-450-8810"


def test_plan_rejects_malformed_ivr_but_keeps_the_rest() -> None:
    """A broken IVR entry is reported and skipped; the good one is still looked up."""
    plan = plan_lookup(ringing("", ("garbage", "Case.CaseNumber=1")), MatchSettings())
    assert len(plan.rejected_ivr) == 1 and "garbage" in plan.rejected_ivr[0]
    assert [rule for rule, _ in plan.steps] == ["ivr"]
    assert plan.new_contact_number == ""


@pytest.mark.parametrize("ani", ["", "anonymous", "2001"])
def test_withheld_number_or_extension_plans_no_phone_search(ani: str) -> None:
    """No caller ID, or a colleague's extension: no SOSL request and no new-Contact pop."""
    plan = plan_lookup(ringing(ani), MatchSettings())
    assert plan.steps == () and plan.new_contact_number == ""


@pytest.mark.parametrize(
    ("stored", "hit"),
    [
        ("(650) 450-8810", True),
        ("650.450.8810", True),
        ("+1 650 450 8810 x12", True),
        ("16504508810", True),
        ("(650) 450-8811", False),
        ("450-8810", False),
    ],
)
def test_phone_matches_compare_digit_wise(stored: str, hit: bool) -> None:
    """SOSL candidates are kept only when the stored number dials the caller's line."""
    lookup = PhoneLookup("+16504508810", ("6504508810",), {"Contact": ("MobilePhone",)})
    refs = phone_matches([record("Contact", "003A", "Maria", MobilePhone=stored)], lookup, "US")
    assert bool(refs) is hit


def test_decide_pop_first_rule_with_records_wins() -> None:
    """Records from the first rule that found any are popped; later rules are not consulted."""
    plan = plan_lookup(ringing("+16504508810"), MatchSettings())
    maria = RecordRef(object="Contact", id="003A", name="Maria Chen")
    case = RecordRef(object="Case", id="500A", name="00001027")
    pop = decide_pop([("ani", []), ("ivr", [case]), ("ivr", [maria])], plan)
    assert pop.kind == "record" and pop.rule == "ivr" and pop.matches == (case,)
    assert pop.caller_name == ""  # a Case names no caller


def test_decide_pop_falls_back_to_new_contact_then_nothing() -> None:
    """No records: a new Contact for a known number, nothing for a withheld one."""
    pop = decide_pop([("ani", [])], plan_lookup(ringing("4155550000"), MatchSettings()))
    assert pop.kind == "new_record" and pop.defaults == {"Phone": "+1 415-555-0000"}
    assert decide_pop([], plan_lookup(ringing(""), MatchSettings())).kind == "none"


def test_several_matches_are_all_kept_and_ranked() -> None:
    """A shared number yields every match: the agent's own records first, then the newest."""
    lookup = PhoneLookup(
        "+16504508800", ("6504508800",), {"Account": ("Phone",), "Contact": ("Phone",)}
    )
    records = [
        record(
            "Account",
            "001A",
            "Northwind",
            Phone="(650) 450-8800",
            OwnerId="005B",
            LastModifiedDate="2026-01-01T00:00:00Z",
        ),
        record(
            "Contact",
            "003B",
            "Ana",
            Phone="650 450 8800",
            OwnerId="005A",
            LastModifiedDate="2026-06-01T00:00:00Z",
        ),
    ]
    assert [r.name for r in phone_matches(records, lookup, "US")] == ["Ana", "Northwind"]
    owned_first = phone_matches(records, lookup, "US", owner_id="005B")
    assert [r.name for r in owned_first] == ["Northwind", "Ana"]
    pop = decide_pop([("ani", owned_first)], plan_lookup(ringing("+16504508800"), MatchSettings()))
    assert pop.caller_name == "Northwind"
