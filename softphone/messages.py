"""The browser <-> server protocol on the agent websocket (version 1).

Every message is a JSON object with a `type`. The page sends `hello` first; the server answers
`welcome` with the agent's current calls and the sequence number they reflect, then streams
`call` messages whose `seq` grows by one per agent. A page that reconnects says `hello` again
and gets a fresh snapshot, so nothing that happened while it was away is lost.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from softphone import phone
from softphone.calls import Call
from softphone.errors import ProtocolError
from softphone.events import CallState, Direction
from softphone.pops import Pop

PROTOCOL_VERSION = 1
CallId = Annotated[str, Field(min_length=1, max_length=64)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- page -> server ------------------------------------------------------------------------
class Hello(_Message):
    type: Literal["hello"]
    v: Literal[1] = 1
    last_seq: int = Field(default=0, ge=0)


class Answer(_Message):
    type: Literal["answer"]
    call_id: CallId


class Hangup(_Message):
    type: Literal["hangup"]
    call_id: CallId


class Popped(_Message):
    """The page has opened a call's pop: no other tab and no reload should open it again."""

    type: Literal["popped"]
    call_id: CallId


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[Hello | Answer | Hangup | Popped | Ping, Field(discriminator="type")]
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


class CallView(_Message):
    call_id: str
    state: CallState
    direction: Direction
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
            ani=call.ani,
            ani_display=phone.display(call.ani, region) if call.ani else "",
            dnis=call.dnis,
            ivr=call.ivr,
            digits=call.digits,
            queue=call.queue,
            caller_name=call.pop.caller_name if call.pop else "",
            matching=call.pop is None and call.state != CallState.CLEARED,
            pop=call.pop,
            pop_delivered=call.pop_delivered,
            started_at=call.started_at,
            state_since=call.state_since,
        )


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    v: int = PROTOCOL_VERSION
    agent: AgentView
    seq: int
    calls: tuple[CallView, ...]


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
