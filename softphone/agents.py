"""Agent state: ready, make busy with a reason code, do not disturb, ACD groups, work timer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from softphone.commands import AgentOp
from softphone.errors import CommandRefused
from softphone.events import AgentEvent, AgentState

AgentKind = Literal["regular", "hot_desk", "acd"]
_REASON = re.compile(r"^[0-9A-Za-z _-]{1,32}$")


@dataclass(frozen=True)
class AgentStatus:
    """One agent as the PBX last reported them; a regular user starts ready."""

    state: AgentState = AgentState.READY
    reason: str = ""
    groups: tuple[str, ...] = ()
    work_seconds: float = 0.0

    @classmethod
    def of(cls, event: AgentEvent) -> AgentStatus:
        return cls(event.state, event.reason, event.groups, event.work_seconds)


@dataclass(frozen=True)
class AgentFlags:
    """An agent as PBXs report them: separate switches (logged in, DND, make busy, wrap-up),
    each set by its own event, which `agent_event` turns into the one state a page shows."""

    # None: the PBX has not said (CSTA reports nothing for a device never logged on to ACD).
    logged_in: bool | None = True
    dnd: bool = False
    work: bool = False
    busy: bool = False
    reason: str = ""  # make busy's reason code
    groups: tuple[str, ...] = ()


def agent_event(agent: str, flags: AgentFlags) -> AgentEvent:
    """The one rule for every link: logged out first (so an agent who logged off can log in
    again from the page, DND or not), then do not disturb, wrap-up, make busy, ready.

    DND outranks an unknown login: the PBX reported it, and no login was ever reported. The
    reason travels only with make busy, the one state it explains.
    """
    if flags.logged_in is False:
        state = AgentState.LOGGED_OUT
    elif flags.dnd:
        state = AgentState.DND
    elif flags.logged_in is None:
        state = AgentState.LOGGED_OUT
    elif flags.work:
        state = AgentState.WORK
    elif flags.busy:
        state = AgentState.BUSY
    else:
        state = AgentState.READY
    reason = flags.reason[:32] if state == AgentState.BUSY else ""
    return AgentEvent(agent=agent, state=state, reason=reason, groups=flags.groups)


def check_agent_command(
    kind: AgentKind,
    status: AgentStatus,
    op: AgentOp,
    *,
    state: str = "",
    reason: str = "",
    group: str = "",
    reason_codes: tuple[str, ...] = (),
) -> None:
    """`CommandRefused`, with a reason the page can show, unless the agent may do `op` now."""
    if op == "set_state":
        _check_state(kind, status, state, reason, reason_codes)
    elif op in ("acd_login", "acd_logout"):
        _check_group(kind, status, op, group)
    elif op in ("cancel_work", "logout", "login"):
        _check_session(kind, status, op)
    else:
        raise CommandRefused("unknown_command", f"Unknown command {op!r}")


def _check_state(
    kind: AgentKind, status: AgentStatus, state: str, reason: str, reason_codes: tuple[str, ...]
) -> None:
    if state not in ("ready", "busy", "dnd"):
        raise CommandRefused("bad_state", "The state must be ready, busy or do not disturb")
    if state == "busy":
        if not reason or not _REASON.match(reason):
            raise CommandRefused("reason_required", "Choose a reason for make busy")
        if reason_codes and reason not in reason_codes:
            raise CommandRefused("bad_reason", f"{reason!r} is not one of the reason codes")
    if status.state == AgentState.LOGGED_OUT and kind != "regular":
        raise CommandRefused("logged_out", "Log in to an ACD group first")


def _check_group(kind: AgentKind, status: AgentStatus, op: AgentOp, group: str) -> None:
    if kind != "acd":
        raise CommandRefused("not_acd", "Only ACD agents log in to groups")
    if not group or not _REASON.match(group):
        raise CommandRefused("group_required", "Choose an ACD group")
    if op == "acd_login" and group in status.groups:
        raise CommandRefused("already", f"Already logged in to {group}")
    if op == "acd_logout" and group not in status.groups:
        raise CommandRefused("not_member", f"Not logged in to {group}")


def _check_session(kind: AgentKind, status: AgentStatus, op: AgentOp) -> None:
    """Work timer, log out and log in (a desk phone user is always logged in)."""
    if op == "cancel_work":
        if status.state != AgentState.WORK:
            raise CommandRefused("no_work_timer", "There is no work timer to cancel")
    elif op == "logout":
        if kind == "regular":
            raise CommandRefused("no_logout", "A desk phone user does not log out")
        if status.state == AgentState.LOGGED_OUT:
            raise CommandRefused("logged_out", "Already logged out")
    else:
        if kind == "regular":
            raise CommandRefused("no_logout", "A desk phone user is always logged in")
        if status.state != AgentState.LOGGED_OUT:
            raise CommandRefused("already", "Already logged in")
