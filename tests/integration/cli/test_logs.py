"""Operations logs: JSON lines with the call id lifted out, numbers masked, secrets redacted."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pydantic import SecretStr

from proxy.logs import JsonFormatter, RedactSecrets, secrets_of
from proxy.settings import Settings
from tests.integration.flows.test_crash import free_port


def test_a_call_in_json_logs_carries_its_id_and_a_masked_number(tmp_path: Path) -> None:
    """`SOFTPHONE_LOG_FORMAT=json`: one JSON object per line; the call's lines name it."""
    port = free_port()
    log = tmp_path / "proxy.log"
    env = {
        **os.environ,
        "SOFTPHONE_LOG_FORMAT": "json",
        "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/logs.db",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proxy.cli", "demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        call_id = ""
        while not call_id:
            try:
                ring = httpx.post(
                    f"{base}/sim/calls", json={"agent": "1002", "ani": "+16504508811"}
                )
                if ring.status_code == 201 and httpx.get(f"{base}/sim/calls").json():
                    call_id = ring.json()["call_id"]
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "demo did not start"
            time.sleep(0.1)
        httpx.post(f"{base}/sim/calls/{call_id}/hangup")
        for _ in range(100):
            lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
            # The switchboard names the call by the proxy's id and by the PBX's (the simulator's).
            mine = [x for x in lines if call_id in (x.get("call_id"), x.get("pbx_call_id"))]
            if len(mine) >= 2:
                break
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(10)
    assert {x["agent"] for x in mine if "agent" in x} == {"1002"}
    assert all(set(x) >= {"ts", "level", "logger", "message"} for x in lines)
    text = log.read_text()
    assert "6504508811" not in text  # masked at INFO
    assert any(x.get("ani", "").endswith("8811") for x in mine)


def test_secrets_are_redacted_from_any_log_line() -> None:
    """A secret in a message or its arguments comes out as ***, whoever logged it."""
    settings = Settings(
        salesforce_consumer_secret=SecretStr("consumer-secret-123"),
        salesforce_password=SecretStr("hunter2hunter2"),
        cti_url="ami://manager:ami-pass-987@pbx.example.com:5038",
        database_url="postgresql+asyncpg://softphone:db-pass-654@db.example.com/softphone",
    )
    redact = RedactSecrets(secrets_of(settings))
    record = logging.LogRecord(
        "proxy.x",
        logging.ERROR,
        __file__,
        1,
        "login %s with %s failed: %s",
        (
            "manager",
            "hunter2hunter2",
            "body=consumer-secret-123&pw=ami-pass-987",
        ),
        None,
    )
    assert redact.filter(record)
    line = JsonFormatter().format(record)
    for secret in ("consumer-secret-123", "hunter2hunter2", "ami-pass-987"):
        assert secret not in line
    assert json.loads(line)["message"] == "login manager with *** failed: body=***&pw=***"
    assert redact.redact("connect failed: db-pass-654 refused") == "connect failed: *** refused"
