"""The browser <-> server protocol on the agent websocket (version 2).

Every message is a JSON object with a `type`. On every (re)connect the server opens with
`welcome`: the agent's current calls and status and the sequence number they reflect. Then it
streams `call` and `agent` messages whose `seq` grows by one per agent. A page that sees a gap
in `seq` says `hello` and gets a fresh snapshot, so nothing that happened while it was away or
behind is lost. Commands (answer, hold, transfer, set_state, ...) are checked by the core and
answered with the resulting updates, or with an `error` that says why not.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from softphone import phone
from softphone.calls import Call
from softphone.errors import ProtocolError
from softphone.events import AgentState, CallState, Direction
from softphone.pops import Pop

PROTOCOL_VERSION = 2
CallId = Annotated[str, Field(min_length=1, max_length=64)]
Number = Annotated[str, Field(min_length=1, max_length=40)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- page -> server ------------------------------------------------------------------------
class Hello(_Message):
    type: Literal["hello"]
    v: Literal[2] = 2
    last_seq: int = Field(default=0, ge=0)


class CallCommand(_Message):
    """A command on one of the agent's calls that needs nothing else."""

    type: Literal["answer", "hangup", "hold", "retrieve", "complete_transfer", "conference"]
    call_id: CallId


class NumberCommand(_Message):
    """Redirect a ringing call, consult from a call, or transfer it blind, to `number`."""

    type: Literal["redirect", "consult", "transfer"]
    call_id: CallId
    number: Number


class Dial(_Message):
    type: Literal["dial"]
    number: Number


class Dtmf(_Message):
    type: Literal["dtmf"]
    call_id: CallId
    digits: str = Field(min_length=1, max_length=32)


class SetState(_Message):
    type: Literal["set_state"]
    state: Literal["ready", "busy", "dnd"]
    reason: str = Field(default="", max_length=32)


class AcdGroup(_Message):
    type: Literal["acd_login", "acd_logout"]
    group: str = Field(min_length=1, max_length=32)


class CancelWork(_Message):
    type: Literal["cancel_work"]


class Presence(_Message):
    """Hot-desk and ACD agents log in to (and out of) their phone; desk users never do."""

    type: Literal["login", "logout"]
    extension: str = Field(default="", max_length=16, pattern=r"^[0-9]*$")


class Popped(_Message):
    """The page has opened a call's pop: no other tab and no reload should open it again."""

    type: Literal["popped"]
    call_id: CallId


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    Hello
    | CallCommand
    | NumberCommand
    | Dial
    | Dtmf
    | SetState
    | AcdGroup
    | CancelWork
    | Presence
    | Popped
    | Ping,
    Field(discriminator="type"),
]
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Validate one message from the page; `ProtocolError` says plainly what was wrong."""
    try:
        return _client_adapter.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise ProtocolError("message is not valid JSON") from None
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raise ProtocolError("unknown message type") from None
        where = ".".join(str(p) for p in first["loc"][1:]) or "message"
        raise ProtocolError(f"invalid {where}: {first['msg']}") from None


# --- server -> page ------------------------------------------------------------------------
class AgentView(_Message):
    address: str
    name: str
    extension: str


class PartyView(_Message):
    number: str
    name: str
    status: str


class CallView(_Message):
    call_id: str
    state: CallState
    direction: Direction
    consult_of: str
    parties: tuple[PartyView, ...]
    reason: str
    answered_at: float | None
    placed: bool
    ani: str
    ani_display: str
    dnis: str
    ivr: tuple[str, ...]
    digits: str
    queue: str
    caller_name: str
    matching: bool
    pop: Pop | None
    pop_delivered: bool
    started_at: float
    state_since: float

    @classmethod
    def of(cls, call: Call, region: str) -> CallView:
        return cls(
            call_id=call.call_id,
            state=call.state,
            direction=call.direction,
            consult_of=call.consult_of,
            parties=tuple(
                PartyView(number=p.number, name=p.name, status=p.status.value) for p in call.parties
            ),
            reason=call.reason,
            answered_at=call.answered_at,
            placed=call.placed,
            ani=call.ani,
            ani_display=phone.display(call.ani, region) if call.ani else "",
            dnis=call.dnis,
            ivr=call.ivr,
            digits=call.digits,
            queue=call.queue,
            caller_name=call.pop.caller_name if call.pop else "",
            matching=call.pop is None and call.state == CallState.RINGING and not call.placed,
            pop=call.pop,
            pop_delivered=call.pop_delivered,
            started_at=call.started_at,
            state_since=call.state_since,
        )


class StatusView(_Message):
    """The agent's state and what the page may offer: reason codes, ACD groups."""

    kind: str
    state: AgentState
    reason: str
    groups: tuple[str, ...]
    work_seconds: float
    reason_codes: tuple[str, ...]
    acd_groups: tuple[str, ...]


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    v: int = PROTOCOL_VERSION
    agent: AgentView
    seq: int
    calls: tuple[CallView, ...]
    status: StatusView


class AgentUpdate(_Message):
    type: Literal["agent"] = "agent"
    seq: int
    status: StatusView


class CallUpdate(_Message):
    type: Literal["call"] = "call"
    seq: int
    call: CallView


class ErrorMessage(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str
    call_id: str | None = None


class Pong(_Message):
    type: Literal["pong"] = "pong"
