"""Commands from pages: checked against the agent's own calls and state, then sent to the PBX.

Every command leaves through `send`, the one place an agent's key and the proxy's call id
become the PBX's device and call id.
"""

from __future__ import annotations

from dataclasses import replace

from proxy.agents.journal import CallJournal
from proxy.agents.states import AgentStates
from proxy.agents.views import AgentViews
from proxy.links import CtiLink, LinkCommand
from softphone.agents import check_agent_command
from softphone.dialing import DialingOptions, dial_string
from softphone.identities import Identities
from softphone.messages.from_page import (
    AcdGroup,
    CallCommand,
    CancelWork,
    Dial,
    Dtmf,
    NumberCommand,
    Presence,
    SetState,
)

AgentCommand = (
    CallCommand | NumberCommand | Dial | Dtmf | SetState | AcdGroup | CancelWork | Presence
)


class Commands:
    def __init__(
        self,
        link: CtiLink,
        identities: Identities,
        states: AgentStates,
        views: AgentViews,
        journal: CallJournal,
        *,
        dialing: DialingOptions,
        reason_codes: tuple[str, ...] = (),
    ) -> None:
        self.link = link
        self.identities = identities
        self.states = states
        self.views = views
        self.journal = journal
        self.dialing = dialing
        self.reason_codes = reason_codes

    async def command(self, agent: str, message: AgentCommand) -> str:
        """Check `message` against the agent's own calls and state, then ask the PBX.

        Returns the new call's id for dial and consult. Raises `CommandRefused` (the core's
        reason) or `LinkError` (the PBX's).
        """
        # What the link cannot do is refused first, whatever the call's or agent's state.
        self.link.capabilities.require(message.type, getattr(message, "state", ""))
        machine = self.states.machine(agent)
        if isinstance(message, CallCommand):
            machine.check(message.type, message.call_id)
            command = LinkCommand(op=message.type, agent=agent, call_id=message.call_id)
        elif isinstance(message, NumberCommand):
            machine.check(message.type, message.call_id)
            number = dial_string(message.number, self.dialing)
            command = LinkCommand(
                op=message.type, agent=agent, call_id=message.call_id, number=number
            )
        elif isinstance(message, Dtmf):
            machine.check("dtmf", message.call_id, digits=message.digits)
            command = LinkCommand(
                op="dtmf", agent=agent, call_id=message.call_id, digits=message.digits
            )
        elif isinstance(message, Dial):
            machine.check_dial()
            number = dial_string(message.number, self.dialing)
            command = LinkCommand(op="dial", agent=agent, number=number)
        else:
            command = self._agent_command(agent, message)
        return await self.send(command)

    async def send(self, command: LinkCommand) -> str:
        """The one way out: the agent's device and the PBX's call id, and the new call's proxy
        id back for dial and consult (made now, so the call's first event finds it)."""
        device, pbx_id = self.identities.outbound(command.agent, command.call_id)
        new_call = await self.link.send(replace(command, agent=device, call_id=pbx_id))
        return self.identities.call_id(device, new_call) if new_call else ""

    def _agent_command(
        self, agent: str, message: SetState | AcdGroup | CancelWork | Presence
    ) -> LinkCommand:
        kind = self.states.profile(agent).kind
        status = self.states.status(agent)
        if isinstance(message, SetState):
            check_agent_command(
                kind,
                status,
                "set_state",
                state=message.state,
                reason=message.reason,
                reason_codes=self.reason_codes,
            )
            return LinkCommand(
                op="set_state", agent=agent, state=message.state, reason=message.reason
            )
        if isinstance(message, AcdGroup):
            check_agent_command(kind, status, message.type, group=message.group)
            return LinkCommand(op=message.type, agent=agent, group=message.group)
        if isinstance(message, Presence):
            check_agent_command(kind, status, message.type)
            return LinkCommand(op=message.type, agent=agent, number=message.extension)
        check_agent_command(kind, status, "cancel_work")
        self.journal.check_cancel_work(agent)
        return LinkCommand(op="cancel_work", agent=agent)

    async def popped(self, agent: str, call_id: str) -> None:
        """The agent's page opened the call's pop: no other page opens it again."""
        call = self.states.machine(agent).mark_popped(call_id)
        if call is not None:
            await self.views.publish_call(call)
