"""Page -> server: the messages the softphone page sends on the agent websocket."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError

from softphone.agentdata import AgentSettings, Favorite
from softphone.errors import ProtocolError
from softphone.messages import WireMessage
from softphone.pops import RecordRef

MAX_NOTES = 4000
CallId = Annotated[str, Field(min_length=1, max_length=64)]
Number = Annotated[str, Field(min_length=1, max_length=40)]


class Hello(WireMessage):
    type: Literal["hello"]
    v: Literal[2] = 2
    last_seq: int = Field(default=0, ge=0)


class CallCommand(WireMessage):
    """A command on one of the agent's calls that needs nothing else."""

    type: Literal["answer", "hangup", "hold", "retrieve", "complete_transfer", "conference"]
    call_id: CallId


class NumberCommand(WireMessage):
    """Redirect a ringing call, consult from a call, or transfer it blind, to `number`."""

    type: Literal["redirect", "consult", "transfer"]
    call_id: CallId
    number: Number


class Dial(WireMessage):
    type: Literal["dial"]
    number: Number


class Dtmf(WireMessage):
    type: Literal["dtmf"]
    call_id: CallId
    digits: str = Field(min_length=1, max_length=32)


class SetState(WireMessage):
    type: Literal["set_state"]
    state: Literal["ready", "busy", "dnd"]
    reason: str = Field(default="", max_length=32)


class AcdGroup(WireMessage):
    type: Literal["acd_login", "acd_logout"]
    group: str = Field(min_length=1, max_length=32)


class CancelWork(WireMessage):
    type: Literal["cancel_work"]


class Presence(WireMessage):
    """Hot-desk and ACD agents log in to (and out of) their phone; desk users never do."""

    type: Literal["login", "logout"]
    extension: str = Field(default="", max_length=16, pattern=r"^[0-9]*$")


class Active(WireMessage):
    """The agent is using this page (focused it, clicked or typed): it pops from now on."""

    type: Literal["active"]


class Popped(WireMessage):
    """The page has opened a call's pop: no other tab and no reload should open it again."""

    type: Literal["popped"]
    call_id: CallId


class Ping(WireMessage):
    type: Literal["ping"]


class SaveNotes(WireMessage):
    """The call's notes as the agent has them now; the latest save wins (two tabs agree)."""

    type: Literal["save_notes"]
    call_id: CallId
    notes: str = Field(default="", max_length=MAX_NOTES)
    quick_notes: tuple[Annotated[str, Field(max_length=200)], ...] = Field(
        default=(), max_length=20
    )


class PickRecord(WireMessage):
    """The record the call's Task is about (one of several matches, or one found by search)."""

    type: Literal["pick"]
    call_id: CallId
    record: RecordRef | None


class WrapUp(WireMessage):
    """Finish wrap-up with one of the admin's actions: the call is logged now."""

    type: Literal["wrap_up"]
    call_id: CallId
    action: str = Field(min_length=1, max_length=32)
    classification: str = Field(default="", max_length=60)
    account_code: str = Field(default="", max_length=60)


class SetCodes(WireMessage):
    """Choose the call's classification and account codes before saving (every tab sees it;
    a required classification chosen here lets the agent cancel the work timer)."""

    type: Literal["set_codes"]
    call_id: CallId
    classification: str = Field(default="", max_length=60)
    account_code: str = Field(default="", max_length=60)


class SaveSettings(WireMessage):
    type: Literal["save_settings"]
    settings: AgentSettings


class FavoriteAdd(WireMessage):
    type: Literal["favorite_add"]
    favorite: Favorite


class FavoriteRemove(WireMessage):
    type: Literal["favorite_remove"]
    number: Number


class QuickNoteEdit(WireMessage):
    """Add one of the agent's own quick notes, or remove one."""

    type: Literal["quick_note_add", "quick_note_remove"]
    text: str = Field(min_length=1, max_length=200)


class Search(WireMessage):
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
