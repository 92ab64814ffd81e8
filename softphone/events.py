"""What a CTI link reports, in the proxy's own words, whatever the PBX: call and agent events."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_CONFERENCE_PARTIES = 5


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class CallState(StrEnum):
    """A call as one agent sees it.

    `consultation`: this call is on consultation hold while the agent speaks to a third party on
    another call (whose `consult_of` names this one); `held`: on hard hold.
    """

    DIALING = "dialing"
    RINGING = "ringing"
    ACTIVE = "active"
    HELD = "held"
    CONSULTATION = "consultation"
    CONFERENCE = "conference"
    CLEARED = "cleared"


EventKind = Literal[
    "originated",  # the agent's device dials out (dialing)
    "delivered",  # rings at the agent, or (for a call the agent made) at the far end
    "established",  # answered
    "held",  # put on hold; reason "consultation" when for a consultation call
    "retrieved",  # back from hold
    "conferenced",  # parties joined into one call
    "transferred",  # the agent handed the call on and left it
    "diverted",  # redirected away from the agent before answer
    "failed",  # could not connect (busy, no answer, invalid number)
    "cleared",  # ended
]


class PartyStatus(StrEnum):
    RINGING = "ringing"
    CONNECTED = "connected"
    HELD = "held"


class Party(BaseModel):
    """Someone on the call besides the agent, with how they are connected."""

    model_config = ConfigDict(frozen=True)

    number: str = Field(max_length=32)
    name: str = Field(default="", max_length=80)
    status: PartyStatus = PartyStatus.CONNECTED


class CallEvent(BaseModel):
    """One change to one call at one agent's device, as reported by the PBX."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    call_id: str = Field(min_length=1, max_length=64)
    # The device from a link; the agent's address (or `dev:<device>`) past the switchboard.
    agent: str = Field(min_length=1, max_length=96)
    device: str = ""
    # Set by the switchboard, whose `call_id` is then the proxy's own: the PBX's id for it.
    pbx_call_id: str = Field(default="", max_length=64)
    direction: Direction = Direction.INBOUND
    ani: str = Field(default="", max_length=32)
    dnis: str = Field(default="", max_length=32)
    ivr: tuple[str, ...] = Field(default=(), max_length=16)
    digits: str = Field(default="", max_length=32)
    # Data the PBX attached to the call that is not IVR data (a switch's tag, a NENA call id):
    # kept in the call log, never shown as what the caller entered.
    call_data: str = Field(default="", max_length=255)
    queue: str = Field(default="", max_length=64)
    # The PBX-wide id of the call, the same at every device it reaches.
    global_call_id: str = Field(default="", max_length=64)
    # For a consultation call: the call on consultation hold that it was made from.
    consult_of: str = Field(default="", max_length=64)
    parties: tuple[Party, ...] = Field(default=(), max_length=MAX_CONFERENCE_PARTIES)
    # Why: "consultation" for a consultation hold, "busy"/"no_answer"/"invalid_number" for a
    # failure, "hold_recall"/"transfer_recall" for a call ringing back to the agent.
    reason: str = Field(default="", max_length=64)


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    BUSY = "busy"  # make busy, with a reason code
    DND = "dnd"  # do not disturb: wins over make busy
    WORK = "work"  # wrap-up after an ACD call, until the work timer ends or is cancelled


class AgentEvent(BaseModel):
    """An agent's state as the PBX now has it."""

    model_config = ConfigDict(frozen=True)

    agent: str = Field(min_length=1, max_length=96)
    state: AgentState
    reason: str = Field(default="", max_length=32)
    groups: tuple[str, ...] = Field(default=(), max_length=32)
    # Seconds of work time left, when `state` is work.
    work_seconds: float = Field(default=0.0, ge=0)


class Snapshot(BaseModel):
    """Everything a PBX reports at once after a (re)connect: the proxy rebuilds from it."""

    model_config = ConfigDict(frozen=True)

    calls: tuple[CallEvent, ...] = ()
    agents: tuple[AgentEvent, ...] = ()


LinkEvent = CallEvent | AgentEvent | Snapshot
