"""The call log: what a finished call becomes in Salesforce, and the wrap-up that precedes it.

A `CallLog` is one agent's account of one call, kept from the first event to the Task. When
the call ends it enters wrap-up (notes, the picked record, a wrap-up action, codes); when
wrap-up ends, `task_fields` turns it into the Task, or into nothing when the agent's and the
admin's switches say this kind of call is not logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from softphone import phone
from softphone.errors import CommandRefused
from softphone.events import Direction
from softphone.pops import RecordRef

Outcome = Literal["answered", "missed", "redirected", "unanswered"]
LogState = Literal["open", "wrapping", "queued", "written", "skipped", "dead"]
# Objects a Task names in WhoId; any other record goes in WhatId.
WHO_OBJECTS = frozenset({"Contact", "Lead"})
SUBJECT_MAX = 255
DESCRIPTION_MAX = 32000
DISPOSITION_MAX = 255


class WrapUpAction(BaseModel):
    """A button of the wrap-up screen, as the admin defines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    label: str = Field(min_length=1, max_length=60)
    # Also create a follow-up Task due this many days after the call.
    follow_up_days: int | None = Field(default=None, ge=0, le=365)
    # The page opens a new Task form once the call is saved.
    new_task: bool = False


DEFAULT_WRAP_UP_ACTIONS = (
    WrapUpAction(id="save_exit", label="Save & Exit"),
    WrapUpAction(id="save_new_task", label="Save & New Task", new_task=True),
    WrapUpAction(id="follow_up", label="Save & Follow-up tomorrow", follow_up_days=1),
)


@dataclass(frozen=True)
class LogPolicy:
    """Which calls become Tasks: the agent's direction switches and the admin's extras."""

    inbound: bool = True
    outbound: bool = True
    internal: bool = False
    missed: bool = False
    redirected: bool = False
    subject: str = ""


@dataclass(frozen=True)
class WrapUpRules:
    """The admin's wrap-up choices: actions, codes, and whether a classification is required."""

    actions: tuple[WrapUpAction, ...] = DEFAULT_WRAP_UP_ACTIONS
    classification_codes: tuple[str, ...] = ()
    account_codes: tuple[str, ...] = ()
    classification_required: bool = False


@dataclass(frozen=True)
class CallLog:
    """One agent's call from first event to Task. Immutable: every change makes a new value."""

    call_id: str
    agent: str
    direction: Direction
    placed: bool
    number: str
    started_at: float
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str = ""
    queue: str = ""
    call_data: str = ""  # what the PBX attached that is not IVR data, kept for the record
    matches: tuple[RecordRef, ...] = ()
    picked: RecordRef | None = None
    notes: str = ""
    quick_notes: tuple[str, ...] = ()
    action: str = ""
    action_label: str = ""
    classification: str = ""
    account_code: str = ""
    state: LogState = "open"
    wrap_up_until: float | None = None
    # Bumped by every change an agent saves, so two tabs' saves resolve to the latest.
    revision: int = 0
    # Where the PBX had the call, to match its events again after a proxy restart. Empty in a
    # log written before the proxy gave calls their own ids: `call_id` is then the PBX's.
    device: str = ""
    pbx_call_id: str = ""

    @property
    def call_object(self) -> str:
        """The Task's CallObject: the proxy's own call id, unique per agent leg.

        A log from before the proxy had its own ids keeps the CallObject it was made with,
        `<pbx call id>@<agent>`, so a Task already written for it is found, not duplicated.
        """
        return self.call_id if self.pbx_call_id else f"{self.call_id}@{self.agent}"

    @property
    def record(self) -> RecordRef | None:
        """The record the Task is about: the agent's pick, else the only match, else none."""
        if self.picked is not None:
            return self.picked
        return self.matches[0] if len(self.matches) == 1 else None


def outcome(log: CallLog) -> Outcome:
    if log.answered_at is not None:
        return "answered"
    if log.placed:
        return "unanswered"
    return "redirected" if log.end_reason in ("diverted", "redirected") else "missed"


def should_log(log: CallLog, policy: LogPolicy) -> bool:
    """Whether this call becomes a Task at all."""
    wanted = {
        Direction.INBOUND: policy.inbound,
        Direction.OUTBOUND: policy.outbound,
        Direction.INTERNAL: policy.internal,
    }[log.direction]
    result = outcome(log)
    if result == "missed":
        return wanted and policy.missed
    if result == "redirected":
        return wanted and policy.redirected
    return wanted


def with_notes(log: CallLog, notes: str, quick_notes: tuple[str, ...]) -> CallLog:
    return replace(log, notes=notes, quick_notes=quick_notes, revision=log.revision + 1)


def pick(log: CallLog, record: RecordRef | None) -> CallLog:
    return replace(log, picked=record, revision=log.revision + 1)


def check_codes(rules: WrapUpRules, classification: str, account_code: str) -> None:
    if classification and classification not in rules.classification_codes:
        raise CommandRefused("unknown_code", f"Unknown classification code {classification!r}")
    if account_code and account_code not in rules.account_codes:
        raise CommandRefused("unknown_code", f"Unknown account code {account_code!r}")


def with_codes(log: CallLog, classification: str, account_code: str) -> CallLog:
    return replace(
        log, classification=classification, account_code=account_code, revision=log.revision + 1
    )


def check_wrap_up(
    log: CallLog, rules: WrapUpRules, action: str, classification: str, account_code: str
) -> WrapUpAction:
    """The action to finish wrap-up with, else `CommandRefused` saying what is missing."""
    if log.state not in ("open", "wrapping"):
        raise CommandRefused("already_logged", "This call has already been saved")
    chosen = next((a for a in rules.actions if a.id == action), None)
    if chosen is None:
        raise CommandRefused("unknown_action", f"Unknown wrap-up action {action!r}")
    check_codes(rules, classification, account_code)
    if rules.classification_required and not classification:
        raise CommandRefused("classification_required", "Choose a classification code first")
    return chosen


def task_fields(log: CallLog, policy: LogPolicy, region: str, owner_id: str = "") -> dict[str, Any]:
    """The Task for a finished call, with the fields an admin's reports expect."""
    ended = log.ended_at if log.ended_at is not None else log.started_at
    duration = 0 if log.answered_at is None else max(0, round(ended - log.answered_at))
    direction = log.direction.value.capitalize()
    number = phone.display(log.number, region) if log.number else "unknown number"
    subject = policy.subject or f"{direction} call {number}"
    fields: dict[str, Any] = {
        "Subject": subject[:SUBJECT_MAX],
        "Status": "Completed",
        "ActivityDate": _date(ended),
        "CallType": direction,
        "CallDurationInSeconds": duration,
        "CallObject": log.call_object,
        "TaskSubtype": "Call",
        "Description": description(log)[:DESCRIPTION_MAX],
    }
    disposition = log.classification or log.action_label
    if disposition:
        fields["CallDisposition"] = disposition[:DISPOSITION_MAX]
    record = log.record
    if record is not None:
        fields["WhoId" if record.object in WHO_OBJECTS else "WhatId"] = record.id
    if owner_id:
        fields["OwnerId"] = owner_id
    return fields


def follow_up_fields(
    log: CallLog, task: dict[str, Any], days: int, owner_id: str = ""
) -> dict[str, Any]:
    """The follow-up Task a wrap-up action asks for, due `days` after the call."""
    ended = log.ended_at if log.ended_at is not None else log.started_at
    fields: dict[str, Any] = {
        "Subject": f"Follow up: {task['Subject']}"[:SUBJECT_MAX],
        "Status": "Not Started",
        "ActivityDate": _date(ended + days * 86400),
        "CallObject": f"{log.call_object}#follow-up",
        "TaskSubtype": "Task",
        "Description": task.get("Description", ""),
    }
    for key in ("WhoId", "WhatId"):
        if key in task:
            fields[key] = task[key]
    if owner_id:
        fields["OwnerId"] = owner_id
    return fields


def description(log: CallLog) -> str:
    parts = [log.notes.strip()] if log.notes.strip() else []
    if log.quick_notes:
        parts.append("\n".join(f"- {q}" for q in log.quick_notes))
    if log.account_code:
        parts.append(f"Account code: {log.account_code}")
    if log.queue:
        parts.append(f"Queue: {log.queue}")
    if log.call_data:
        parts.append(f"Call data: {log.call_data}")
    return "\n\n".join(parts)


def _date(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).date().isoformat()


def log_to_dict(log: CallLog) -> dict[str, Any]:
    """A `CallLog` as plain JSON data, for the store."""
    data: dict[str, Any] = {
        k: getattr(log, k) for k in CallLog.__dataclass_fields__ if k not in ("matches", "picked")
    }
    data["direction"] = log.direction.value
    data["quick_notes"] = list(log.quick_notes)
    data["matches"] = [m.model_dump() for m in log.matches]
    data["picked"] = log.picked.model_dump() if log.picked else None
    return data


def log_from_dict(data: dict[str, Any]) -> CallLog:
    values = dict(data)
    values["direction"] = Direction(values["direction"])
    values["quick_notes"] = tuple(values.get("quick_notes", ()))
    values["matches"] = tuple(RecordRef(**m) for m in values.get("matches", ()))
    picked = values.get("picked")
    values["picked"] = RecordRef(**picked) if picked else None
    known = CallLog.__dataclass_fields__
    return CallLog(**{k: v for k, v in values.items() if k in known})
