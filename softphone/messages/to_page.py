"""Server -> page: the views and updates the server sends on the agent websocket."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from softphone import phone
from softphone.agentdata import AgentSettings, Favorite, HistoryEntry
from softphone.calllog import CallLog, WrapUpAction
from softphone.calls import Call
from softphone.capabilities import LinkCapabilities
from softphone.events import AgentState, CallState, Direction
from softphone.messages import PROTOCOL_VERSION, WireMessage
from softphone.pops import Pop, RecordRef


class AgentView(WireMessage):
    address: str
    name: str
    extension: str


class PartyView(WireMessage):
    number: str
    name: str
    status: str


class CallView(WireMessage):
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


class StatusView(WireMessage):
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


class AgentData(WireMessage):
    """What follows the agent between machines: settings, favorites, history, quick notes."""

    settings: AgentSettings
    favorites: tuple[Favorite, ...]
    history: dict[str, tuple[HistoryEntry, ...]]
    # The admin's quick notes; the agent's own ones, which they may remove, are apart.
    quick_notes: tuple[str, ...]
    own_quick_notes: tuple[str, ...]
    # Every number in favorites and history, formatted for people ("+1 650-450-8810").
    displays: dict[str, str] = Field(default_factory=dict)


class WrapUpView(WireMessage):
    """The admin's wrap-up choices, for the wrap-up screen."""

    actions: tuple[WrapUpAction, ...]
    classification_codes: tuple[str, ...]
    account_codes: tuple[str, ...]
    classification_required: bool


class LogView(WireMessage):
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


class Welcome(WireMessage):
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


class DataUpdate(WireMessage):
    type: Literal["data"] = "data"
    seq: int
    data: AgentData


class LogUpdate(WireMessage):
    """A log changed; `state` other than open/wrapping means it left the agent's hands."""

    type: Literal["log"] = "log"
    seq: int
    log: LogView
    # After a wrap-up action: what the page does next ("new_task": open a new Task form).
    then: str = ""


class SearchResults(WireMessage):
    """The answer to one `search`, to the page that asked only."""

    type: Literal["search_results"] = "search_results"
    query: str
    records: tuple[RecordRef, ...]
    # A phone number per record id, for click-to-dial from the results.
    phones: dict[str, str]


class AgentUpdate(WireMessage):
    type: Literal["agent"] = "agent"
    seq: int
    status: StatusView


class CallUpdate(WireMessage):
    type: Literal["call"] = "call"
    seq: int
    call: CallView


class ErrorMessage(WireMessage):
    type: Literal["error"] = "error"
    code: str
    message: str
    call_id: str | None = None


class Pong(WireMessage):
    type: Literal["pong"] = "pong"
