"""The bridge protocol (version 2): JSON over WebSocket between a PBX-side bridge and the proxy.

The bridge (the built-in simulator, or a bridge beside a PBX such as AltiGen MaxACD) is the
server; the proxy connects as the client. docs/bridge-protocol.md describes every message and
flow; this module and that document agree.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from softphone.commands import CommandOp
from softphone.errors import ProtocolError
from softphone.events import AgentEvent, CallEvent

BRIDGE_VERSION = 2
HEARTBEAT_SECONDS = 1.0
_T = TypeVar("_T")


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- bridge -> proxy -----------------------------------------------------------------------
class BridgeHello(_Frame):
    type: Literal["hello"]
    v: int
    pbx: str = ""


class BridgeEvent(_Frame):
    type: Literal["event"]
    event: CallEvent


class BridgeAgent(_Frame):
    type: Literal["agent"]
    agent: AgentEvent


class BridgeSnapshot(_Frame):
    """Every call and agent state the bridge has now, answering `get_snapshot`."""

    type: Literal["snapshot"]
    req_id: int
    calls: tuple[CallEvent, ...] = Field(default=(), max_length=100_000)
    agents: tuple[AgentEvent, ...] = Field(default=(), max_length=100_000)


class BridgeResult(_Frame):
    type: Literal["result"]
    req_id: int
    ok: bool
    code: str = ""
    message: str = ""
    call_id: str = ""  # the new call, for dial and consult


class Heartbeat(_Frame):
    type: Literal["heartbeat"]
    ts: float = 0.0


class BridgeError(_Frame):
    type: Literal["error"]
    code: str
    message: str


# --- proxy -> bridge -----------------------------------------------------------------------
class Monitor(_Frame):
    """Ask for the events of these agents' devices (all agents when `agents` is empty)."""

    type: Literal["monitor"]
    req_id: int
    agents: tuple[str, ...] = ()


class GetSnapshot(_Frame):
    type: Literal["get_snapshot"]
    req_id: int


class Command(_Frame):
    """Act on a call or an agent; fields beyond `op` and `agent` as the op needs them."""

    type: Literal["command"]
    req_id: int
    op: CommandOp
    agent: str = Field(min_length=1, max_length=32)
    call_id: str = Field(default="", max_length=64)
    number: str = Field(default="", max_length=32)  # dial, consult, transfer, redirect
    digits: str = Field(default="", max_length=32)  # dtmf
    state: str = Field(default="", max_length=16)  # set_state: ready, busy, dnd
    reason: str = Field(default="", max_length=32)  # set_state busy: the reason code
    group: str = Field(default="", max_length=32)  # acd_login, acd_logout


FromBridge = Annotated[
    BridgeHello
    | BridgeEvent
    | BridgeAgent
    | BridgeSnapshot
    | BridgeResult
    | Heartbeat
    | BridgeError,
    Field(discriminator="type"),
]
ToBridge = Annotated[Monitor | GetSnapshot | Command | Heartbeat, Field(discriminator="type")]
_from_bridge: TypeAdapter[FromBridge] = TypeAdapter(FromBridge)
_to_bridge: TypeAdapter[ToBridge] = TypeAdapter(ToBridge)


def _parse(adapter: TypeAdapter[_T], raw: str | bytes) -> _T:
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ProtocolError(f"bad bridge frame: {first['msg']} at {first['loc']}") from None


def parse_from_bridge(raw: str | bytes) -> FromBridge:
    """A frame the proxy received from a bridge."""
    return _parse(_from_bridge, raw)


def parse_to_bridge(raw: str | bytes) -> ToBridge:
    """A frame a bridge received from the proxy."""
    return _parse(_to_bridge, raw)
