"""The store seam: agents and their sign-in sessions (history and the call-log outbox follow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from proxy.resource import AsyncResource

AgentKind = Literal["regular", "hot_desk", "acd"]


@dataclass(frozen=True)
class AgentRecord:
    """An agent of the roster: signs in with `address`, rings at `extension`."""

    address: str
    name: str
    extension: str
    kind: AgentKind
    password_hash: str
    # The agent's Salesforce user: records this user owns pop first when a number is shared.
    salesforce_user_id: str = ""


class Store(AsyncResource, Protocol):
    async def put_agent(self, agent: AgentRecord) -> None:
        """Add the agent, or replace the one with the same address."""
        ...

    async def get_agent(self, address: str) -> AgentRecord | None: ...

    async def list_agents(self) -> list[AgentRecord]: ...

    async def create_session(self, token_hash: str, address: str, expires_at: float) -> None: ...

    async def session_agent(self, token_hash: str, now: float) -> str | None:
        """The address of the agent an unexpired session belongs to, else None."""
        ...

    async def delete_session(self, token_hash: str) -> None: ...
