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
from softphone.agentdata import AgentSettings, Favorite, HistoryEntry
from softphone.calllog import CallLog, WrapUpAction
from softphone.calls import Call
from softphone.capabilities import LinkCapabilities
from softphone.errors import ProtocolError
from softphone.events import AgentState, CallState, Direction
from softphone.pops import Pop, RecordRef

PROTOCOL_VERSION = 2
MAX_NOTES = 4000
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


class Active(_Message):
    """The agent is using this page (focused it, clicked or typed): it pops from now on."""

    type: Literal["active"]


class Popped(_Message):
    """The page has opened a call's pop: no other tab and no reload should open it again."""

    type: Literal["popped"]
    call_id: CallId


class Ping(_Message):
    type: Literal["ping"]


class SaveNotes(_Message):
    """The call's notes as the agent has them now; the latest save wins (two tabs agree)."""

    type: Literal["save_notes"]
    call_id: CallId
    notes: str = Field(default="", max_length=MAX_NOTES)
    quick_notes: tuple[Annotated[str, Field(max_length=200)], ...] = Field(
        default=(), max_length=20
    )


class PickRecord(_Message):
    """The record the call's Task is about (one of several matches, or one found by search)."""

    type: Literal["pick"]
    call_id: CallId
    record: RecordRef | None


class WrapUp(_Message):
    """Finish wrap-up with one of the admin's actions: the call is logged now."""

    type: Literal["wrap_up"]
    call_id: CallId
    action: str = Field(min_length=1, max_length=32)
    classification: str = Field(default="", max_length=60)
    account_code: str = Field(default="", max_length=60)


class SetCodes(_Message):
    """Choose the call's classification and account codes before saving (every tab sees it;
    a required classification chosen here lets the agent cancel the work timer)."""

    type: Literal["set_codes"]
    call_id: CallId
    classification: str = Field(default="", max_length=60)
    account_code: str = Field(default="", max_length=60)


class SaveSettings(_Message):
    type: Literal["save_settings"]
    settings: AgentSettings


class FavoriteAdd(_Message):
    type: Literal["favorite_add"]
    favorite: Favorite


class FavoriteRemove(_Message):
    type: Literal["favorite_remove"]
    number: Number


class QuickNoteEdit(_Message):
    """Add one of the agent's own quick notes, or remove one."""

    type: Literal["quick_note_add", "quick_note_remove"]
    text: str = Field(min_length=1, max_length=200)


class Search(_Message):
    """Find Contacts, Leads and Accounts by name or number, to dial or to log the call against."""

    type: Literal["search"]
    query: str = Field(min_length=2, max_length=80)


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
    | Active
    | Ping
    | SaveNotes
    | PickRecord
    | WrapUp
    | SetCodes
    | SaveSettings
    | FavoriteAdd
    | FavoriteRemove
    | QuickNoteEdit
    | Search,
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
    # The page that opens the pop at once (the agent's page used last); others wait.
    pop_owner: str
    started_at: float
    state_since: float

    @classmethod
    def of(cls, call: Call, region: str, pop_owner: str = "") -> CallView:
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
            pop_owner=pop_owner,
            started_at=call.started_at,
            state_since=call.state_since,
        )


class StatusView(_Message):
    """The agent's state and what the page may offer: reason codes, ACD groups, commands."""

    kind: str
    state: AgentState
    reason: str
    groups: tuple[str, ...]
    work_seconds: float
    reason_codes: tuple[str, ...]
    acd_groups: tuple[str, ...]
    # What the PBX link can do: the page offers only these controls.
    capabilities: LinkCapabilities


class AgentData(_Message):
    """What follows the agent between machines: settings, favorites, history, quick notes."""

    settings: AgentSettings
    favorites: tuple[Favorite, ...]
    history: dict[str, tuple[HistoryEntry, ...]]
    # The admin's quick notes; the agent's own ones, which they may remove, are apart.
    quick_notes: tuple[str, ...]
    own_quick_notes: tuple[str, ...]
    # Every number in favorites and history, formatted for people ("+1 650-450-8810").
    displays: dict[str, str] = Field(default_factory=dict)


class WrapUpView(_Message):
    """The admin's wrap-up choices, for the wrap-up screen."""

    actions: tuple[WrapUpAction, ...]
    classification_codes: tuple[str, ...]
    account_codes: tuple[str, ...]
    classification_required: bool


class LogView(_Message):
    """A call's log while the agent can still change it: during the call and in wrap-up."""

    call_id: str
    state: str
    direction: Direction
    number: str
    number_display: str
    started_at: float
    answered_at: float | None
    ended_at: float | None
    matches: tuple[RecordRef, ...]
    picked: RecordRef | None
    notes: str
    quick_notes: tuple[str, ...]
    classification: str
    account_code: str
    wrap_up_until: float | None
    revision: int

    @classmethod
    def of(cls, log: CallLog, region: str) -> LogView:
        return cls(
            call_id=log.call_id,
            state=log.state,
            direction=log.direction,
            number=log.number,
            number_display=phone.display(log.number, region) if log.number else "",
            started_at=log.started_at,
            answered_at=log.answered_at,
            ended_at=log.ended_at,
            matches=log.matches,
            picked=log.picked,
            notes=log.notes,
            quick_notes=log.quick_notes,
            classification=log.classification,
            account_code=log.account_code,
            wrap_up_until=log.wrap_up_until,
            revision=log.revision,
        )


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    v: int = PROTOCOL_VERSION
    agent: AgentView
    # This page's id, to compare with a call's `pop_owner`.
    page: str = ""
    seq: int
    calls: tuple[CallView, ...]
    status: StatusView
    logs: tuple[LogView, ...] = ()
    data: AgentData | None = None
    wrap_up: WrapUpView | None = None
    # The server's clock (epoch seconds), so countdowns do not depend on the PC's clock.
    now: float = 0.0


class DataUpdate(_Message):
    type: Literal["data"] = "data"
    seq: int
    data: AgentData


class LogUpdate(_Message):
    """A log changed; `state` other than open/wrapping means it left the agent's hands."""

    type: Literal["log"] = "log"
    seq: int
    log: LogView
    # After a wrap-up action: what the page does next ("new_task": open a new Task form).
    then: str = ""


class SearchResults(_Message):
    """The answer to one `search`, to the page that asked only."""

    type: Literal["search_results"] = "search_results"
    query: str
    records: tuple[RecordRef, ...]
    # A phone number per record id, for click-to-dial from the results.
    phones: dict[str, str]


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
