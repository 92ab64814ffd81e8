"""The call log's rules: what becomes a Task, with which fields, and what wrap-up needs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from softphone.agentdata import Favorite, HistoryEntry, history_lists, sort_favorites
from softphone.calllog import (
    CallLog,
    LogPolicy,
    WrapUpRules,
    check_wrap_up,
    follow_up_fields,
    log_from_dict,
    log_to_dict,
    outcome,
    should_log,
    task_fields,
)
from softphone.errors import CommandRefused
from softphone.events import Direction
from softphone.pops import RecordRef

ADA = RecordRef(object="Contact", id="003000000000001AAA", name="Ada Lovelace")
ACME = RecordRef(object="Account", id="001000000000001AAA", name="Acme")
# 2026-11-21 10:00:00 UTC
T0 = 1_795_255_200.0


def make(**changes: object) -> CallLog:
    base = CallLog(
        call_id="c1",
        agent="1001",
        direction=Direction.INBOUND,
        placed=False,
        number="+16504508810",
        started_at=T0,
        answered_at=T0 + 5,
        ended_at=T0 + 125.4,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_answered_inbound_call_becomes_a_completed_call_task() -> None:
    """Subject, type, duration from answer to end, CallObject per agent leg, the matched record."""
    fields = task_fields(make(matches=(ADA,)), LogPolicy(), "US", owner_id="005X")
    assert fields == {
        "Subject": "Inbound call +1 650-450-8810",
        "Status": "Completed",
        "ActivityDate": "2026-11-21",
        "CallType": "Inbound",
        "CallDurationInSeconds": 120,
        "CallObject": "c1@1001",
        "TaskSubtype": "Call",
        "Description": "",
        "WhoId": ADA.id,
        "OwnerId": "005X",
    }


def test_several_matches_and_no_pick_log_without_a_record() -> None:
    """The agent did not say which of two records: the Task names neither."""
    fields = task_fields(make(matches=(ADA, ACME)), LogPolicy(), "US")
    assert "WhoId" not in fields and "WhatId" not in fields
    picked = task_fields(make(matches=(ADA, ACME), picked=ACME), LogPolicy(), "US")
    assert picked["WhatId"] == ACME.id and "WhoId" not in picked


def test_notes_quick_notes_codes_and_subject_make_the_description() -> None:
    """The agent's subject wins; the classification is the disposition, else the action."""
    log = make(
        notes="  Refund agreed  ",
        quick_notes=("Will call back", "Sent details by email"),
        account_code="ACME-1",
        queue="Support",
        action_label="Save & Exit",
    )
    fields = task_fields(log, LogPolicy(subject="Support call"), "US")
    assert fields["Subject"] == "Support call"
    assert fields["CallDisposition"] == "Save & Exit"
    assert fields["Description"] == (
        "Refund agreed\n\n- Will call back\n- Sent details by email\n\n"
        "Account code: ACME-1\n\nQueue: Support"
    )
    coded = task_fields(replace(log, classification="Resolved"), LogPolicy(), "US")
    assert coded["CallDisposition"] == "Resolved"


def test_long_text_is_cut_to_salesforce_field_lengths() -> None:
    """Salesforce refuses a Subject over 255 or a Description over 32,000 characters."""
    fields = task_fields(make(notes="x" * 40000), LogPolicy(subject="s" * 300), "US")
    assert len(fields["Description"]) == 32000
    assert len(fields["Subject"]) == 255


@pytest.mark.parametrize(
    ("changes", "policy", "logged"),
    [
        ({}, LogPolicy(), True),
        ({}, LogPolicy(inbound=False), False),
        ({"answered_at": None}, LogPolicy(), False),
        ({"answered_at": None}, LogPolicy(missed=True), True),
        ({"answered_at": None, "end_reason": "diverted"}, LogPolicy(missed=True), False),
        ({"answered_at": None, "end_reason": "diverted"}, LogPolicy(redirected=True), True),
        ({"direction": Direction.INTERNAL}, LogPolicy(), False),
        ({"direction": Direction.INTERNAL}, LogPolicy(internal=True), True),
        ({"direction": Direction.OUTBOUND, "placed": True, "answered_at": None}, LogPolicy(), True),
        (
            {"direction": Direction.OUTBOUND, "placed": True},
            LogPolicy(inbound=True, outbound=False),
            False,
        ),
        ({}, LogPolicy(inbound=False, outbound=False, internal=False, missed=True), False),
    ],
)
def test_which_calls_are_logged(
    changes: dict[str, object], policy: LogPolicy, logged: bool
) -> None:
    """Direction switches, missed and redirected calls only when configured."""
    assert should_log(make(**changes), policy) is logged


def test_outcomes() -> None:
    """Answered, missed, redirected before answer, and dialled but never answered."""
    assert outcome(make()) == "answered"
    assert outcome(make(answered_at=None)) == "missed"
    assert outcome(make(answered_at=None, end_reason="diverted")) == "redirected"
    assert outcome(make(answered_at=None, placed=True)) == "unanswered"


def test_wrap_up_checks_codes_and_required_classification() -> None:
    """Unknown actions and codes, a missing required code, a call saved twice: refused."""
    rules = WrapUpRules(classification_codes=("Resolved",), classification_required=True)
    log = make(state="wrapping")
    with pytest.raises(CommandRefused, match="classification"):
        check_wrap_up(log, rules, "save_exit", "", "")
    with pytest.raises(CommandRefused, match="Unknown classification"):
        check_wrap_up(log, rules, "save_exit", "Fixed", "")
    with pytest.raises(CommandRefused, match="Unknown wrap-up action"):
        check_wrap_up(log, rules, "shred", "Resolved", "")
    with pytest.raises(CommandRefused, match="already been saved"):
        check_wrap_up(replace(log, state="queued"), rules, "save_exit", "Resolved", "")
    assert check_wrap_up(log, rules, "follow_up", "Resolved", "").follow_up_days == 1


def test_follow_up_is_an_open_task_due_later_about_the_same_record() -> None:
    """The follow-up is due the next day, open, about the same record, with its own key."""
    log = make(picked=ADA)
    task = task_fields(log, LogPolicy(), "US")
    follow = follow_up_fields(log, task, 1)
    assert follow["Status"] == "Not Started"
    assert follow["ActivityDate"] == "2026-11-22"
    assert follow["WhoId"] == ADA.id
    assert follow["CallObject"] == "c1@1001#follow-up"


def test_a_log_survives_the_round_trip_through_json() -> None:
    """What the store saves is what a restarted proxy reads back."""
    log = make(matches=(ADA, ACME), picked=ACME, quick_notes=("a",), state="wrapping")
    assert log_from_dict(log_to_dict(log)) == log


def test_history_lists_and_favorites_order() -> None:
    """Newest first with each list's own limit; favorites A-Z, nameless ones last."""
    entries = [
        HistoryEntry(
            call_id=f"c{n}",
            direction="inbound",
            outcome="missed" if n % 3 == 0 else "answered",
            placed=n % 2 == 0,
            number=str(n),
            started_at=float(n),
        )
        for n in range(60)
    ]
    lists = history_lists(entries)
    assert [e.call_id for e in lists["all"][:3]] == ["c59", "c58", "c57"]
    assert len(lists["all"]) == 30
    assert all(e.outcome == "missed" for e in lists["missed"]) and len(lists["missed"]) == 10
    assert all(e.placed for e in lists["dialed"])
    favorites = [
        Favorite(number="3"),
        Favorite(number="1", name="bob"),
        Favorite(number="2", name="Al"),
    ]
    assert [f.number for f in sort_favorites(favorites)] == ["2", "1", "3"]
