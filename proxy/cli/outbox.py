"""`softphone-proxy outbox`: what the Task writer still owes Salesforce, and dead rows retried.

It opens the store named by SOFTPHONE_DATABASE_URL directly, so it works whether or not the
proxy is running; a running proxy picks up a retried row at its next poll (within seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time

from proxy.settings import Settings
from proxy.store import OutboxRow, open_store


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = commands.add_parser("outbox", help="list Task writes, retry dead ones")
    outbox.add_argument("--state", choices=["pending", "written", "dead"], help="only these")
    outbox.add_argument(
        "--retry", metavar="CALL_OBJECT", action="append", default=[], help="retry a dead row"
    )
    outbox.add_argument("--retry-all-dead", action="store_true", help="retry every dead row")
    outbox.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    settings = Settings()
    async with open_store(settings.database_url) as store:
        retry = list(args.retry)
        if args.retry_all_dead:
            retry += [r.call_object for r in await store.outbox_rows("dead")]
        status = 0
        for call_object in retry:
            if await store.retry_dead(call_object, time.time()):
                print(f"queued again: {call_object}")
            else:
                print(f"not a dead row: {call_object}")
                status = 1
        if retry:
            return status
        rows = await store.outbox_rows(args.state)
        for row in rows:
            print(_line(row))
        counts = {s: sum(1 for r in rows if r.state == s) for s in ("pending", "written", "dead")}
        print(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no Task writes")
        return 0


def _line(row: OutboxRow) -> str:
    when = dt.datetime.fromtimestamp(row.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    detail = row.task_id if row.state == "written" else row.last_error or "-"
    return f"{when}  {row.state:<7}  {row.attempts:>2} tries  {row.call_object}  {detail}"
