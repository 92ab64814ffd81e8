"""What follows an agent from machine to machine: settings, favorites, call history, quick notes.

The server keeps these per agent (the store), so a hot-desk agent finds their lists on any PC
and every Salesforce tab shows the same ones. Limits are the ones agents know from MiVoice:
50 favorites; history lists of 30 calls, 10 missed, 10 received, 10 dialled.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from softphone.matching import PopRule

MAX_FAVORITES = 50
MAX_QUICK_NOTES = 30
HISTORY_LIMITS: dict[str, int] = {"all": 30, "missed": 10, "received": 10, "dialed": 10}
CallerObject = Literal["Contact", "Account", "Lead"]
ShortText = Annotated[str, Field(max_length=80)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentSettings(_Data):
    """An agent's own choices; an admin's environment settings are the defaults.

    General: tooltips, edit number to dial (a picked number fills the dial field instead of
    dialling at once), auto-save notes (notes are saved as they are typed), the default call
    subject, and troubleshooting logs in the page's console. Call log: which directions are
    logged as Tasks. Pop: when, in which order (rules left out are the do-not-pop bucket),
    which objects caller ID matches, and whether IVR data matches exactly or as a prefix.
    """

    tooltips: bool = True
    edit_number: bool = False
    auto_save_notes: bool = True
    call_subject: ShortText = ""
    debug_logs: bool = False
    log_inbound: bool = True
    log_outbound: bool = True
    log_internal: bool = False
    pop_at: Literal["ringing", "answer"] = "ringing"
    pop_order: tuple[PopRule, ...] = ("ani", "dnis", "ivr", "new_contact")
    match_objects: tuple[CallerObject, ...] = ("Contact", "Account", "Lead")
    ivr_match: Literal["exact", "start_with"] = "exact"

    @field_validator("pop_order", "match_objects")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each entry may appear only once")
        return value


class Favorite(_Data):
    """A number the agent keeps at hand, with the record it belongs to when there is one."""

    number: str = Field(min_length=1, max_length=40)
    name: ShortText = ""
    object: str = Field(default="", max_length=40)
    record_id: str = Field(default="", max_length=18)


class HistoryEntry(_Data):
    """One finished call in the agent's history lists."""

    call_id: str
    direction: str
    outcome: Literal["answered", "missed", "redirected", "unanswered"]
    placed: bool
    number: str
    name: str = ""
    object: str = ""
    record_id: str = ""
    started_at: float
    duration: float = 0.0


def sort_favorites(favorites: list[Favorite]) -> list[Favorite]:
    """Alphabetical by name (case-insensitive), nameless ones by number after them."""
    return sorted(favorites, key=lambda f: (f.name == "", f.name.casefold(), f.number))


def history_lists(entries: list[HistoryEntry]) -> dict[str, list[HistoryEntry]]:
    """The four lists from the newest entries first: all, missed, received, dialled."""
    newest = sorted(entries, key=lambda e: e.started_at, reverse=True)
    picks = {
        "all": newest,
        "missed": [e for e in newest if e.outcome == "missed"],
        "received": [e for e in newest if not e.placed and e.outcome == "answered"],
        "dialed": [e for e in newest if e.placed],
    }
    return {name: picks[name][:limit] for name, limit in HISTORY_LIMITS.items()}
