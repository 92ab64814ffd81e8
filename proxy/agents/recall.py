"""What pages were shown of each call, kept where the next link holder can read it back.

A call's state comes from the PBX, and a new link holder rebuilds it from the PBX's snapshot;
but the snapshot knows nothing of what this proxy added: when the call rang and was answered
(the screen's timers), the caller's record (the pop, and the name shown) and whether a page
opened it. The views remember those facts as each call changes; the switchboard recalls them
for the calls a snapshot brings that it does not know yet, so the call screen goes on as it was
and no tab pops the call again.

On one node there is no next holder: `NoMemory` keeps nothing. In a cluster the memory is the
cluster's Redis (`proxy/cluster/recall.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from proxy.seams import AsyncResource, Resource
from softphone.calls import Call, CallStateMachine
from softphone.events import CallState, Direction
from softphone.pops import Pop

Facts = dict[str, Any]


class CallMemory(AsyncResource, Protocol):
    async def remember(self, call_id: str, facts: Facts) -> None: ...

    async def forget(self, call_id: str) -> None: ...

    async def recall(self, call_ids: Sequence[str]) -> Mapping[str, Facts]:
        """The facts kept for each of `call_ids` that has any."""
        ...

    async def everything(self) -> Mapping[str, Facts]:
        """The facts of every call kept (those pages may still show)."""
        ...


class NoMemory(Resource):
    async def remember(self, call_id: str, facts: Facts) -> None:
        return None

    async def forget(self, call_id: str) -> None:
        return None

    async def recall(self, call_ids: Sequence[str]) -> Mapping[str, Facts]:
        return {}

    async def everything(self) -> Mapping[str, Facts]:
        return {}


def facts_of(call: Call) -> Facts:
    return {
        "agent": call.agent,
        "direction": call.direction.value,
        "ani": call.ani,
        "dnis": call.dnis,
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "pop": call.pop.model_dump(mode="json") if call.pop is not None else None,
        "pop_delivered": call.pop_delivered,
    }


def restore(machine: CallStateMachine, call_id: str, facts: Facts) -> Call | None:
    """The call with the facts recalled for it; None (left as the PBX says) when they cannot
    be read (another version's, or damaged)."""
    try:
        pop = facts.get("pop")
        answered = facts.get("answered_at")
        return machine.restore(
            call_id,
            started_at=float(facts.get("started_at") or 0),
            answered_at=float(answered) if answered is not None else None,
            pop=Pop.model_validate(pop) if pop else None,
            pop_delivered=bool(facts.get("pop_delivered")),
        )
    except (ValueError, TypeError, AttributeError):
        return None


def ended(call_id: str, facts: Facts, now: float) -> Call | None:
    """A call pages may still show that the PBX no longer has (it ended while no node held
    the link): as an ended call, to clear it from their screens; None if unreadable."""
    try:
        return Call(
            call_id=call_id,
            agent=str(facts["agent"]),
            direction=Direction(facts.get("direction", "inbound")),
            state=CallState.CLEARED,
            ani=str(facts.get("ani", "")),
            dnis=str(facts.get("dnis", "")),
            started_at=float(facts.get("started_at") or now),
            state_since=now,
        )
    except (KeyError, ValueError, TypeError):
        return None
