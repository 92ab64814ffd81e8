"""`softphone-proxy agents`: the roster an admin keeps, used by the running proxy's sign-in."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

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
