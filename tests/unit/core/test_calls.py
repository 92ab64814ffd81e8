"""The per-agent call model: events move calls, every command is checked against them."""

from __future__ import annotations

from typing import Any

import pytest

from softphone.calls import CallOp, CallStateMachine
from softphone.errors import CommandRefused
from softphone.events import CallEvent, CallState, Party
from softphone.pops import NO_POP

S = CallState


def ev(kind: str, call_id: str = "c1", agent: str = "1001", **extra: Any) -> CallEvent:
    return CallEvent.model_validate({"kind": kind, "call_id": call_id, "agent": agent, **extra})


def machine_with(state: CallState) -> CallStateMachine:
    """An agent whose call c1 is in `state`, reached through real events."""
    m = CallStateMachine("1001")
    paths: dict[CallState, list[CallEvent]] = {
        S.RINGING: [ev("delivered")],
        S.DIALING: [ev("originated", direction="outbound")],
        S.ACTIVE: [ev("delivered"), ev("established")],
        S.HELD: [ev("delivered"), ev("established"), ev("held")],
        S.CONSULTATION: [
            ev("delivered"),
            ev("established"),
            ev("held", reason="consultation"),
            ev("originated", "c2", direction="outbound", consult_of="c1"),
        ],
        S.CONFERENCE: [ev("delivered"), ev("established"), ev("conferenced")],
    }
    for event in paths[state]:
        m.apply(event, now=1.0)
    assert m.calls["c1"].state == state
    return m


def test_inbound_ringing_active_cleared() -> None:
    """Delivered rings, established makes it active, cleared ends and forgets it."""
    m = CallStateMachine("1001")
    ring = m.apply(ev("delivered"), now=1.0)
    assert ring is not None and ring.state == S.RINGING and ring.answered_at is None
    active = m.apply(ev("established"), now=3.0)
    assert active is not None and active.state == S.ACTIVE and active.answered_at == 3.0
    cleared = m.apply(ev("cleared"), now=9.0)
    assert cleared is not None and cleared.state == S.CLEARED
    assert m.calls == {}


def test_outbound_dialing_then_far_end_rings_then_answers() -> None:
    """Originated dials; the far end ringing keeps it dialing; established connects."""
    m = CallStateMachine("1001")
    m.apply(
        ev("originated", direction="outbound", parties=[{"number": "9165", "status": "ringing"}]), 1
    )
    assert m.calls["c1"].state == S.DIALING and m.calls["c1"].placed
    assert (
        m.apply(
            ev(
                "delivered", direction="outbound", parties=[{"number": "9165", "status": "ringing"}]
            ),
            2,
        )
        is None
    )
    answered = m.apply(ev("established", parties=[{"number": "9165"}]), 3)
    assert answered is not None and answered.state == S.ACTIVE


@pytest.mark.parametrize(
    ("events", "state"),
    [
        (["held"], S.HELD),
        (["held", "retrieved"], S.ACTIVE),
        (["conferenced"], S.CONFERENCE),
        (["held:consultation"], S.CONSULTATION),
        (["held:consultation", "retrieved"], S.ACTIVE),
    ],
)
def test_hold_retrieve_consultation_conference(events: list[str], state: CallState) -> None:
    """Each event moves an answered call to the state its name says."""
    m = machine_with(S.ACTIVE)
    for name in events:
        kind, _, reason = name.partition(":")
        m.apply(ev(kind, reason=reason), now=5)
    assert m.calls["c1"].state == state


@pytest.mark.parametrize("kind", ["transferred", "diverted", "failed", "cleared"])
def test_leaving_events_clear_the_call_with_their_reason(kind: str) -> None:
    """Transferred, redirected away, failed and cleared all end the call for this agent."""
    m = machine_with(S.RINGING if kind == "diverted" else S.ACTIVE)
    call = m.apply(ev(kind, reason="busy" if kind == "failed" else ""), now=5)
    assert call is not None and call.state == S.CLEARED and "c1" not in m.calls
    assert call.reason == ("busy" if kind == "failed" else "")


def test_hold_recall_rings_again() -> None:
    """A call held too long rings back at the agent."""
    m = machine_with(S.HELD)
    call = m.apply(ev("delivered", reason="hold_recall"), now=61)
    assert call is not None and call.state == S.RINGING


def test_repeated_and_late_events_change_nothing() -> None:
    """Resent events are no-ops; a late delivered never un-answers a call."""
    m = machine_with(S.ACTIVE)
    assert m.apply(ev("established"), now=4.0) is None
    assert m.apply(ev("delivered"), now=5.0) is None
    assert m.calls["c1"].state == S.ACTIVE
    assert m.apply(ev("cleared", "unknown"), now=6.0) is None


def test_conference_parties_are_kept_and_updated() -> None:
    """Party lists travel with the call; two connected parties mean a conference."""
    m = machine_with(S.ACTIVE)
    parties = [{"number": "+1650"}, {"number": "2002", "status": "ringing"}]
    call = m.apply(ev("established", parties=parties), now=5)
    assert call is not None and call.state == S.ACTIVE  # the second party still rings
    parties[1]["status"] = "connected"
    call = m.apply(ev("established", parties=parties), now=6)
    assert call is not None and call.state == S.CONFERENCE
    assert [p.number for p in call.parties] == ["+1650", "2002"]


def test_event_for_another_agent_is_a_programming_error() -> None:
    """Feeding one agent's machine another agent's event fails loudly."""
    with pytest.raises(RuntimeError, match="event for agent 1002 applied to agent 1001"):
        CallStateMachine("1001").apply(ev("delivered", agent="1002"), now=0)


ALLOWED: dict[CallOp, set[CallState]] = {
    "answer": {S.RINGING},
    "hangup": {S.RINGING, S.DIALING, S.ACTIVE, S.HELD, S.CONFERENCE},
    "hold": {S.ACTIVE, S.CONFERENCE},
    "retrieve": {S.HELD, S.CONSULTATION},
    "redirect": {S.RINGING},
    "consult": {S.ACTIVE, S.CONFERENCE},
    "transfer": {S.ACTIVE},
    "complete_transfer": {S.CONSULTATION},
    "conference": {S.CONSULTATION},
    "dtmf": {S.ACTIVE, S.CONFERENCE},
}
STATES = [S.RINGING, S.DIALING, S.ACTIVE, S.HELD, S.CONSULTATION, S.CONFERENCE]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("op", list(ALLOWED))
def test_every_command_in_every_state(op: CallOp, state: CallState) -> None:
    """Each command is allowed exactly in its states, and refused elsewhere with a reason."""
    m = machine_with(state)
    if state in ALLOWED[op]:
        assert m.check(op, "c1", digits="12#").call_id == "c1"
    else:
        with pytest.raises(CommandRefused) as refused:
            m.check(op, "c1", digits="12#")
        assert refused.value.code == "not_allowed" and refused.value.message


@pytest.mark.parametrize("op", ["transfer", "consult", "conference", "complete_transfer"])
def test_hard_hold_blocks_transfer_and_conference(op: CallOp) -> None:
    """A call on hard hold must be retrieved first, and the refusal says so."""
    with pytest.raises(CommandRefused) as refused:
        machine_with(S.HELD).check(op, "c1")
    assert refused.value.message.startswith("Retrieve the call before")


def test_one_consultation_at_a_time() -> None:
    """A second consultation is refused while one is in progress."""
    m = machine_with(S.CONSULTATION)
    m.apply(ev("established", "c2", parties=[{"number": "2002"}]), now=3)
    with pytest.raises(CommandRefused, match="Complete or cancel the consultation first"):
        m.check("consult", "c2")


def test_conference_holds_at_most_five_parties() -> None:
    """Adding a party to a full conference is refused before it reaches the PBX."""
    m = machine_with(S.ACTIVE)
    four = [{"number": str(n)} for n in range(4)]
    m.apply(ev("conferenced", parties=four), now=2)
    m.apply(ev("held", reason="consultation", parties=four), now=3)
    m.apply(
        ev(
            "originated",
            "c2",
            direction="outbound",
            consult_of="c1",
            parties=[{"number": "9", "status": "ringing"}],
        ),
        now=4,
    )
    with pytest.raises(CommandRefused) as refused:
        m.check("conference", "c1")
    assert refused.value.code == "conference_full"


def test_transfer_completion_needs_the_consultation_call() -> None:
    """Completing a transfer without a consultation call says there is none."""
    m = machine_with(S.CONSULTATION)
    m.apply(ev("cleared", "c2"), now=3)
    with pytest.raises(CommandRefused) as refused:
        m.check("complete_transfer", "c1")
    assert refused.value.code == "no_consultation"


@pytest.mark.parametrize("digits", ["", "12a", "1" * 33, "12 3"])
def test_dtmf_digits_are_checked(digits: str) -> None:
    """Tones are 0-9, * and #, at most 32 at once."""
    with pytest.raises(CommandRefused) as refused:
        machine_with(S.ACTIVE).check("dtmf", "c1", digits=digits)
    assert refused.value.code == "bad_digits"


def test_dial_only_when_nothing_occupies_the_agent() -> None:
    """Dialing over an active call is refused; over a held one it is fine."""
    with pytest.raises(CommandRefused, match="Hold or end the current call before dialing"):
        machine_with(S.ACTIVE).check_dial()
    machine_with(S.HELD).check_dial()
    CallStateMachine("1001").check_dial()


def test_other_agents_calls_and_unknown_commands_are_refused() -> None:
    """A call id that is not this agent's is refused the same way as one that never existed."""
    m = machine_with(S.ACTIVE)
    with pytest.raises(CommandRefused) as refused:
        m.check("hangup", "someone-elses")
    assert refused.value.code == "no_such_call"
    with pytest.raises(CommandRefused) as refused:
        m.check("teleport", "c1")  # type: ignore[arg-type]
    assert refused.value.code == "unknown_command"


def test_pop_is_recorded_and_delivered_once() -> None:
    """The pop is kept on the call; the first 'popped' marks it, later ones change nothing."""
    m = machine_with(S.RINGING)
    assert m.mark_popped("c1") is None  # nothing to deliver yet
    with_pop = m.set_pop("c1", NO_POP)
    assert with_pop is not None and with_pop.pop == NO_POP
    first = m.mark_popped("c1")
    assert first is not None and first.pop_delivered
    assert m.mark_popped("c1") is None
    m.apply(ev("cleared"), now=1)
    assert m.set_pop("c1", NO_POP) is None


def test_resync_clears_calls_the_pbx_no_longer_has() -> None:
    """After a reconnect, calls missing from the PBX's snapshot are cleared, the rest kept."""
    m = machine_with(S.ACTIVE)
    m.apply(ev("delivered", "c9"), now=2)
    gone = m.forget_missing({"c9"}, now=3)
    assert [(c.call_id, c.state, c.reason) for c in gone] == [("c1", S.CLEARED, "gone")]
    assert list(m.calls) == ["c9"]


def test_party_model_defaults_to_connected() -> None:
    assert Party(number="1").status == "connected"


def test_snapshot_account_wins_over_a_held_call() -> None:
    """A hold recall that happened while the link was down shows up from the snapshot."""
    m = machine_with(S.HELD)
    assert m.apply(ev("delivered"), now=9) is None  # a live, reason-less repeat changes nothing
    call = m.apply(ev("delivered"), now=9, absolute=True)
    assert call is not None and call.state == S.RINGING
