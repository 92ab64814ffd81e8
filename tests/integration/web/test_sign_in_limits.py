"""Sign-in limits: lockout after repeated wrong passwords, the integration seat limit, and a
plain "busy" when sign-ins or socket openings come faster than the proxy can take them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from websockets.exceptions import ConnectionClosed

from tests.harness import RunningProxy, next_message, running_proxy


def sign_in(base_url: str, address: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/v1/sessions", json={"address": address, "password": password}
    )


def test_five_wrong_passwords_lock_the_address_for_fifteen_minutes(tmp_path: Path) -> None:
    """The fifth wrong password locks 1001 out, even with the right one, and says for how long."""
    with running_proxy(tmp_path) as proxy:
        for _ in range(4):
            assert sign_in(proxy.base_url, "1001", "guess").status_code == 401
        locked = sign_in(proxy.base_url, "1001", "guess")
        assert locked.status_code == 429
        assert locked.json()["detail"] == {
            "code": "locked_out",
            "message": "Too many wrong passwords: signing in is locked for 15 minutes",
        }
        assert 850 < int(locked.headers["retry-after"]) <= 900
        right = sign_in(proxy.base_url, "1001", "demo")
        assert right.status_code == 429 and "token" not in right.text
        assert sign_in(proxy.base_url, "1002", "demo").status_code == 201  # others unaffected


def test_unknown_addresses_lock_the_same_way(tmp_path: Path) -> None:
    """Probing a made-up address ends in the same lockout, so it reveals nothing."""
    with running_proxy(tmp_path, lockout_attempts=3) as proxy:
        codes = [sign_in(proxy.base_url, "nobody", "x").status_code for _ in range(4)]
        assert codes == [401, 401, 429, 429]


def test_a_right_password_resets_the_count(tmp_path: Path) -> None:
    """Wrong passwords spread between successful sign-ins never add up to a lockout."""
    with running_proxy(tmp_path, lockout_attempts=3) as proxy:
        for _ in range(3):
            assert sign_in(proxy.base_url, "1001", "oops").status_code == 401
            assert sign_in(proxy.base_url, "1001", "demo").status_code == 201


def test_the_seat_limit_refuses_one_agent_too_many(tmp_path: Path) -> None:
    """With two seats, a third agent is told seats are full; a seated agent signs in again."""
    with running_proxy(tmp_path, max_agents=2) as proxy:
        assert sign_in(proxy.base_url, "1001", "demo").status_code == 201
        assert sign_in(proxy.base_url, "1002", "demo").status_code == 201
        third = sign_in(proxy.base_url, "1003", "demo")
        assert third.status_code == 403
        assert third.json()["detail"]["code"] == "seats_full"
        assert "2 softphone seats are in use" in third.json()["detail"]["message"]
        second_tab = sign_in(proxy.base_url, "1001", "demo")
        assert second_tab.status_code == 201
        token = second_tab.json()["token"]
        httpx.delete(
            f"{proxy.base_url}/api/v1/sessions", headers={"authorization": f"Bearer {token}"}
        )
        # 1001 still has the first session: the seat stays taken until both end.
        assert sign_in(proxy.base_url, "1003", "demo").status_code == 403


def test_an_old_hash_is_redone_at_sign_in(tmp_path: Path) -> None:
    """A hash under the library's old defaults still signs in, and is stored again at 7 MiB,
    5 passes, 1 lane."""
    with running_proxy(tmp_path) as proxy:
        store = proxy.services.store
        agent = proxy.run(store.get_agent("1001"))
        assert agent is not None
        old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("demo")
        proxy.run(store.put_agent(replace(agent, password_hash=old)))
        assert sign_in(proxy.base_url, "1001", "demo").status_code == 201
        stored = proxy.run(store.get_agent("1001"))
        assert stored is not None and "$m=7168,t=5,p=1$" in stored.password_hash
        assert sign_in(proxy.base_url, "1001", "demo").status_code == 201


def _occupy(proxy: RunningProxy, gate: threading.Event) -> asyncio.Future[bool]:
    """Hold the proxy's only hash thread on `gate`."""

    async def submit() -> asyncio.Future[bool]:
        held = proxy.services.auth.hashes.submit(gate.wait)
        assert held is not None
        return held

    return proxy.run(submit())


def test_a_full_hash_queue_says_busy_and_when_to_retry(tmp_path: Path) -> None:
    """With the one hash thread taken and no room to wait, a sign-in gets 503 busy with
    Retry-After, and succeeds once the thread is free."""
    with running_proxy(tmp_path, hash_workers=1, sign_ins_waiting=0) as proxy:
        gate = threading.Event()
        try:
            held = _occupy(proxy, gate)
            busy = sign_in(proxy.base_url, "1001", "demo")
        finally:
            gate.set()
        assert busy.status_code == 503 and busy.headers["retry-after"] == "3"
        assert busy.json()["detail"]["code"] == "busy"

        async def freed() -> bool:
            return await held

        assert proxy.run(freed())
        assert sign_in(proxy.base_url, "1001", "demo").status_code == 201


def test_a_full_openings_queue_tells_the_socket_busy_and_when_to_retry(tmp_path: Path) -> None:
    """With every opening place taken, a page's socket is told "busy" with the time to wait
    (never a dropped connection), and opens once a place is free."""
    with running_proxy(tmp_path, openings_at_once=1, openings_waiting=0) as proxy:
        token = proxy.sign_in("1001")
        release = threading.Event()
        held = _hold_opening(proxy, release)

        async def refused() -> tuple[dict[str, Any], int | None, str]:
            async with proxy.connect(token) as ws:
                error = await next_message(ws)
                with contextlib.suppress(ConnectionClosed):
                    await ws.recv()
                return error, ws.close_code, ws.close_reason or ""

        error, code, reason = asyncio.run(refused())
        assert error["type"] == "error" and error["code"] == "busy"
        assert "reconnecting in 3 seconds" in error["message"]
        assert code == 1013 and reason == "busy; retry after 3"

        release.set()
        held.result(5)

        async def welcomed() -> str:
            async with proxy.connect(token) as ws:
                return str((await next_message(ws))["type"])

        assert asyncio.run(welcomed()) == "welcome"


def _hold_opening(proxy: RunningProxy, release: threading.Event) -> Future[None]:
    """Take the proxy's one opening place until `release` is set (done when given back)."""
    entered = threading.Event()

    async def hold() -> None:
        async with proxy.services.openings.enter():
            entered.set()
            await asyncio.to_thread(release.wait)

    future = asyncio.run_coroutine_threadsafe(hold(), proxy.loop)
    assert entered.wait(5)
    return future
