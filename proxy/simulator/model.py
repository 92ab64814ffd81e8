"""The simulator's data: agents, call legs, and the error the simulated PBX answers with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from proxy.errors import ProxyError
from softphone.events import AgentState, CallState, Direction, Party


class SimError(ProxyError):
    """The PBX refuses: `code` for programs, `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SimAgent:
    address: str
    state: AgentState = AgentState.READY
    reason: str = ""
    groups: set[str] = field(default_factory=set)
    work_until: float = 0.0


@dataclass
class SimLeg:
    """A call at one agent's device."""

    call_id: str
    agent: str
    direction: Direction
    state: CallState
    global_id: str
    far: str  # the number at the other end: the caller, or who the agent dialled
    ani: str = ""
    dnis: str = ""
    ivr: tuple[str, ...] = ()
    queue: str = ""
    digits: str = ""  # collected by the IVR without a tag
    consult_of: str = ""
    parties: list[Party] = field(default_factory=list)
    peer: str = ""  # the other agent's leg, for calls between agents
    acd: bool = False
    dtmf: str = ""
    rang_at: float = field(default_factory=time.perf_counter)
