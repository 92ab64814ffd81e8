"""What each proxy command becomes in Asterisk Manager actions (no I/O).

Asterisk has no "answer this phone" or "hold this call" action: the phone does those. With
`phone_control=notify` (the default) the link asks a PJSIP phone to do it by SIP NOTIFY inside the
call's dialog (`Event: talk` answers or resumes, `Event: hold` holds), which phones with remote
control enabled (Yealink, Snom, Fanvil and others) obey; with `none` they are `not_supported`.

consult is `Atxfer` on the agent's channel: Asterisk's own attended transfer puts the caller on
hold and dials the number. complete_transfer hangs the agent's channel up, which is how an
attended transfer completes in Asterisk (the transferer leaves, the other two are joined);
cancelling the consultation (retrieve, or hang up the consultation) presses the `atxferabort`
feature code on the agent's behalf. Conference (three-way from an attended transfer), cancel_work
and device login/logout have no manager action and are `not_supported`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from proxy.errors import LinkCommandFailed
from proxy.links.ami.calls import AmiCalls
from proxy.links.ami.protocol import AmiOptions
from proxy.links.base import LinkCommand
from softphone.capabilities import LinkCapabilities

ATXFER_ABORT = "*1"  # features.conf atxferabort, Asterisk's default


@dataclass
class Plan:
    """Actions to send in order; `call_id` is what `send()` returns (dial, consult)."""

    actions: list[dict[str, str]] = field(default_factory=list)
    call_id: str = ""
    consult_of: str = ""  # consult: the call going on consultation hold
    ends_consult: str = ""  # the call whose consultation these actions cancel


def capabilities(options: AmiOptions) -> LinkCapabilities:
    """What `plan` can do: no conference, DND, work timer or phone login through the manager;
    answer and hold only by NOTIFY to the phone; and no hold recall, since Asterisk plays music
    on hold until the phone retrieves the call."""
    by_phone = options.phone_control == "notify"
    return LinkCapabilities(
        answer=by_phone,
        hold=by_phone,
        conference=False,
        dnd=False,
        cancel_work=False,
        phone_login=False,
        hold_recall=False,
    )


def plan(command: LinkCommand, calls: AmiCalls) -> Plan:
    """The actions for `command`; `LinkCommandFailed` when Asterisk cannot do it."""
    channel = calls.channel_of(command.call_id)
    for planner in (_on_call, _to_number, _for_agent):
        found = planner(command, calls, channel)
        if found is not None:
            return found
    what = f"{command.op} {command.state}".strip()
    raise LinkCommandFailed("not_supported", f"Asterisk cannot {what} through the manager")


def _on_call(command: LinkCommand, calls: AmiCalls, channel: str) -> Plan | None:
    """What the agent does to a call they are on (None: not such a command)."""
    op = command.op
    if op in ("answer", "hold", "retrieve"):
        leg = calls.legs.get(command.call_id)
        if op == "retrieve" and leg is not None and leg.consult:
            return _digits(channel, ATXFER_ABORT, ends_consult=leg.uid)
        return Plan([_notify(channel, "hold" if op == "hold" else "talk", command, calls)])
    if op == "hangup":
        base = calls.consult_base(command.call_id)
        if base is not None:  # hanging up a consultation: abort the attended transfer
            return _digits(base.channel, ATXFER_ABORT, ends_consult=base.uid)
        return Plan([{"Action": "Hangup", "Channel": channel}])
    if op == "complete_transfer":
        return Plan([{"Action": "Hangup", "Channel": channel}])
    if op == "redirect":
        leg = calls.legs.get(command.call_id)
        if leg is None or not leg.peer:
            raise LinkCommandFailed("no_such_call", "The caller of that call is not known")
        return Plan(
            [_goto("Redirect", leg.peer, command.number, calls.options.context, Priority="1")]
        )
    return None


def _to_number(command: LinkCommand, calls: AmiCalls, channel: str) -> Plan | None:
    """A number dialled: a new call, a consultation, a transfer, or digits on the call."""
    op, context = command.op, calls.options.context
    if op == "transfer":
        return Plan([_goto("BlindTransfer", channel, command.number, context)])
    if op == "consult":
        consult_id = f"consult-{command.call_id}"[:64]
        return Plan(
            [_goto("Atxfer", channel, command.number, context)],
            call_id=consult_id,
            consult_of=command.call_id,
        )
    if op == "dtmf":
        return _digits(channel, command.digits)
    if op == "dial":
        # Choosing the new channel's Uniqueid ourselves gives the call id before it exists.
        channel_id = f"sp-{uuid.uuid4().hex}"
        action = _goto("Originate", calls.device_of(command.agent), command.number, context)
        action |= {"Priority": "1", "Async": "true", "ChannelId": channel_id, "Timeout": "30000"}
        return Plan([action], call_id=channel_id)
    return None


def _for_agent(command: LinkCommand, calls: AmiCalls, channel: str) -> Plan | None:
    """The agent's queue state: paused (busy) or not, and which queues they are in."""
    op = command.op
    if op == "set_state" and command.state in ("ready", "busy"):
        action = {"Action": "QueuePause", "Interface": calls.device_of(command.agent)}
        action["Paused"] = "true" if command.state == "busy" else "false"
        if command.state == "busy" and command.reason:
            action["Reason"] = command.reason
        return Plan([action])
    if op in ("acd_login", "acd_logout"):
        if not command.group:
            raise LinkCommandFailed("invalid_request", "Name the queue to join or leave")
        name = "QueueAdd" if op == "acd_login" else "QueueRemove"
        action = {
            "Action": name,
            "Queue": command.group,
            "Interface": calls.device_of(command.agent),
        }
        if op == "acd_login":
            action["MemberName"] = command.agent
        return Plan([action])
    return None


def _goto(action: str, channel: str, number: str, context: str, **extra: str) -> dict[str, str]:
    if not number:
        raise LinkCommandFailed("invalid_request", f"{action} needs a number")
    return {"Action": action, "Channel": channel, "Exten": number, "Context": context, **extra}


def _digits(channel: str, digits: str, ends_consult: str = "") -> Plan:
    # One digit per PlayDTMF; Receive makes it as if the agent pressed it, so it crosses the
    # bridge to the far end (and reaches feature codes), rather than being played at the phone.
    return Plan(
        [
            {"Action": "PlayDTMF", "Channel": channel, "Digit": digit, "Receive": "true"}
            for digit in digits
        ],
        ends_consult=ends_consult,
    )


def _notify(channel: str, event: str, command: LinkCommand, calls: AmiCalls) -> dict[str, str]:
    device = calls.device_of(command.agent)
    if calls.options.phone_control != "notify" or not device.upper().startswith("PJSIP/"):
        raise LinkCommandFailed(
            "not_supported", f"Asterisk cannot {command.op} from here: use the phone"
        )
    return {"Action": "PJSIPNotify", "Channel": channel, "Variable": f"Event={event}"}
