"""`softphone-proxy agents`: the roster, kept in the store named by SOFTPHONE_DATABASE_URL.

Passwords are read from a prompt (or stdin with --password-stdin), never from the command
line, where they would land in shell history and `ps`; they are stored as argon2 hashes.

`import` is all or nothing: every row is checked first (a bad one is named by its line, and
nothing is written), the passwords are hashed on every core, and the agents are saved in one
transaction, so a failure part-way leaves the roster as it was. A row may give a ready-made
argon2id hash (`password_hash`) instead of a password: from another system, from `export`, or
from `hash`; it is checked, not hashed again, which is what makes a large import quick.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from proxy.agents.hashing import HASHER, hash_all, hash_password, ready_hash_problem
from proxy.errors import ProxyError
from proxy.settings import Settings
from proxy.store import AgentRecord, open_store
from proxy.store.base import AgentKind

KINDS: tuple[AgentKind, ...] = ("regular", "hot_desk", "acd")
_ADDRESS = re.compile(r"^[A-Za-z0-9._@+-]{1,80}$")
_EXTENSION = re.compile(r"^[0-9]{1,16}$")
_USER_ID = re.compile(r"^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
MIN_PASSWORD = 8


class RosterError(ProxyError, ValueError):
    """A roster entry that cannot be saved, with the reason an admin can act on."""


@dataclass(frozen=True)
class Entry:
    address: str
    name: str
    extension: str
    kind: str
    salesforce_user_id: str = ""

    def check(self) -> None:
        if not _ADDRESS.match(self.address):
            raise RosterError(f"address {self.address!r}: letters, digits and . _ @ + - only")
        if not self.name.strip() or len(self.name) > 120:
            raise RosterError("name: 1 to 120 characters")
        if not _EXTENSION.match(self.extension):
            raise RosterError(f"extension {self.extension!r}: digits only")
        if self.kind not in KINDS:
            raise RosterError(f"kind {self.kind!r}: one of {', '.join(KINDS)}")
        if self.salesforce_user_id and not _USER_ID.match(self.salesforce_user_id):
            raise RosterError(
                f"salesforce_user_id {self.salesforce_user_id!r}: a User Id (005..., 15 or 18)"
            )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise RosterError(f"password: at least {MIN_PASSWORD} characters")


@dataclass(frozen=True)
class Row:
    """One agent of an import, with either the password to hash or a ready-made hash."""

    entry: Entry
    password: str = ""
    password_hash: str = ""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agents = commands.add_parser("agents", help="list, add, remove and import agents")
    agents.set_defaults(run=run)
    sub = agents.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="the roster")
    sub.add_parser(
        "export",
        help="the roster as a CSV `import` reads, with each agent's password hash (keep it as "
        "safe as the database)",
    )
    add = sub.add_parser("add", help="add an agent, or replace one with the same address")
    add.add_argument("address", help="what the agent signs in with")
    add.add_argument("--name", required=True)
    add.add_argument("--extension", required=True, help="the phone the PBX rings")
    add.add_argument("--kind", choices=KINDS, default="regular")
    add.add_argument("--salesforce-user-id", default="", help="005... (owns their Tasks)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    remove = sub.add_parser("remove", help="remove an agent and end their sessions")
    remove.add_argument("address")
    passwd = sub.add_parser("passwd", help="set an agent's password")
    passwd.add_argument("address")
    passwd.add_argument("--password-stdin", action="store_true")
    imp = sub.add_parser(
        "import",
        help="add agents from a CSV: address,name,extension,kind,password[,salesforce_user_id]; "
        "a password_hash column (argon2id) instead of password skips hashing",
    )
    imp.add_argument("file", type=Path)
    hash_ = sub.add_parser(
        "hash",
        help="argon2id hashes for an import's password_hash column: one password a line on "
        "stdin, one hash a line out",
    )
    for command in (imp, hash_):
        command.add_argument(
            "--workers",
            type=int,
            default=0,
            help="processes hashing passwords (default: every core; fewer leaves a running "
            "proxy some)",
        )


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise RosterError("the two passwords differ")
    return first


def read_csv(path: Path) -> list[Row]:
    """Every row checked before anything is written: a roster is imported whole or not at all."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _read_rows(path, csv.DictReader(handle))
    except OSError as exc:
        raise RosterError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RosterError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise RosterError(f"{path}: not a CSV file ({exc})") from None


def _read_rows(path: Path, reader: csv.DictReader[str]) -> list[Row]:
    columns = set(reader.fieldnames or ())
    missing = {"address", "name", "extension", "kind"} - columns
    if not columns & {"password", "password_hash"}:
        missing.add("password (or password_hash)")
    if missing:
        raise RosterError(f"{path}: missing columns {', '.join(sorted(missing))}")
    rows: list[Row] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        entry = Entry(
            address=(row.get("address") or "").strip(),
            name=(row.get("name") or "").strip(),
            extension=(row.get("extension") or "").strip(),
            kind=(row.get("kind") or "").strip() or "regular",
            salesforce_user_id=(row.get("salesforce_user_id") or "").strip(),
        )
        password = row.get("password") or ""
        ready = (row.get("password_hash") or "").strip()
        try:
            if ready.startswith("$argon2") and "," not in ready:
                # Its m=...,t=...,p=... split it across the columns that follow.
                raise RosterError("password_hash: cut at its first comma; put it in double quotes")
            entry.check()
            if password and ready:
                raise RosterError("a password and a password_hash: give one or the other")
            if ready:
                problem = ready_hash_problem(ready)
                if problem:
                    raise RosterError(f"password_hash: {problem}")
            elif not password and "password_hash" in columns:
                raise RosterError("no password and no password_hash: give one")
            else:
                _check_password(password)
            if entry.address in first_line:
                seen = first_line[entry.address]
                raise RosterError(f"address {entry.address!r} is on line {seen} already")
        except RosterError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        first_line[entry.address] = line
        rows.append(Row(entry, "" if ready else password, ready))
    if problems:
        raise RosterError("nothing imported:\n  " + "\n  ".join(problems))
    return rows


def _read_passwords(text: str) -> list[str]:
    """`hash`'s input: one password a line, each checked as `add` checks it."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    passwords = [line.removesuffix("\r") for line in lines]
    problems = []
    for number, password in enumerate(passwords, 1):
        try:
            _check_password(password)
        except RosterError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise RosterError("nothing hashed:\n  " + "\n  ".join(problems))
    return passwords


def _export(records: list[AgentRecord]) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["address", "name", "extension", "kind", "password_hash", "salesforce_user_id"])
    for a in records:
        out.writerow(
            [a.address, a.name, a.extension, a.kind, a.password_hash, a.salesforce_user_id]
        )


def _progress(total: int) -> Callable[[int], None] | None:
    """Hashing 10,000 passwords takes minutes on a small machine: say how far, at a terminal."""
    if not sys.stderr.isatty():
        return None
    return lambda done: print(f"  hashed {done} of {total} passwords", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "hash":
            return _hash(args)
        return asyncio.run(_run(args))
    except RosterError as exc:
        print(f"softphone-proxy agents: {exc}", file=sys.stderr)
        return 2


def _record(entry: Entry, password_hash: str) -> AgentRecord:
    kind: AgentKind = entry.kind  # type: ignore[assignment]  # checked against KINDS
    return AgentRecord(
        entry.address, entry.name, entry.extension, kind, password_hash, entry.salesforce_user_id
    )


def _hash(args: argparse.Namespace) -> int:
    """Hashes an admin can put in an import's password_hash column; no store needed."""
    if sys.stdin.isatty():
        passwords = [_password(argparse.Namespace(password_stdin=False))]
        _check_password(passwords[0])
    else:
        passwords = _read_passwords(sys.stdin.read())
    for hashed in hash_all(passwords, args.workers, _progress(len(passwords))):
        print(hashed)
    return 0


def _import_records(args: argparse.Namespace) -> tuple[list[AgentRecord], int]:
    """The file's agents with their hashes (made here for passwords, as given otherwise), and
    how many were given."""
    rows = read_csv(args.file)
    plain = [row.password for row in rows if not row.password_hash]
    made = iter(hash_all(plain, args.workers, _progress(len(plain))))
    records = [_record(row.entry, row.password_hash or next(made)) for row in rows]
    return records, len(rows) - len(plain)


def _imported(records: list[AgentRecord], ready: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    rate = len(records) / elapsed if elapsed > 0 else 0.0
    print(f"imported {len(records)} agents in {elapsed:.1f} s ({rate:.0f} a second)")
    if ready:
        redo = sum(HASHER.check_needs_rehash(a.password_hash) for a in records)
        print(f"  {ready} with ready-made hashes, not hashed here")
        if redo:
            print(
                f"  {redo} of those under other parameters than the proxy's: each is hashed "
                "again at its own when the agent next signs in"
            )


async def _run(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.action == "import":
        # All before the store is opened: a bad file changes nothing.
        started = time.perf_counter()
        records, ready = _import_records(args)
    async with open_store(settings.database_url) as store:
        if args.action == "export":
            _export(await store.list_agents())
            return 0
        if args.action == "list":
            for a in await store.list_agents():
                user = a.salesforce_user_id or "-"
                print(f"{a.address:<24} {a.extension:<8} {a.kind:<9} {user:<18} {a.name}")
            return 0
        if args.action == "add":
            entry = Entry(
                args.address, args.name, args.extension, args.kind, args.salesforce_user_id
            )
            entry.check()
            password = _password(args)
            _check_password(password)
            await store.put_agent(_record(entry, hash_password(password)))
            print(f"added {entry.address}")
            return 0
        if args.action == "remove":
            if not await store.delete_agent(args.address):
                print(f"softphone-proxy agents: no agent {args.address!r}", file=sys.stderr)
                return 1
            print(f"removed {args.address}")
            return 0
        if args.action == "passwd":
            agent = await store.get_agent(args.address)
            if agent is None:
                print(f"softphone-proxy agents: no agent {args.address!r}", file=sys.stderr)
                return 1
            password = _password(args)
            _check_password(password)
            await store.put_agent(replace(agent, password_hash=hash_password(password)))
            print(f"password set for {agent.address}")
            return 0
        await store.put_agents(records)
        _imported(records, ready, started)
        return 0
