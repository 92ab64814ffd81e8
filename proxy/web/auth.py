"""Agent sign-in: argon2 password hashes and opaque session tokens (stored hashed)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from proxy.store import AgentRecord, Store

_hasher = PasswordHasher()
# Verified against when the address is unknown, so a wrong address costs the same time as a
# wrong password and sign-in timing does not reveal who is on the roster.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignInFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Authenticator:
    def __init__(
        self, store: Store, session_hours: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.session_seconds = session_hours * 3600
        self.clock = clock

    async def sign_in(self, address: str, password: str) -> tuple[str, AgentRecord]:
        """A new session token, or `SignInFailed` that never says which part was wrong."""
        agent = await self.store.get_agent(address.strip())
        stored = agent.password_hash if agent is not None else _DUMMY_HASH
        # argon2 is deliberately slow: keep it off the event loop.
        ok = await asyncio.to_thread(_verify, stored, password)
        if agent is None or not ok:
            raise SignInFailed("wrong_credentials", "Wrong sign-in address or password")
        token = secrets.token_urlsafe(32)
        await self.store.create_session(
            _token_hash(token), agent.address, self.clock() + self.session_seconds
        )
        return token, agent

    async def agent_for(self, token: str) -> AgentRecord | None:
        if not token or len(token) > 128:
            return None
        address = await self.store.session_agent(_token_hash(token), self.clock())
        return None if address is None else await self.store.get_agent(address)

    async def sign_out(self, token: str) -> None:
        await self.store.delete_session(_token_hash(token))
