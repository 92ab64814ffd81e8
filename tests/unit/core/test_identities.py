"""The agent <-> device and proxy call id <-> PBX call id mapping (softphone.identities)."""

from __future__ import annotations

import itertools

import pytest

from softphone.calllog import CallLog
from softphone.errors import CommandRefused
from softphone.events import AgentEvent, AgentState, CallEvent, Direction, Snapshot
from softphone.identities import Identities, Move, RosterEntry, new_call_id

ROSTER = [
    RosterEntry("maria@acme.com", "2201", "regular"),
    RosterEntry("ann@acme.com", "2202", "acd"),
    RosterEntry("desk@acme.com", "2301", "hot_desk"),
]


def identities() -> Identities:
    counter = itertools.count(1)
    ids = Identities(new_id=lambda: f"p{next(counter)}")
    ids.set_roster(ROSTER)
    return ids


def ring(device: str, pbx_id: str, kind: str = "delivered", **fields: str) -> CallEvent:
    return CallEvent.model_validate({"kind": kind, "call_id": pbx_id, "agent": device, **fields})


def test_a_device_event_reaches_the_agent_at_that_extension() -> None:
    """A call at 2201 is Maria's, under the proxy's id, with the PBX's id kept beside it."""
    event = identities().inbound(ring("2201", "17"))
    assert isinstance(event, CallEvent)
    assert (event.agent, event.call_id, event.pbx_call_id, event.device) == (
        "maria@acme.com",
        "p1",
        "17",
        "2201",
    )


def test_commands_go_to_the_agents_device_with_the_pbx_id() -> None:
    """Maria's command on her call goes to device 2201 with the PBX's call id."""
    ids = identities()
    ids.inbound(ring("2201", "17"))
    assert ids.outbound("maria@acme.com", "p1") == ("2201", "17")
    assert ids.outbound("maria@acme.com") == ("2201", "")


def test_an_agent_cannot_name_another_agents_call() -> None:
    """Ann naming Maria's call is refused: it is not at her device."""
    ids = identities()
    ids.inbound(ring("2201", "17"))
    with pytest.raises(CommandRefused) as refused:
        ids.outbound("ann@acme.com", "p1")
    assert refused.value.code == "no_such_call"


def test_a_device_nobody_holds_keeps_its_calls_under_its_own_key() -> None:
    """A call at a device off the roster is kept under `dev:<device>`, never an agent's."""
    event = identities().inbound(ring("2999", "5"))
    assert isinstance(event, CallEvent) and event.agent == "dev:2999"


def test_a_reused_pbx_id_after_the_call_ended_is_a_new_call() -> None:
    """The same PBX id after its call cleared gets a new proxy id; while alive it keeps one."""
    ids = identities()
    first = ids.inbound(ring("2201", "1"))
    again = ids.inbound(ring("2201", "1", "established"))
    ids.inbound(ring("2201", "1", "cleared"))
    reused = ids.inbound(ring("2201", "1"))
    assert isinstance(first, CallEvent) and isinstance(again, CallEvent)
    assert isinstance(reused, CallEvent)
    assert first.call_id == again.call_id == "p1"
    assert reused.call_id == "p2"


def test_a_snapshot_keeps_ids_of_calls_alive_and_forgets_the_rest() -> None:
    """After a resync, a listed call keeps its id; one not listed is new if its id comes back."""
    ids = identities()
    ids.inbound(ring("2201", "1"))
    ids.inbound(ring("2202", "2"))
    snapshot = ids.inbound(Snapshot(calls=(ring("2201", "1", "established"),)))
    assert isinstance(snapshot, Snapshot) and snapshot.calls[0].call_id == "p1"
    back = ids.inbound(ring("2202", "2"))
    assert isinstance(back, CallEvent) and back.call_id == "p3"


def test_consult_of_names_the_proxy_id_of_the_held_call() -> None:
    """A consultation's `consult_of` is translated like its own id, at the same device."""
    ids = identities()
    ids.inbound(ring("2201", "1", "established"))
    consult = ids.inbound(ring("2201", "2", "originated", consult_of="1"))
    assert isinstance(consult, CallEvent) and consult.consult_of == "p1"


def test_agent_events_are_keyed_by_agent() -> None:
    """The PBX's state of device 2202 is Ann's."""
    event = identities().inbound(AgentEvent(agent="2202", state=AgentState.READY))
    assert isinstance(event, AgentEvent) and event.agent == "ann@acme.com"


def test_hot_desk_sign_in_takes_the_device_and_its_calls() -> None:
    """A hot-desk agent at 2999 holds it, and the call ringing there moves to them."""
    ids = identities()
    ids.inbound(ring("2999", "8"))
    device, moves = ids.sit("desk@acme.com", "2999")
    assert device == "2999"
    assert moves == [Move("2999", "dev:2999", "desk@acme.com")]
    assert ids.calls_at("2999") == ["p1"]
    assert "2999" in ids.devices()
    device, moves = ids.stand("desk@acme.com")
    assert moves == [Move("2999", "desk@acme.com", "dev:2999")]
    assert "2999" not in ids.devices()


def test_two_agents_never_hold_one_device() -> None:
    """A hot-desk agent cannot take Maria's extension, nor one another hot-desk agent holds."""
    ids = identities()
    ids.set_roster([*ROSTER, RosterEntry("kim@acme.com", "2302", "hot_desk")])
    with pytest.raises(CommandRefused) as refused:
        ids.sit("desk@acme.com", "2201")
    assert refused.value.code == "extension_taken"
    ids.sit("kim@acme.com", "2400")
    with pytest.raises(CommandRefused):
        ids.sit("desk@acme.com", "2400")


def test_only_hot_desk_agents_choose_an_extension() -> None:
    """Maria (a desk phone user) choosing an extension is refused plainly, as is a bad one."""
    ids = identities()
    with pytest.raises(CommandRefused) as refused:
        ids.sit("maria@acme.com", "2999")
    assert refused.value.code == "not_hot_desk"
    with pytest.raises(CommandRefused) as bad:
        ids.sit("desk@acme.com", "12a")
    assert bad.value.code == "bad_extension"


def test_a_hot_desk_agent_without_a_seat_sends_nothing() -> None:
    """Commands of a hot-desk agent signed in nowhere are refused, not sent to some device."""
    with pytest.raises(CommandRefused) as refused:
        identities().outbound("desk@acme.com")
    assert refused.value.code == "no_extension"


def test_roster_changes_move_calls_and_devices() -> None:
    """An agent added at a device with a call gets it; devices follow the roster."""
    ids = identities()
    ids.inbound(ring("2500", "3"))
    moves = ids.set_roster([*ROSTER, RosterEntry("lee@acme.com", "2500", "regular")])
    assert moves == [Move("2500", "dev:2500", "lee@acme.com")]
    assert ids.devices() == frozenset({"2201", "2202", "2301", "2500"})


def test_seeded_ids_survive_a_restart() -> None:
    """A call the proxy logged before it restarted keeps its id when the PBX reports it."""
    ids = identities()
    ids.seed("2201", "9", "c-old")
    event = ids.inbound(ring("2201", "9", "established"))
    assert isinstance(event, CallEvent) and event.call_id == "c-old"


def test_proxy_ids_are_short_unique_sortable_and_never_old_call_objects() -> None:
    """Ids made later sort later, differ, and hold no '@'."""
    early = new_call_id(lambda: 1_700_000_000.0)
    late = new_call_id(lambda: 1_700_000_001.0)
    assert early < late and early != new_call_id(lambda: 1_700_000_000.0)
    assert len(early) == 19 and "@" not in early and early.startswith("c")


def test_a_log_from_before_keeps_its_old_call_object() -> None:
    """A log without a PBX id (begun before the proxy's own ids) keeps `<pbx id>@<agent>`."""
    old = CallLog("sim-000001", "1001", Direction.INBOUND, False, "+1650", 0.0)
    new = CallLog(
        "c01m8tbtstdc73pqgj6",
        "1001",
        Direction.INBOUND,
        False,
        "+1650",
        0.0,
        device="1001",
        pbx_call_id="sim-000001",
    )
    assert (old.call_object, new.call_object) == ("sim-000001@1001", "c01m8tbtstdc73pqgj6")


def test_a_renewed_call_goes_on_under_its_new_id_only() -> None:
    """After `renew`, the PBX's events and the agent's commands find the call by its new id;
    the old id names nothing, and the PBX's id is unchanged."""
    ids = identities()
    ids.inbound(ring("2201", "17"))
    assert ids.renew("p1") == "p2"
    event = ids.inbound(ring("2201", "17", kind="established"))
    assert isinstance(event, CallEvent) and (event.call_id, event.pbx_call_id) == ("p2", "17")
    assert ids.outbound("maria@acme.com", "p2") == ("2201", "17")
    assert ids.pbx_call("p1") is None and ids.calls_at("2201") == ["p2"]
    assert ids.renew("p-unknown") == "p-unknown"
