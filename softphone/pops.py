"""Pop decisions: which Salesforce page opens when a call rings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Objects whose record name is the name of the person or company on the line.
CALLER_OBJECTS = frozenset({"Contact", "Lead", "Account"})


class RecordRef(BaseModel):
    """A Salesforce record a call matched, with what the softphone shows of it."""

    model_config = ConfigDict(frozen=True)

    object: str
    id: str
    name: str


class Pop(BaseModel):
    """What the page asks Open CTI to open; the server decides, the page only carries it out.

    `record`: open `matches` (Classic the first, consoles each in its own tab).
    `new_record`: open a new `object` form pre-filled with `defaults`.
    `search`: the server did not look up; the page searches `search` in the agent's own
      Salesforce session (Lightning searchAndScreenPop, Classic runApex with our Apex class).
    `none`: ring without opening anything.
    `when`: pop while the call rings, or only once the agent answers.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["record", "new_record", "search", "none"]
    rule: str = ""
    matches: tuple[RecordRef, ...] = ()
    object: str = ""
    defaults: dict[str, str] = Field(default_factory=dict)
    search: str = ""
    when: Literal["ringing", "answer"] = "ringing"

    @property
    def caller_name(self) -> str:
        """Who is calling, when a match says so; a Case or Contract names no person."""
        return next((m.name for m in self.matches if m.object in CALLER_OBJECTS), "")


NO_POP = Pop(kind="none")


def record_pop(rule: str, matches: list[RecordRef]) -> Pop:
    return Pop(kind="record", rule=rule, matches=tuple(matches))


def browser_search_pop(number: str) -> Pop:
    """Leave the search to the agent's browser: no integration user, or the API budget is low."""
    if not number:
        return NO_POP
    return Pop(kind="search", rule="browser", search=number)


def new_contact_pop(number: str) -> Pop:
    """A new Contact form with the caller's number filled in, for a caller nobody knows yet."""
    if not number:
        return NO_POP
    return Pop(kind="new_record", rule="new_contact", object="Contact", defaults={"Phone": number})
