"""The admin's roll of agents: one page of them, found by address, extension or status, and
the totals, without a per-agent cost that grows with everyone else (issue 16: /admin once
froze the loop for over a minute at 10,000 agents).

A request walks the agents once, with a dict look-up or two each (a few milliseconds at
10,000); only the page's own agents (100 by default) get their full status and calls read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from proxy.agents.pages import Pages
from proxy.agents.states import AgentStates
from softphone.agents import AgentStatus
from softphone.calls import Call
from softphone.events import AgentState

ONLINE, EVERYONE = "online", "all"
STATUSES = (ONLINE, EVERYONE, *(s.value for s in AgentState))
PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEARCH = 100, 500, 80
_NEVER_REPORTED = (
    AgentStatus()
)  # what `AgentStates.status` answers for an agent the PBX has not named


class RollQueryError(ValueError):
    """A page, size, search or status the roll cannot show, with the reason an admin reads."""


@dataclass(frozen=True)
class RollQuery:
    page: int = 1
    size: int = PAGE_SIZE
    search: str = ""
    status: str = ONLINE

    @classmethod
    def parse(cls, params: dict[str, str]) -> RollQuery:
        """The query from a request's parameters; `RollQueryError` for values out of range."""
        page = _whole(params.get("page", "1"), "page", 1, 1_000_000)
        size = _whole(params.get("size", str(PAGE_SIZE)), "size", 1, MAX_PAGE_SIZE)
        search = params.get("q", "").strip()
        if len(search) > MAX_SEARCH:
            raise RollQueryError(f"q: at most {MAX_SEARCH} characters")
        status = params.get("status", ONLINE) or ONLINE
        if status not in STATUSES:
            raise RollQueryError(f"status {status[:20]!r}: one of {', '.join(STATUSES)}")
        return cls(page, size, search, status)


def _whole(text: str, name: str, low: int, high: int) -> int:
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise RollQueryError(f"{name} {text[:20]!r}: a whole number from {low} to {high:,}")
    return int(text)


@dataclass(frozen=True)
class AgentLine:
    agent: str
    extension: str
    pages: int
    state: str
    reason: str


@dataclass(frozen=True)
class RollTotals:
    agents: int  # signed in since the proxy started
    online: int  # with a softphone page open
    pages: int
    calls: int


@dataclass(frozen=True)
class RollPage:
    query: RollQuery
    totals: RollTotals
    matching: int
    pages: int  # how many pages the matching agents fill (at least 1)
    lines: tuple[AgentLine, ...]
    calls: tuple[tuple[str, Call], ...]  # the calls of the agents on this page

    @property
    def previous(self) -> int | None:
        return self.query.page - 1 if self.query.page > 1 else None

    @property
    def next(self) -> int | None:
        return self.query.page + 1 if self.query.page < self.pages else None


class AgentRoll:
    """Reads the switchboard's state; `device_of` names the device an agent holds now."""

    def __init__(self, states: AgentStates, pages: Pages, device_of: Callable[[str], str]) -> None:
        self.states = states
        self.pages = pages
        self.device_of = device_of

    def page(self, query: RollQuery) -> RollPage:
        """One page of the agents matching `query`, by address; `RollQueryError` when the page
        is past the last."""
        online, sockets = self.pages.totals()
        machines = self.states.machines
        totals = RollTotals(
            agents=len(self.states.profiles),
            online=online,
            pages=sockets,
            calls=sum(len(m.calls) for m in self.states.with_calls()),
        )
        matches = self._matches(query)
        matching = sorted(a for a in self.states.profiles if matches(a))
        last = max(1, math.ceil(len(matching) / query.size))
        if query.page > last:
            raise RollQueryError(f"page {query.page}: the last page is {last}")
        start = (query.page - 1) * query.size
        shown = matching[start : start + query.size]
        lines = tuple(self._line(agent) for agent in shown)
        calls = tuple(
            (agent, call)
            for agent in shown
            if (machine := machines.get(agent)) is not None
            for call in sorted(machine.calls.values(), key=lambda c: c.started_at)
        )
        return RollPage(query, totals, len(matching), last, lines, calls)

    def _matches(self, query: RollQuery) -> Callable[[str], bool]:
        """The query as a test of one agent, its parts worked out once, not per agent."""
        count, statuses, device_of = self.pages.count, self.states.statuses, self.device_of
        online = query.status == ONLINE
        state = None if query.status in (ONLINE, EVERYONE) else AgentState(query.status)
        needle = query.search.casefold()

        def matches(agent: str) -> bool:
            if online and not count(agent):
                return False
            if state is not None and statuses.get(agent, _NEVER_REPORTED).state != state:
                return False
            return not needle or needle in agent.casefold() or needle in device_of(agent)

        return matches

    def _line(self, agent: str) -> AgentLine:
        status = self.states.status(agent)
        return AgentLine(
            agent=agent,
            extension=self.device_of(agent),
            pages=self.pages.count(agent),
            state=status.state.value,
            reason=status.reason,
        )
