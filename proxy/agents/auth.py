"""Agent sign-in: argon2 password hashes and opaque session tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable

from argon2.exceptions import InvalidHashError, VerificationError

from proxy.agents.hashing import HASHER, HashPool
from proxy.agents.hashing import hash_password as hash_password  # where callers find it
from proxy.errors import ProxyError
from proxy.store import AgentRecord, Store

# `__Host-`: the browser keeps it only if Secure, for path / and this host alone.
SESSION_COOKIE = "__Host-softphone-session"
# Verified against when the address is unknown, so a wrong address costs the same time as a
# wrong password and sign-in timing does not reveal who is on the roster.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


# How long a sign-in refused as busy waits: a full queue (64 waiting) of ~50 ms hashes drains
# in about 3 s on one worker thread.
BUSY_RETRY_SECONDS = 3


class SignInFailed(ProxyError):
    """Why a sign-in was refused: wrong_credentials, locked_out (with `retry_after` seconds),
    seats_full or busy (the password checks' queue is full; also with `retry_after`)."""

    def __init__(self, code: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Authenticator:
    def __init__(
        self,
        store: Store,
        session_hours: float,
        clock: Callable[[], float] = time.time,
        *,
        max_agents: int = 0,
        lockout_attempts: int = 5,
        lockout_minutes: float = 15.0,
        hash_workers: int = 0,
        sign_ins_waiting: int = 64,
    ) -> None:
        self.store = store
        self.session_seconds = session_hours * 3600
        self.clock = clock
        self.max_agents = max_agents
        self.lockout_attempts = lockout_attempts
        self.lockout_seconds = lockout_minutes * 60
        self.hashes = HashPool(hash_workers, sign_ins_waiting)

    def close(self) -> None:
        self.hashes.close()

    def _locked(self, until: float) -> SignInFailed:
        minutes = max(1, math.ceil((until - self.clock()) / 60))
        return SignInFailed(
            "locked_out",
            f"Too many wrong passwords: signing in is locked for {minutes} minutes",
            retry_after=max(1, math.ceil(until - self.clock())),
        )

    async def check_password(self, address: str, password: str) -> AgentRecord:
        """The agent these credentials prove, or `SignInFailed` that never says which part
        was wrong. No session yet: `sign_in_as` makes it once the sign-in can finish.

        Unknown addresses are counted and locked like known ones, so the lockout does not
        reveal who is on the roster either.
        """
        address = address.strip()
        await self.check_lock(address)
        agent = await self.store.get_agent(address)
        stored = agent.password_hash if agent is not None else _DUMMY_HASH
        # argon2 is deliberately slow: off the event loop, in the pool that leaves it a core.
        checking = self.hashes.submit(lambda: _verify(stored, password))
        if checking is None:
            raise SignInFailed(
                "busy",
                f"The phone server is busy; trying again in {BUSY_RETRY_SECONDS} seconds",
                retry_after=BUSY_RETRY_SECONDS,
            )
        ok = await checking
        if agent is None or not ok:
            locked = await self.wrong_password(address)
            if locked:
                raise self._locked(locked)
            raise SignInFailed("wrong_credentials", "Wrong sign-in address or password")
        await self.right_password(address)
        if HASHER.check_needs_rehash(agent.password_hash):
            await self._rehash(agent, password)
        return agent

    async def _rehash(self, agent: AgentRecord, password: str) -> None:
        """Hash the password again under today's parameters; skipped while the pool is full
        (the next sign-in does it), as the sign-in itself has already succeeded."""
        hashing = self.hashes.submit(lambda: HASHER.hash(password))
        if hashing is not None:
            await self.store.rehashed(agent.address, agent.password_hash, await hashing)

    # --- the lockout, for agents' addresses and for any other secret (the admin password) ---
    async def check_lock(self, key: str) -> None:
        """`SignInFailed` locked_out while `key` is locked after too many wrong passwords."""
        until = await self.store.locked_until(key)
        if until > self.clock():
            raise self._locked(until)

    async def wrong_password(self, key: str) -> float:
        """Count a wrong password for `key`: when it is now locked until (0: not locked)."""
        return await self.store.sign_in_failed(
            key,
            self.clock(),
            limit=self.lockout_attempts,
            window=self.lockout_seconds,
            lock_seconds=self.lockout_seconds,
        )

    async def right_password(self, key: str) -> None:
        """The right password for `key`: its count of wrong ones starts again."""
        await self.store.sign_in_succeeded(key)

    async def sign_in_as(self, agent: AgentRecord) -> str:
        """A new session token for an agent whose identity is already proven (e.g. by
        Salesforce single sign-on); seats are limited exactly as for a password sign-in."""
        if self.max_agents:
            seated = await self.store.signed_in_agents(self.clock())
            if agent.address not in seated and len(seated) >= self.max_agents:
                raise SignInFailed(
                    "seats_full",
                    f"All {self.max_agents} softphone seats are in use; "
                    "ask your administrator to free one",
                )
        token = secrets.token_urlsafe(32)
        await self.store.create_session(
            _token_hash(token), agent.address, self.clock() + self.session_seconds
        )
        return token

    async def agent_for(self, token: str) -> AgentRecord | None:
        if not token or len(token) > 128:
            return None
        return await self.store.session_agent(_token_hash(token), self.clock())

    async def sign_out(self, token: str) -> None:
        await self.store.delete_session(_token_hash(token))
