"""The VoiceCall writes a call makes: bodies as the Telephony Integration API takes them."""

from __future__ import annotations

import json

from softphone.calls import Call
from softphone.events import CallState, Direction
from softphone.pops import Pop, RecordRef
from softphone.voicecalls import Holds, create_body, end_body, handed_on, missed, voice_call

T0 = 1_764_655_200.0  # 2025-12-02T06:00:00Z


def _call(**changes: object) -> Call:
    values: dict[str, object] = {
        "call_id": "c1",
        "agent": "1001",
        "direction": Direction.INBOUND,
        "state": CallState.RINGING,
        "ani": "+16504508810",
        "dnis": "+18005550100",
        "started_at": T0,
        "device": "1001",
    }
    values.update(changes)
    return Call(**values)  # type: ignore[arg-type]


def test_an_inbound_ring_is_created_from_the_caller_to_the_dialled_number() -> None:
    """vendorCallKey is our call id; the caller is the END_USER participant; times in UTC."""
    body = create_body(_call(), call_center="Center", agent_number="1001")
    assert body["vendorCallKey"] == "c1" and body["callCenterApiName"] == "Center"
    assert (body["from"], body["to"]) == ("+16504508810", "+18005550100")
    assert body["initiationMethod"] == "Inbound"
    assert body["startTime"] == "2025-12-02T06:00:00.000Z"
    assert body["participants"] == [{"participantKey": "+16504508810", "type": "END_USER"}]
    assert "callAttributes" not in body and "parentVoiceCallId" not in body


def test_a_placed_call_goes_from_the_agent_and_a_transfer_names_its_parent() -> None:
    placed = _call(placed=True, direction=Direction.OUTBOUND, ani="", dnis="+14155550131")
    body = create_body(placed, call_center="C", agent_number="1001")
    assert (body["from"], body["to"], body["initiationMethod"]) == (
        "1001",
        "+14155550131",
        "Outbound",
    )
    child = create_body(_call(), call_center="C", agent_number="1002", parent_key="c0")
    assert child["initiationMethod"] == "Transfer" and child["parentVoiceCallId"] == "c0"


def test_ivr_data_and_matched_records_travel_in_call_attributes() -> None:
    """What a flow can use: the IVR's data, the queue, and our matches' ids by object."""
    match = RecordRef(object="Contact", id="003Dm0000000001AAA", name="Maria Chen")
    call = _call(
        ivr=("Case.CaseNumber=00001020",),
        queue="Support",
        pop=Pop(kind="record", matches=(match,)),
    )
    attributes = json.loads(create_body(call, call_center="C", agent_number="1")["callAttributes"])
    assert attributes == {
        "ivr": ["Case.CaseNumber=00001020"],
        "queue": "Support",
        "matches": [{"object": "Contact", "id": "003Dm0000000001AAA"}],
    }


def test_holds_are_counted_and_timed_up_to_the_end() -> None:
    holds = Holds().follow(CallState.HELD, T0 + 10).follow(CallState.ACTIVE, T0 + 25)
    holds = holds.follow(CallState.CONSULTATION, T0 + 30)
    body = end_body(started_at=T0, ended_at=T0 + 40, answered_at=T0 + 5, holds=holds)
    assert (body["numberOfHolds"], body["totalHoldDuration"], body["longestHoldDuration"]) == (
        2,
        25,
        15,
    )
    assert body["acceptTime"] == "2025-12-02T06:00:05.000Z"
    assert body["agentInteractionDuration"] == 35


def test_what_counts_as_missed_handed_on_or_no_voicecall_at_all() -> None:
    assert missed(_call(state=CallState.CLEARED))
    assert not missed(_call(state=CallState.CLEARED, answered_at=T0 + 1))
    assert handed_on(_call(state=CallState.CLEARED, answered_at=T0 + 1, reason="completed"))
    assert not handed_on(_call(state=CallState.CLEARED, answered_at=T0 + 1, reason="normal"))
    assert not voice_call(_call(consult_of="c0"))
    assert not voice_call(_call(direction=Direction.INTERNAL))
