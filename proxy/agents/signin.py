"""Signing an agent in, whichever way they prove who they are: the rules after the proof.

A password sign-in (`password`) is checked by the `Authenticator` (lockout); a Salesforce single
sign-on (`salesforce_user`) finds the roster agent with that Salesforce user id. Either way the
same rules follow: seats are limited, and a hot-desk agent is seated at the phone they are at,
one they name, else the one they already hold (another tab, or before a restart); one who names
none and holds none is asked which (`ExtensionRequired`), before any session exists. A session
ends with `sign_out`, and a hot-desk agent's phone is free once their last session has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from proxy.agents.auth import Authenticator, SignInFailed
from proxy.errors import LinkError
from proxy.store import AgentRecord, Store
from softphone.errors import CommandRefused


@dataclass(frozen=True)
class SignedIn:
    token: str
    agent: AgentRecord
    extension: str  # the phone they are at today


class ExtensionRequired(SignInFailed):
    """A hot-desk agent named no phone and holds none: the page asks them for one."""

    def __init__(self, default_extension: str) -> None:
        super().__init__("extension_required", "Enter the extension of the phone you are at")
        self.default_extension = default_extension


class NoAgent(SignInFailed):
    """A Salesforce user with no roster agent."""

    def __init__(self, who: str) -> None:
        super().__init__(
            "no_agent",
            f"The Salesforce user {who} has no softphone agent. "
            "Ask your administrator to add your Salesforce user id to the roster.",
        )


class Seats(Protocol):
    """Hot-desk seats: the seating in this process, or (in a cluster) the link holder's."""

    async def seated(self, address: str) -> str:
        """The phone the agent sits at now ("" for none)."""
        ...

    async def sit(self, address: str, extension: str) -> str: ...

    async def free_seats(self) -> None:
        """Free the seats whose agent has no session left."""
        ...


class SignIns:
    def __init__(self, auth: Authenticator, seats: Seats, store: Store) -> None:
        self.auth = auth
        self.seats = seats
        self.store = store

    async def password(self, address: str, password: str, extension: str = "") -> SignedIn:
        """A new session, or `SignInFailed` (`ExtensionRequired` among them), `CommandRefused`
        (the phone may not be taken) or `LinkError` (the PBX would not log it in); on any of
        them no session is left behind."""
        agent = await self.auth.check_password(address, password)
        return await self._open(agent, extension)

    async def salesforce_user(self, user_id: str, name: str = "", extension: str = "") -> SignedIn:
        """A session for the roster agent Salesforce says signed in, or `SignInFailed`
        (`NoAgent` when the roster has nobody with that Salesforce user id), seated as a
        password sign-in is."""
        agent = await self._agent_for_user(user_id)
        if agent is None:
            raise NoAgent(name or user_id)
        return await self._open(agent, extension)

    async def sign_out(self, token: str) -> None:
        """The session ends; a hot-desk agent's phone is free once their last session has."""
        agent = await self.auth.agent_for(token)
        await self.auth.sign_out(token)
        if agent is not None and agent.kind == "hot_desk":
            await self.seats.free_seats()

    async def _open(self, agent: AgentRecord, extension: str) -> SignedIn:
        wanted = extension.strip()
        hot_desk = agent.kind == "hot_desk"
        seated = await self.seats.seated(agent.address) if hot_desk else ""
        if hot_desk and not wanted and not seated:
            raise ExtensionRequired(agent.extension)
        token = await self.auth.sign_in_as(agent)
        if not (hot_desk or wanted):  # a desk agent naming a phone is refused: not_hot_desk
            return SignedIn(token, agent, agent.extension)
        try:
            device = await self.seats.sit(agent.address, wanted or seated)
        except (CommandRefused, LinkError):
            # Signed in but not seated is no sign-in: the session just made goes again.
            await self.auth.sign_out(token)
            raise
        return SignedIn(token, agent, device)

    async def _agent_for_user(self, user_id: str) -> AgentRecord | None:
        if not user_id:
            return None
        for agent in await self.store.list_agents():
            if _same_user(agent.salesforce_user_id, user_id):
                return agent
        return None


def _same_user(a: str, b: str) -> bool:
    """Salesforce ids come in 15 (case-sensitive) and 18 characters; the first 15 decide."""
    return len(a) >= 15 and len(b) >= 15 and a[:15] == b[:15]
