"""The OIG requests that carry out each of the proxy's link commands, in order.

Pure mapping, no I/O: the link looks up the gateway's objectIds first and sends the steps.
"""

from __future__ import annotations

import logging

from proxy.errors import LinkCommandFailed
from proxy.links.base import LinkCommand
from proxy.links.oig.events import AgentRecord

log = logging.getLogger(__name__)

# One OIG request without its sessionId: the operation and its fields.
Step = tuple[str, list[tuple[str, str]]]
_ON_CALL = {
    "answer": "answerCall",
    "hangup": "clearCall",
    "hold": "holdCall",
    "retrieve": "retrieveCall",
    "complete_transfer": "transferCall",
    "conference": "conferenceCall",
}


def command_steps(command: LinkCommand, device: str, phone: str = "") -> list[Step]:
    """The requests for `command` at the agent's `device` (an objectId); `phone` is the
    objectId of the phone a hot-desk login takes. Agent states go to `state_steps`."""
    op = command.op
    at = ("objectId", device)
    call = ("localCallId", command.call_id)
    if op in _ON_CALL:
        return [(_ON_CALL[op], [at, call])]
    if op == "redirect":
        return [("redirectCall", [at, call, ("redirectDn", command.number)])]
    if op == "dtmf":
        return [("outPulseDigits", [at, call, ("digits", command.digits)])]
    if op == "dial":
        return [("makeCall", [at, ("number", command.number)])]
    if op == "consult":
        return [("consultationCall", [at, call, ("number", command.number)])]
    if op == "transfer":
        # No single-step transfer in StandardCCService: consult the number, then transfer.
        consult = ("consultationCall", [at, call, ("number", command.number)])
        return [consult, ("transferCall", [at, call])]
    return _agent_steps(command, at, phone)


def _agent_steps(command: LinkCommand, at: tuple[str, str], phone: str) -> list[Step]:
    op = command.op
    if op == "cancel_work":
        return [("advCancelACDWorkTimer", [at])]
    if op in ("acd_login", "acd_logout"):
        presence = "true" if op == "acd_login" else "false"
        group = [("groupDn", command.group), ("presenceValue", presence)]
        return [("advSetACDAgentPresence", [at, *group])]
    if op == "login":
        return [("advLoginACDAgent", [("objectId", phone), ("agentDn", command.agent)])]
    if op == "logout":
        return [("advLogoutACDAgent", [at])]
    raise LinkCommandFailed("not_supported", f"The OIG link cannot {op}")


def state_steps(
    command: LinkCommand, device: str, record: AgentRecord, busy_codes: dict[str, int]
) -> list[Step]:
    """The requests that put the agent at `device` in `command.state` (`record` remembers the
    make-busy reason, and says whether DND or make busy has to be switched off for ready)."""
    at = ("objectId", device)
    if command.state == "dnd":
        return [("setDeviceDND", [at, ("dndState", "true")])]
    if command.state == "busy":
        record.reason = command.reason
        code = busy_codes.get(command.reason)
        if code is None and command.reason.isdigit():
            code = int(command.reason)
        if code is None:
            log.warning(
                "make busy reason %r has no busy_codes entry: sent without a code",
                command.reason,
            )
            return [("advSetACDAgentMakeBusy", [at, ("busyState", "true")])]
        busy = [("busyState", "true"), ("busyCode", str(code))]
        return [("advSetACDAgentMakeBusyWithCode", [at, *busy])]
    if command.state == "ready":
        steps: list[tuple[str, list[tuple[str, str]]]] = []
        if record.dnd:
            steps.append(("setDeviceDND", [at, ("dndState", "false")]))
        if record.busy or not record.dnd:
            steps.append(("advSetACDAgentMakeBusy", [at, ("busyState", "false")]))
        return steps
    raise LinkCommandFailed("not_supported", f"The OIG link has no state {command.state!r}")
