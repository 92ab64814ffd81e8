"""The store's contract, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError

from proxy.agents.roster import RosterWatcher, roster_devices
from proxy.store import AgentRecord, OutboxWrite, Store, open_store
from proxy.store.base import PurgeCounts
from proxy.store.calls import PURGE_LOCK
from softphone.agentdata import HISTORY_LIMITS, Favorite, HistoryEntry, history_lists
from softphone.calllog import CallLog
from softphone.events import Direction
from softphone.pops import RecordRef
from tests.databases import database_url, postgres_url


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with database_url(request.param, tmp_path) as url, open_store(url) as opened:
        yield opened


def _log(call_id: str, agent: str = "1001", **changes: object) -> CallLog:
    values: dict[str, object] = {
        "call_id": call_id,
        "agent": agent,
        "direction": Direction.INBOUND,
        "placed": False,
        "number": "+16504508810",
        "started_at": 1000.0,
    }
    values.update(changes)
    return CallLog(**values)  # type: ignore[arg-type]


def _entry(n: int, outcome: str = "answered", placed: bool = False) -> HistoryEntry:
    return HistoryEntry(
        call_id=f"c{n}",
        direction="outbound" if placed else "inbound",
        outcome=outcome,  # type: ignore[arg-type]
        placed=placed,
        number=f"+1650450{n:04d}",
        started_at=float(n),
    )


async def test_agents_and_sessions_round_trip(store: Store) -> None:
    """An agent saved is the agent read back; a session finds its agent until it expires."""
    agent = AgentRecord("1001", "Alex Morgan", "1001", "acd", "hash", "005000000000001AAA")
    await store.put_agent(agent)
    await store.put_agent(agent)  # replacing is not an error
    assert await store.get_agent("1001") == agent
    assert await store.list_agents() == [agent]
    await store.create_session("t" * 64, "1001", expires_at=200.0)
    signed_in = await store.session_agent("t" * 64, now=100.0)
    assert signed_in is not None and signed_in.address == "1001"
    assert await store.session_agent("t" * 64, now=300.0) is None


async def test_a_roster_is_saved_whole_in_one_go(store: Store) -> None:
    """Thousands of agents are saved at once, replacing those with the same address; a roster
    the database refuses part of, or naming an address twice, saves no one."""
    await store.put_agent(AgentRecord("a0001", "Old Name", "9999", "regular", "old-hash"))
    roster = [
        AgentRecord(f"a{n:04d}", f"Agent {n}", f"{2000 + n}", "acd", f"hash-{n}")
        for n in range(3000)
    ]
    await store.put_agents(roster)
    await store.put_agents([])  # nothing to save is not an error
    assert await store.list_agents() == roster
    broken = [AgentRecord(f"b{n}", f"B {n}", f"{n}", "regular", "h") for n in range(50)]
    broken.append(AgentRecord("b-last", None, "1", "regular", "h"))  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        await store.put_agents(broken)
    twice = [AgentRecord("c1", "C", "1", "regular", "h"), AgentRecord("c1", "C2", "2", "acd", "h")]
    with pytest.raises(ValueError, match="'c1' is given twice"):
        await store.put_agents(twice)
    assert await store.list_agents() == roster


async def test_settings_are_per_agent(store: Store) -> None:
    """Saved settings come back for the same agent only, and a second save replaces the first."""
    assert await store.get_settings("1001") is None
    await store.put_settings("1001", {"tooltips": False})
    await store.put_settings("1001", {"tooltips": True, "call_subject": "Support call"})
    assert await store.get_settings("1001") == {"tooltips": True, "call_subject": "Support call"}
    assert await store.get_settings("1002") is None


async def test_favorites_stop_at_the_limit(store: Store) -> None:
    """The 51st favorite is refused, an existing one can still be renamed, and lists are A-Z."""
    for n in range(50):
        fav = Favorite(number=f"+1650450{n:04d}", name=f"Person {49 - n:02d}")
        assert await store.put_favorite("1001", fav, limit=50)
    assert not await store.put_favorite("1001", Favorite(number="+15550000000"), limit=50)
    renamed = Favorite(number="+16504500000", name="aaron first")
    assert await store.put_favorite("1001", renamed, limit=50)
    from softphone.agentdata import sort_favorites

    listed = sort_favorites(await store.list_favorites("1001"))
    assert len(listed) == 50
    assert listed[0] == renamed
    assert [f.name for f in listed[1:3]] == ["Person 00", "Person 01"]
    await store.delete_favorite("1001", renamed.number)
    assert len(await store.list_favorites("1001")) == 49
    assert await store.list_favorites("1002") == []


async def test_history_lists_keep_their_own_limits(store: Store) -> None:
    """Thirty newest calls overall, and the ten newest missed calls even when they are old."""
    for n in range(1, 13):
        await store.end_call(_log(f"m{n}"), _entry(n, "missed"), now=float(n))
    for n in range(100, 150):
        placed = n % 2 == 0
        log = _log(f"c{n}", placed=placed)
        await store.end_call(log, _entry(n, placed=placed), now=float(n))
    entries = await store.list_history("1001", HISTORY_LIMITS)
    lists = history_lists(entries)
    assert [e.call_id for e in lists["all"][:2]] == ["c149", "c148"]
    assert len(lists["all"]) == 30
    assert [e.call_id for e in lists["missed"]] == [f"c{n}" for n in range(12, 2, -1)]
    assert len(lists["received"]) == 10 and all(not e.placed for e in lists["received"])
    assert len(lists["dialed"]) == 10 and all(e.placed for e in lists["dialed"])
    assert await store.list_history("1002", HISTORY_LIMITS) == []


async def test_quick_notes_are_per_agent_and_unique(store: Store) -> None:
    """An agent's quick notes come back sorted, once each, and only to that agent."""
    for text in ("Will call back", "asked for a refund", "Will call back"):
        await store.add_quick_note("1001", text)
    assert await store.list_quick_notes("1001") == ["asked for a refund", "Will call back"]
    await store.delete_quick_note("1001", "Will call back")
    assert await store.list_quick_notes("1001") == ["asked for a refund"]
    assert await store.list_quick_notes("1002") == []


async def test_a_call_log_survives_until_queued_and_queues_once(store: Store) -> None:
    """An unfinished log is found again; queueing it twice leaves one outbox row per Task."""
    pick = RecordRef(object="Contact", id="003000000000001AAA", name="Ada")
    log = _log("c1", picked=pick, notes="asked about invoice <b>42</b>")
    await store.put_call_log(log, now=1.0)
    assert await store.unfinished_call_logs() == [log]
    queued = CallLog(**{**log.__dict__, "state": "queued"})
    task = {"CallObject": log.call_object, "Subject": "Inbound call"}
    await store.queue_call_log(queued, [task], now=2.0)
    await store.queue_call_log(queued, [{**task, "Subject": "changed"}], now=3.0)
    assert await store.unfinished_call_logs() == []
    rows = await store.outbox_rows()
    assert [(r.call_object, r.fields["Subject"], r.state) for r in rows] == [
        ("c1@1001", "Inbound call", "pending")
    ]


async def test_outbox_attempts_backoff_and_dead_letters(store: Store) -> None:
    """A failed row waits for its next attempt; a dead row keeps its error until retried."""
    log = _log("c1", state="queued")
    await store.queue_call_log(log, [{"CallObject": "c1@1001"}], now=10.0)
    assert [r.call_object for r in await store.due_outbox(now=10.0, limit=10)] == ["c1@1001"]
    (claimed,) = await store.claim_due_outbox(now=10.0, limit=10, hold=60.0)
    assert claimed.attempts == 0  # as it was before this attempt
    assert await store.claim_due_outbox(now=11.0, limit=10, hold=60.0) == []  # held
    await store.outbox_failed("c1@1001", "UNKNOWN_EXCEPTION", 20.0, dead=False, now=10.0)
    assert await store.due_outbox(now=15.0, limit=10) == []
    (row,) = await store.due_outbox(now=20.0, limit=10)
    assert row.attempts == 1 and row.last_error == "UNKNOWN_EXCEPTION"
    await store.outbox_failed("c1@1001", "INVALID_FIELD: bad", 30.0, dead=True, now=20.0)
    assert await store.due_outbox(now=99.0, limit=10) == []
    (dead,) = await store.outbox_rows("dead")
    assert dead.last_error == "INVALID_FIELD: bad"
    assert await store.retry_dead("c1@1001", now=40.0)
    assert not await store.retry_dead("c1@1001", now=40.0)
    await store.outbox_written("c1@1001", "00T000000000001AAA", now=41.0)
    (written,) = await store.outbox_rows("written")
    assert written.task_id == "00T000000000001AAA"


async def test_voice_writes_queue_once_and_each_writer_drains_its_own_kinds(store: Store) -> None:
    """Writes queued together land together, a key queued again changes nothing, and the Task
    writer never sees a VoiceCall row (nor the VoiceCall writer a Task)."""
    await store.queue_call_log(_log("c1", state="queued"), [{"CallObject": "c1@1001"}], now=1.0)
    create = OutboxWrite("voice_create:c2", "voice_create", {"vendorCallKey": "c2"})
    assert await store.enqueue("1001", [create], now=2.0) == 1
    end = OutboxWrite("voice_end:c2", "voice_end", {"endTime": "x"})
    again = OutboxWrite("voice_create:c2", "voice_create", {"vendorCallKey": "other"})
    assert await store.enqueue("1001", [again, end], now=3.0) == 1
    tasks = await store.due_outbox(now=9.0, limit=10)
    assert [r.call_object for r in tasks] == ["c1@1001"]
    voice = await store.due_outbox(now=9.0, limit=10, kinds=("voice_create", "voice_end"))
    assert [(r.call_object, r.kind) for r in voice] == [
        ("voice_create:c2", "voice_create"),
        ("voice_end:c2", "voice_end"),
    ]
    found = await store.outbox_row("voice_create:c2")
    assert found is not None and found.fields == {"vendorCallKey": "c2"} and found.agent == "1001"
    assert await store.outbox_row("voice_create:nothing") is None
    assert [r.call_object for r in await store.outbox_of_kind("voice_end", since=3.0)] == [
        "voice_end:c2"
    ]
    assert await store.outbox_of_kind("voice_end", since=3.5) == []


async def test_a_write_due_later_is_released_early_with_new_fields_until_tried(
    store: Store,
) -> None:
    """A create held back (for the caller lookup) is not due until its time, unless released
    with its final fields; once an attempt is counted, a release changes nothing."""
    later = OutboxWrite("voice_create:c3", "voice_create", {"v": 1}, due=50.0)
    await store.enqueue("1001", [later], now=10.0)
    assert await store.due_outbox(now=20.0, limit=10, kinds=("voice_create",)) == []
    assert await store.release("voice_create:c3", {"v": 2}, now=21.0)
    (due,) = await store.due_outbox(now=21.0, limit=10, kinds=("voice_create",))
    assert due.fields == {"v": 2}
    claimed = await store.claim_due_outbox(22.0, 10, 60.0, kinds=("voice_create",))
    assert [r.call_object for r in claimed] == ["voice_create:c3"]
    assert not await store.release("voice_create:c3", {"v": 3}, now=23.0)
    assert not await store.release("voice_create:none", {"v": 3}, now=23.0)
    found = await store.outbox_row("voice_create:c3")
    assert found is not None and found.fields == {"v": 2} and found.attempts == 1


async def test_each_writer_claims_only_its_own_kinds_and_a_wait_is_no_attempt(
    store: Store,
) -> None:
    """The Task writer's claim never takes a VoiceCall row (nor the reverse); a VoiceCall
    update given back untried (waiting for its create) keeps its attempts."""
    await store.queue_call_log(_log("c4", state="queued"), [{"CallObject": "c4@1001"}], now=1.0)
    end = OutboxWrite("voice_end:c4", "voice_end", {})
    await store.enqueue("1001", [end], now=1.0)
    tasks = await store.claim_due_outbox(2.0, 10, 60.0)
    assert [r.call_object for r in tasks] == ["c4@1001"]
    (claimed,) = await store.claim_due_outbox(2.0, 10, 60.0, kinds=("voice_end",))
    assert claimed.call_object == "voice_end:c4"
    await store.unclaim("voice_end:c4", due=5.0, now=2.0)
    assert await store.claim_due_outbox(4.0, 10, 60.0, kinds=("voice_end",)) == []
    (again,) = await store.claim_due_outbox(5.0, 10, 60.0, kinds=("voice_end",))
    assert again.attempts == 0


async def test_a_burst_of_outbox_rows_is_counted_and_written_in_one_go(store: Store) -> None:
    """Attempts are counted for every row of a burst, and each row gets its own Task id."""
    calls = [f"c{n}@1001" for n in range(250)]
    await store.queue_call_log(
        _log("burst", state="queued"), [{"CallObject": c} for c in calls], now=10.0
    )
    claimed = await store.claim_due_outbox(now=11.0, limit=200, hold=60.0)
    assert [r.call_object for r in claimed] == calls[:200]
    rows = {r.call_object: r for r in await store.outbox_rows()}
    assert {rows[c].attempts for c in calls[:200]} == {1}
    assert {rows[c].attempts for c in calls[200:]} == {0}
    await store.outbox_written_many({c: f"00T{n:015d}" for n, c in enumerate(calls[:199])}, 12.0)
    await store.outbox_written_many({}, 12.0)  # nothing written is not an error
    written = {r.call_object: r.task_id for r in await store.outbox_rows("written")}
    assert written == {c: f"00T{n:015d}" for n, c in enumerate(calls[:199])}
    assert len(await store.due_outbox(now=12.0, limit=500)) == 50  # the 51st is still held
    assert await store.release_claims(now=12.0) == 1  # its writer stopped: due again
    assert len(await store.due_outbox(now=12.0, limit=500)) == 51


async def test_purge_keeps_what_is_still_to_be_written(store: Store) -> None:
    """Retention deletes old history, logs and written rows, never a Task still pending."""
    await store.end_call(_log("old", state="written"), _entry(1), now=1.0)
    await store.queue_call_log(_log("old", state="written"), [{"CallObject": "old@1001"}], 1.0)
    await store.outbox_written("old@1001", "00T1", now=1.0)
    await store.queue_call_log(_log("stuck", state="queued"), [{"CallObject": "stuck@1001"}], 1.0)
    await store.put_call_log(_log("wrapping", state="wrapping"), now=1.0)
    await store.end_call(_log("new", state="written"), _entry(500), now=500.0)
    await store.create_session("s" * 64, "1001", expires_at=5.0)
    counts = await store.purge(before=100.0, now=200.0)
    assert (counts.history, counts.outbox, counts.sessions) == (1, 1, 1)
    assert counts.call_logs == 2  # "old" and "stuck" (queued: its Task row remains)
    assert [r.call_object for r in await store.outbox_rows()] == ["stuck@1001"]
    assert [log.call_id for log in await store.unfinished_call_logs()] == ["wrapping"]
    assert [e.call_id for e in await store.list_history("1001", HISTORY_LIMITS)] == ["c500"]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_roster_change_made_elsewhere_is_read_at_the_next_poll(
    kind: str, tmp_path: Path
) -> None:
    """What one store writes (the `agents` command) a store already open on the same database
    (the running proxy) reads at its next poll: added, moved and removed agents, each reported
    once, and an unchanged roster not at all."""
    async with database_url(kind, tmp_path) as url, open_store(url) as proxy_side:
        seen: list[frozenset[str]] = []

        async def changed(agents: Sequence[AgentRecord]) -> None:
            seen.append(roster_devices(agents))

        async with RosterWatcher(proxy_side, changed) as watcher, open_store(url) as cli:
            assert seen == [frozenset()]  # the roster at start, empty
            await cli.put_agent(AgentRecord("maria@acme.example", "Maria", "2201", "regular", "h"))
            assert await watcher.check() and seen[-1] == {"2201"}
            assert not await watcher.check()  # nothing new: nothing reported
            # A new password or name routes nothing differently: not reported either.
            await cli.put_agent(AgentRecord("maria@acme.example", "María", "2201", "regular", "h2"))
            assert not await watcher.check()
            await cli.put_agent(AgentRecord("maria@acme.example", "Maria", "2202", "regular", "h"))
            assert await watcher.check() and seen[-1] == {"2202"}
            # Her Salesforce user decides whose records pop first and owns her Tasks.
            sf_user = "005000000000001AAA"
            await cli.put_agent(
                AgentRecord("maria@acme.example", "Maria", "2202", "regular", "h", sf_user)
            )
            assert await watcher.check() and seen[-1] == {"2202"}
            await cli.delete_agent("maria@acme.example")
            assert await watcher.check() and seen[-1] == frozenset()
        assert len(seen) == 5


async def test_a_device_holds_one_hot_desk_agent_at_most(store: Store) -> None:
    """A seat taken is refused to a second agent, moves with its agent, is freed on leaving
    and with the agent's removal, and two stores on one database (two proxies) agree."""
    await store.put_agent(AgentRecord("desk@acme.example", "Dana", "2301", "hot_desk", "h"))
    assert await store.take_seat("desk@acme.example", "2302", now=1.0)
    assert await store.take_seat("desk@acme.example", "2302", now=2.0)  # again: still theirs
    assert not await store.take_seat("kim@acme.example", "2302", now=3.0)
    assert await store.list_seats() == {"desk@acme.example": "2302"}
    assert await store.take_seat("desk@acme.example", "2303", now=4.0)  # moved: 2302 is free
    assert await store.take_seat("kim@acme.example", "2302", now=5.0)
    assert await store.list_seats() == {"desk@acme.example": "2303", "kim@acme.example": "2302"}
    await store.leave_seat("kim@acme.example")
    await store.leave_seat("kim@acme.example")  # leaving twice is not an error
    assert await store.delete_agent("desk@acme.example")
    assert await store.list_seats() == {}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_two_proxies_racing_for_one_device_seat_one_agent(kind: str, tmp_path: Path) -> None:
    """Two stores on one database (two proxies) seating different agents at one device at
    once: exactly one wins, and the database says who."""
    async with (
        database_url(kind, tmp_path) as url,
        open_store(url) as one,
        open_store(url) as two,
    ):
        won = await asyncio.gather(
            one.take_seat("a@acme.example", "2302", now=1.0),
            two.take_seat("b@acme.example", "2302", now=1.0),
        )
        assert sorted(won) == [False, True]
        winner = "a@acme.example" if won[0] else "b@acme.example"
        assert await one.list_seats() == await two.list_seats() == {winner: "2302"}


async def test_one_node_purges_at_a_time_on_postgresql() -> None:
    """While another node holds the purge (its advisory lock), a purge here deletes nothing
    and says so; once that node is done, the purge runs."""
    async with postgres_url() as url, open_store(url) as store:
        await store.create_session("s" * 64, "1001", expires_at=5.0)
        other = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await other.execute("SELECT pg_advisory_lock($1)", PURGE_LOCK)
            assert await store.purge(before=100.0, now=200.0) == PurgeCounts(0, 0, 0, 0)
            await other.execute("SELECT pg_advisory_unlock($1)", PURGE_LOCK)
        finally:
            await other.close()
        assert (await store.purge(before=100.0, now=200.0)).sessions == 1
