"""`softphone-proxy agents`: the roster an admin keeps, used by the running proxy's sign-in."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher, Type

from proxy.agents.hashing import hash_password
from tests.harness import next_message, running_proxy


def agents(
    db: Path, *args: str, stdin: str = "", status: int = 0
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    result = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "agents", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == status, result.stderr
    return result


def signs_in(base_url: str, address: str, password: str, extension: str = "") -> bool:
    body = {"address": address, "password": password, "extension": extension}
    return httpx.post(f"{base_url}/api/v1/sessions", json=body).status_code == 201


def test_add_list_passwd_remove(tmp_path: Path) -> None:
    """An agent added from the command line signs in; a new password replaces the old; removed
    agents cannot sign in."""
    db = tmp_path / "roster.db"
    agents(
        db,
        "add",
        "maria@acme.example",
        "--name",
        "María Núñez",
        "--extension",
        "2201",
        "--kind",
        "hot_desk",
        "--salesforce-user-id",
        "005000000000001AAA",
        "--password-stdin",
        stdin="correct horse\n",
    )
    listed = agents(db, "list").stdout
    assert "maria@acme.example" in listed and "2201" in listed and "María Núñez" in listed
    assert "correct horse" not in listed
    with running_proxy(tmp_path, database_url=f"sqlite+aiosqlite:///{db}", demo=False) as proxy:
        # A hot-desk agent names the phone they sit at.
        assert signs_in(proxy.base_url, "maria@acme.example", "correct horse", "2201")
        agents(db, "passwd", "maria@acme.example", "--password-stdin", stdin="battery staple\n")
        assert not signs_in(proxy.base_url, "maria@acme.example", "correct horse", "2201")
        assert signs_in(proxy.base_url, "maria@acme.example", "battery staple", "2201")
        agents(db, "remove", "maria@acme.example")
        assert not signs_in(proxy.base_url, "maria@acme.example", "battery staple", "2201")
    missing = agents(db, "remove", "maria@acme.example", status=1)
    assert "no agent" in missing.stderr


def test_bad_entries_are_refused_with_the_reason(tmp_path: Path) -> None:
    """A short password, letters in an extension or a malformed User Id are refused plainly."""
    db = tmp_path / "roster.db"
    short = agents(
        db,
        "add",
        "a1",
        "--name",
        "A",
        "--extension",
        "1",
        "--password-stdin",
        stdin="short\n",
        status=2,
    )
    assert "at least 8 characters" in short.stderr
    bad_ext = agents(
        db,
        "add",
        "a1",
        "--name",
        "A",
        "--extension",
        "12a",
        "--password-stdin",
        stdin="long enough\n",
        status=2,
    )
    assert "digits only" in bad_ext.stderr
    assert agents(db, "list").stdout == ""


def test_csv_import_is_all_or_nothing(tmp_path: Path) -> None:
    """A CSV with one bad row imports nothing and names the line; fixed, it imports all."""
    db = tmp_path / "roster.db"
    good = "2301,Ann Lee,2301,acd,first-password,\n2302,Bo Chen,2302,regular,second-password,\n"
    csv_file = tmp_path / "roster.csv"
    header = "address,name,extension,kind,password,salesforce_user_id\n"
    csv_file.write_text(header + good + "2303,Cy,ext3,acd,third-password,\n")
    refused = agents(db, "import", str(csv_file), status=2)
    assert "nothing imported" in refused.stderr and "line 4: extension 'ext3'" in refused.stderr
    assert agents(db, "list").stdout == ""
    csv_file.write_text(header + good)
    assert "imported 2 agents" in agents(db, "import", str(csv_file)).stdout
    listed = agents(db, "list").stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["2301", "2302"]
    assert "first-password" not in (db.read_bytes().decode("latin-1"))


def test_a_large_roster_imports_whole_with_each_password_its_own(tmp_path: Path) -> None:
    """200 agents hashed on several processes and saved at once: every one is listed, and each
    signs in with their own password and not with another row's."""
    db = tmp_path / "roster.db"
    csv_file = tmp_path / "roster.csv"
    lines = [
        f"agent{n:04d}@acme.example,Agent {n},{3000 + n},regular,password-{n:04d},"
        for n in range(200)
    ]
    csv_file.write_text(
        "address,name,extension,kind,password,salesforce_user_id\n" + "\n".join(lines) + "\n"
    )
    imported = agents(db, "import", str(csv_file), "--workers", "2").stdout
    assert imported.startswith("imported 200 agents in ")
    listed = agents(db, "list").stdout.splitlines()
    assert [line.split()[0] for line in listed] == [
        f"agent{n:04d}@acme.example" for n in range(200)
    ]
    with running_proxy(tmp_path, database_url=f"sqlite+aiosqlite:///{db}", demo=False) as proxy:
        for n in (0, 157, 199):
            assert signs_in(proxy.base_url, f"agent{n:04d}@acme.example", f"password-{n:04d}")
        assert not signs_in(proxy.base_url, "agent0001@acme.example", "password-0002")


def test_an_import_that_names_an_address_twice_or_cannot_be_read_imports_nothing(
    tmp_path: Path,
) -> None:
    """The same address on two lines is refused naming both; a missing or binary file is
    refused plainly, without a traceback."""
    db = tmp_path / "roster.db"
    csv_file = tmp_path / "roster.csv"
    header = "address,name,extension,kind,password\n"
    csv_file.write_text(
        header + "2301,Ann,2301,acd,first-password\n\n2302,Bo,2302,acd,second-password\n"
        "2301,Ann again,2309,acd,third-password\n"
    )
    twice = agents(db, "import", str(csv_file), status=2).stderr
    assert "line 5: address '2301' is on line 2 already" in twice
    assert agents(db, "list").stdout == ""
    missing = agents(db, "import", str(tmp_path / "nope.csv"), status=2).stderr
    assert "nope.csv: No such file or directory" in missing and "Traceback" not in missing
    csv_file.write_bytes(header.encode() + b"\xff\xfe\x00binary\n")
    binary = agents(db, "import", str(csv_file), status=2).stderr
    assert "not UTF-8 text" in binary and "Traceback" not in binary


def write_roster(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """As a spreadsheet saves it: a hash's commas inside double quotes."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])


def hashes_in(exported: str) -> dict[str, str]:
    return {row["address"]: row["password_hash"] for row in csv.DictReader(io.StringIO(exported))}


def test_an_import_with_ready_hashes_signs_in_with_the_original_passwords(tmp_path: Path) -> None:
    """Hashes from `agents hash`, from another system at the library's defaults and at another
    of OWASP's minimums, beside a plain password: each agent signs in with their own password;
    a hash under other parameters is redone at the proxy's at that sign-in, one at the proxy's
    own is kept. An export imported elsewhere signs in the same."""
    made = agents(db := tmp_path / "roster.db", "hash", stdin="first-password\nsecond-password\n")
    ours = made.stdout.split()
    assert len(ours) == 2 and all(h.startswith("$argon2id$v=19$m=7168,t=5,p=1$") for h in ours)
    elsewhere = PasswordHasher().hash("third-password")  # 64 MiB, 3 passes, 4 lanes
    twelve_mib = PasswordHasher(time_cost=3, memory_cost=12288, parallelism=1).hash("fourth-pass")
    csv_file = tmp_path / "roster.csv"
    header = ["address", "name", "extension", "kind", "password", "password_hash"]
    write_roster(
        csv_file,
        header,
        [
            ["2301", "Ann", "2301", "acd", "", ours[0]],
            ["2302", "Bo", "2302", "acd", "", ours[1]],
            ["2303", "Cy", "2303", "acd", "", elsewhere],
            ["2304", "Di", "2304", "acd", "", twelve_mib],
            ["2305", "Ed", "2305", "acd", "fifth-password", ""],
        ],
    )
    imported = agents(db, "import", str(csv_file)).stdout
    assert imported.startswith("imported 5 agents in ")
    assert "4 with ready-made hashes" in imported and "2 of those under other" in imported
    exported = agents(db, "export").stdout
    stored = hashes_in(exported)
    assert [stored[a] for a in ("2301", "2302", "2303", "2304")] == [*ours, elsewhere, twelve_mib]
    # The export, imported into another roster, is the same roster.
    elsewhere_db = tmp_path / "elsewhere.db"
    (tmp_path / "export.csv").write_text(exported)
    assert (
        "5 with ready-made hashes"
        in agents(elsewhere_db, "import", str(tmp_path / "export.csv")).stdout
    )
    assert hashes_in(agents(elsewhere_db, "export").stdout) == stored
    url = f"sqlite+aiosqlite:///{elsewhere_db}"
    with running_proxy(tmp_path, database_url=url, demo=False) as proxy:
        for address, password in [
            ("2301", "first-password"),
            ("2302", "second-password"),
            ("2303", "third-password"),
            ("2304", "fourth-pass"),
            ("2305", "fifth-password"),
        ]:
            assert signs_in(proxy.base_url, address, password), address
        assert not signs_in(proxy.base_url, "2301", "second-password")
        after = hashes_in(agents(elsewhere_db, "export").stdout)
        assert after["2301"] == ours[0]  # the proxy's own parameters: kept
        for address in ("2303", "2304"):
            assert after[address].startswith("$argon2id$v=19$m=7168,t=5,p=1$")
            assert after[address] != stored[address]
        assert signs_in(proxy.base_url, "2303", "third-password")


def test_ready_hashes_not_argon2id_at_our_minimums_import_nothing(tmp_path: Path) -> None:
    """Each bad hash is refused naming its line and why (argon2i, argon2d, bcrypt, garbage,
    weaker parameters, another version, a shape the library cannot read, commas left
    unquoted), as is a row giving both a password and a hash or neither; nothing is imported,
    and the roster already there stays as it was."""
    db = tmp_path / "roster.db"
    agents(db, "add", "keep", "--name", "Kept", "--extension", "2300",
           "--password-stdin", stdin="kept password\n")  # fmt: skip
    before = agents(db, "export").stdout
    ours = hash_password("a-good-password")
    minimums = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}
    bad = [
        PasswordHasher(type=Type.I, **minimums).hash("a-good-password"),
        PasswordHasher(type=Type.D, **minimums).hash("a-good-password"),
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "not a hash at all",
        PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash("a-good-password"),
        ours.replace("$v=19$", "$v=16$"),
        ours.replace("m=7168,t=5", "t=5,m=7168"),  # argon2 reads m, t, p only in that order
        # A 32-byte hash's last base64 letter carries 2 bits and 4 zeros: B is never one.
        ours[:-1] + "B",
    ]
    header = ["address", "name", "extension", "kind", "password", "password_hash"]
    rows = [["2301", "Fine", "2301", "acd", "", ours]]
    rows += [[f"24{n:02d}", "Bad", f"24{n:02d}", "acd", "", h] for n, h in enumerate(bad)]
    rows += [
        ["2501", "Both", "2501", "acd", "a-good-password", ours],
        ["2502", "Neither", "2502", "acd", "", ""],
    ]
    csv_file = tmp_path / "roster.csv"
    write_roster(csv_file, header, rows)
    with csv_file.open("a") as handle:  # as typed by hand: the hash's commas end its column
        handle.write(f"2503,Unquoted,2503,acd,,{ours}\n")
    refused = agents(db, "import", str(csv_file), status=2).stderr
    assert "nothing imported" in refused and "Traceback" not in refused
    problems = refused.splitlines()[1:]
    expected = [
        "line 3: password_hash: argon2i, not argon2id",
        "line 4: password_hash: argon2d, not argon2id",
        "line 5: password_hash: a bcrypt hash, not argon2id",
        "line 6: password_hash: not an argon2id hash",
        "line 7: password_hash: m=8192,t=2,p=1 is below OWASP's minimum for argon2id",
        "line 8: password_hash: an argon2id version other than 19",
        "line 9: password_hash: not an argon2id hash",
        "line 10: password_hash: its salt or hash is not unpadded base64",
        "line 11: a password and a password_hash: give one or the other",
        "line 12: no password and no password_hash: give one",
        "line 13: password_hash: cut at its first comma; put it in double quotes",
    ]
    assert len(problems) == len(expected), refused
    for problem, start in zip(problems, expected, strict=True):
        assert problem.strip().startswith(start), problem
    assert agents(db, "export").stdout == before
    assert (
        "line 2: password: at least 8 characters"
        in agents(db, "hash", stdin="long enough\nshort\n", status=2).stderr
    )


def test_an_agent_added_while_the_proxy_runs_gets_calls_within_seconds(tmp_path: Path) -> None:
    """`agents add` (its own process, the same database) against a running proxy: a call to the
    new agent's extension rings their page within seconds, with no restart."""
    db = tmp_path / "roster.db"
    agents(db, "add", "alex@acme.example", "--name", "Alex", "--extension", "1001",
           "--password-stdin", stdin="alex password\n")  # fmt: skip
    with running_proxy(tmp_path, database_url=f"sqlite+aiosqlite:///{db}", demo=False) as proxy:
        # Signing in as the extension keeps this about the roster reaching the link (an
        # address that is not the extension is the identity tests' subject).
        agents(db, "add", "2201", "--name", "Maria", "--extension", "2201",
               "--password-stdin", stdin="correct horse\n")  # fmt: skip
        token = proxy.sign_in("2201", "correct horse")

        async def rings() -> dict[str, Any]:
            async with proxy.connect(token) as ws:
                await next_message(ws)  # the welcome
                async with httpx.AsyncClient(base_url=proxy.base_url) as client:
                    for _ in range(100):  # the simulator learns the phone with the roster
                        body = {"agent": "2201", "ani": "6505550100"}
                        placed = await client.post("/sim/calls", json=body)
                        if placed.status_code == 201:
                            break
                        await asyncio.sleep(0.1)
                    assert placed.status_code == 201, placed.text
                while True:
                    message = await next_message(ws, timeout=10)
                    if message.get("type") == "call":
                        return message["call"]  # type: ignore[no-any-return]

        call = asyncio.run(rings())
    assert call["state"] == "ringing" and "6505550100" in json.dumps(call)
