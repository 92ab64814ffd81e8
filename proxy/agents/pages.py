"""Each agent's open softphone pages, and which of them opens the pops.

The page used last opens owed pops at once; the others only if it has not within a few seconds
(it may have just closed), which the pages decide from the owner each call view names.
"""

from __future__ import annotations


class Pages:
    def __init__(self) -> None:
        # Each agent's open pages, the one used last at the end; an agent with none has none.
        self.open: dict[str, list[str]] = {}
        self._pages = 0  # counted as pages come and go: /metrics reads it, and never walks

    def count(self, agent: str) -> int:
        """Open pages of one agent, without counting everyone's (admin reads it per agent)."""
        return len(self.open.get(agent, ()))

    def totals(self) -> tuple[int, int]:
        """Agents with a page open, and pages open."""
        return len(self.open), self._pages

    def active(self, agent: str, page: str) -> None:
        """A page opened, or the agent used it: it becomes the one that pops."""
        pages = self.open.setdefault(agent, [])
        if page in pages:
            pages.remove(page)
        else:
            self._pages += 1
        pages.append(page)

    def present(self, agent: str, page: str) -> None:
        """A page already open elsewhere joins (told to a new link holder): last in use stays."""
        pages = self.open.setdefault(agent, [])
        if page not in pages:
            pages.insert(0, page)
            self._pages += 1

    def closed(self, agent: str, page: str) -> None:
        pages = self.open.get(agent, [])
        if page in pages:
            pages.remove(page)
            self._pages -= 1
        if not pages:
            self.open.pop(agent, None)

    def pop_owner(self, agent: str) -> str:
        pages = self.open.get(agent)
        return pages[-1] if pages else ""
