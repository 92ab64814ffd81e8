"""Signing in and out, whatever proved who the agent is (a password or Salesforce): one
session, and for a hot-desk agent the phone they sit at. The web handlers only turn
`SignInRefused` into HTTP answers.
"""

from __future__ import annotations

from proxy.errors import LinkError
from proxy.store import AgentRecord
from proxy.switchboard import Switchboard
from proxy.web.auth import Authenticator, SignInFailed
from softphone.errors import CommandRefused
from softphone.messages import AgentView


class SignInRefused(Exception):
    """Why a sign-in did not finish, with no session left behind.

    `code`: wrong_credentials, locked_out (`retry_after` seconds), seats_full;
    extension_required (`default_extension`: the roster's phone, to offer), extension_taken,
    bad_extension, not_hot_desk; or, with `pbx` set, the PBX's refusal to log the phone in.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: int = 0,
        default_extension: str = "",
        pbx: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.default_extension = default_extension
        self.pbx = pbx


async def sign_in(
    auth: Authenticator, board: Switchboard, address: str, password: str, extension: str = ""
) -> tuple[str, AgentView]:
    """A password sign-in: the session token and the agent as their page shows them."""
    try:
        agent = await auth.check_password(address, password)
    except SignInFailed as exc:
        raise SignInRefused(exc.code, exc.message, retry_after=exc.retry_after) from None
    return await open_session(auth, board, agent, extension)


async def open_session(
    auth: Authenticator, board: Switchboard, agent: AgentRecord, extension: str = ""
) -> tuple[str, AgentView]:
    """A session for an agent whose identity is proven, seated first if they are hot-desk:
    at `extension`, else at the phone they already hold (another tab, or before a restart).
    A hot-desk agent who names none and holds none is asked which (`extension_required`)."""
    wanted = extension.strip()
    held = board.identities.device_of(agent.address) if agent.kind == "hot_desk" else ""
    if agent.kind == "hot_desk" and not wanted and not held:
        raise SignInRefused(
            "extension_required",
            "Enter the extension of the phone you are at",
            default_extension=agent.extension,
        )
    try:
        token = await auth.sign_in_as(agent)
    except SignInFailed as exc:
        raise SignInRefused(exc.code, exc.message, retry_after=exc.retry_after) from None
    device = agent.extension
    if agent.kind == "hot_desk" or wanted:  # a desk agent naming one is refused: not_hot_desk
        try:
            device = await board.sit(agent.address, wanted or held)
        except (CommandRefused, LinkError) as exc:
            # Signed in but not seated is no sign-in: the session just made goes again.
            await auth.sign_out(token)
            if isinstance(exc, LinkError):
                raise SignInRefused(exc.code, str(exc), pbx=True) from None
            raise SignInRefused(exc.code, exc.message) from None
    return token, AgentView(address=agent.address, name=agent.name, extension=device)


async def sign_out(auth: Authenticator, board: Switchboard, token: str) -> None:
    """The session ends; a hot-desk agent's phone is free once their last session has."""
    agent = await auth.agent_for(token)
    await auth.sign_out(token)
    if agent is not None and agent.kind == "hot_desk":
        await board.free_seats()
