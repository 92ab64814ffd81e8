"""The store seam: agents, sessions, each agent's own data, and the call log with its outbox.

Every write that matters for "logged exactly once" is one transaction: a call log that ends
wrap-up becomes its outbox rows in the same commit (`queue_call_log`), so a crash leaves
either the log still wrapping (finished again after restart) or the rows to write, never both
or neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from proxy.seams import AsyncResource
from softphone.agentdata import Favorite, HistoryEntry
from softphone.calllog import CallLog

AgentKind = Literal["regular", "hot_desk", "acd"]
OutboxState = Literal["pending", "written", "dead"]


@dataclass(frozen=True)
class AgentRecord:
    """An agent of the roster: signs in with `address`, rings at `extension`."""

    address: str
    name: str
    extension: str
    kind: AgentKind
    password_hash: str
    # The agent's Salesforce user: records this user owns pop first when a number is shared,
    # and the Tasks of the agent's calls are theirs.
    salesforce_user_id: str = ""


@dataclass(frozen=True)
class LogWrite:
    """One call log to save: with the history entry of a call that ended, and with its Task
    rows once it is queued (`tasks` None: not queued yet; empty: queued, nothing to write)."""

    log: CallLog
    history: HistoryEntry | None = None
    tasks: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class OutboxRow:
    """One Task write: pending until Salesforce has it (written), or given up on (dead)."""

    call_object: str
    agent: str
    fields: dict[str, Any]
    state: OutboxState
    attempts: int
    next_attempt_at: float
    last_error: str
    task_id: str
    created_at: float
    updated_at: float
    # "task", or a Salesforce Voice write: "voice_create", "voice_end", "voice_clear".
    kind: str = "task"


@dataclass(frozen=True)
class OutboxWrite:
    """A write to queue: its key (unique across the outbox), kind and request fields."""

    call_object: str
    kind: str
    fields: dict[str, Any]
    # When it may first be written (None: at once).
    due: float | None = None


@dataclass(frozen=True)
class PurgeCounts:
    history: int
    call_logs: int
    outbox: int
    sessions: int


class Store(AsyncResource, Protocol):
    # --- roster and sessions ---------------------------------------------------------------
    async def put_agent(self, agent: AgentRecord) -> None:
        """Add the agent, or replace the one with the same address."""
        ...

    async def put_agents(self, agents: list[AgentRecord]) -> None:
        """Add or replace many agents in one transaction: all of them are saved, or none.

        Raises ValueError, saving none, when two of them share an address.
        """
        ...

    async def get_agent(self, address: str) -> AgentRecord | None: ...

    async def list_agents(self) -> list[AgentRecord]: ...

    async def roster_fingerprint(self) -> str:
        """Every agent's address, extension, kind and Salesforce user (what routing depends
        on) as one string, built by the database: it differs whenever any of them changed, and
        comes back as one row, cheap enough to poll at 10,000 agents."""
        ...

    async def delete_agent(self, address: str) -> bool:
        """Remove the agent, end their sessions and free their seat; False if there was no
        such agent."""
        ...

    async def create_session(self, token_hash: str, address: str, expires_at: float) -> None: ...

    async def session_agent(self, token_hash: str, now: float) -> AgentRecord | None:
        """The agent an unexpired session belongs to, else None (one query: every page's
        socket asks it as it opens)."""
        ...

    async def delete_session(self, token_hash: str) -> None: ...

    async def signed_in_agents(self, now: float) -> set[str]:
        """Addresses holding an unexpired session: the seats in use."""
        ...

    async def take_seat(self, address: str, device: str, now: float) -> bool:
        """The hot-desk agent sits at `device` (leaving any other seat); False, and nothing
        changed, when another agent holds it. Atomic across proxies sharing the database."""
        ...

    async def leave_seat(self, address: str) -> None: ...

    async def list_seats(self) -> dict[str, str]:
        """Every seat taken: hot-desk address -> device."""
        ...

    async def locked_until(self, address: str) -> float:
        """When the address's lockout ends (0 when it is not locked)."""
        ...

    async def sign_in_failed(
        self, address: str, now: float, *, limit: int, window: float, lock_seconds: float
    ) -> float:
        """Count a failure (failures older than `window` forgotten); lock at `limit`.

        Returns the lockout's end, or 0.
        """
        ...

    async def sign_in_succeeded(self, address: str) -> None:
        """Forget the address's wrong passwords, writing nothing when there are none."""
        ...

    async def rehashed(self, address: str, old_hash: str, new_hash: str) -> None:
        """Store the agent's password under new hash parameters, unless it changed since."""
        ...

    # --- each agent's own data -------------------------------------------------------------
    async def get_settings(self, address: str) -> dict[str, Any] | None:
        """The agent's saved settings (JSON object), or None if never saved."""
        ...

    async def put_settings(self, address: str, settings: dict[str, Any]) -> None: ...

    async def list_favorites(self, address: str) -> list[Favorite]: ...

    async def put_favorite(self, address: str, favorite: Favorite, limit: int) -> bool:
        """Add or update a favorite; False (nothing written) when `limit` are there already."""
        ...

    async def delete_favorite(self, address: str, number: str) -> None: ...

    async def list_history(self, address: str, limits: dict[str, int]) -> list[HistoryEntry]:
        """The newest entries of each history list (all, missed, received, dialled)."""
        ...

    async def list_quick_notes(self, address: str) -> list[str]: ...

    async def add_quick_note(self, address: str, text: str) -> None: ...

    async def delete_quick_note(self, address: str, text: str) -> None: ...

    # --- call logs and the outbox ----------------------------------------------------------
    async def put_call_log(self, log: CallLog, now: float) -> None:
        """Save the log as it now is (insert or replace)."""
        ...

    async def end_call(self, log: CallLog, entry: HistoryEntry, now: float) -> None:
        """The call has ended: save its log and its history entry in one commit."""
        ...

    async def save_call_logs(self, writes: Sequence[LogWrite], now: float) -> None:
        """Save several logs, in order, in one commit (a group commit: many agents' writes for
        one transaction): each with its history entry if its call ended, and its Task rows if
        it is queued (a row queued before stays as it is)."""
        ...

    async def unfinished_call_logs(self) -> list[CallLog]:
        """Logs still open or wrapping up: what a restarted proxy must finish."""
        ...

    async def queue_call_log(self, log: CallLog, tasks: list[dict[str, Any]], now: float) -> None:
        """Finish the log and queue its Tasks in one commit; a Task queued before stays as is."""
        ...

    async def due_outbox(
        self, now: float, limit: int, kinds: tuple[str, ...] = ("task",)
    ) -> list[OutboxRow]:
        """Pending rows of these kinds whose next attempt is due, oldest first."""
        ...

    async def enqueue(self, agent: str, writes: list[OutboxWrite], now: float) -> int:
        """Queue writes in one commit; a key queued before stays as is. How many were new."""
        ...

    async def outbox_row(self, call_object: str) -> OutboxRow | None: ...

    async def release(self, call_object: str, fields: dict[str, Any], now: float) -> bool:
        """A row not yet attempted gets these fields and is due now; False if it was tried
        already (or is not there), and then nothing changed."""
        ...

    async def outbox_of_kind(self, kind: str, since: float) -> list[OutboxRow]:
        """Rows of one kind created at or after `since`, whatever their state."""
        ...

    async def outbox_rows(self, state: OutboxState | None = None) -> list[OutboxRow]: ...

    async def outbox_counts(self) -> dict[str, int]:
        """Rows by state: pending, written, dead (states with none are 0)."""
        ...

    async def outbox_written(self, call_object: str, task_id: str, now: float) -> None: ...

    async def claim_due_outbox(
        self, now: float, limit: int, hold: float, kinds: tuple[str, ...] = ("task",)
    ) -> list[OutboxRow]:
        """Take the due rows of these kinds for this writer: each one's attempt counted before
        it is made (a
        crash mid-write is known after restart: the next attempt looks before it creates), and
        held from every other writer for `hold` seconds, its outcome recorded meanwhile. Rows
        another writer is claiming are skipped, not waited for (SKIP LOCKED on PostgreSQL), so
        several nodes drain one outbox side by side. Returned as they were before the claim."""
        ...

    async def unclaim(self, call_object: str, due: float, now: float) -> None:
        """Give a claimed row back untried: its attempt uncounted, due again at `due` (a
        VoiceCall update that must wait for its create)."""
        ...

    async def release_claims(self, now: float) -> int:
        """Rows held by a writer that stopped mid-write are due now (only where no other writer
        shares the store: its claims would be taken from it)."""
        ...

    async def outbox_written_many(self, task_ids: dict[str, str], now: float) -> None:
        """`outbox_written` for a burst (call object -> Task id), in one commit."""
        ...

    async def outbox_failed(
        self, call_object: str, error: str, next_attempt_at: float, dead: bool, now: float
    ) -> None: ...

    async def retry_dead(self, call_object: str, now: float) -> bool:
        """Put a dead row back in the queue (an admin fixed the cause); False if not dead."""
        ...

    async def purge(self, before: float, now: float) -> PurgeCounts:
        """Delete interaction records last touched before `before`, and expired sessions.

        Rows still to be written (pending outbox rows, logs not yet queued) are kept whatever
        their age: retention never loses a call log.
        """
        ...
