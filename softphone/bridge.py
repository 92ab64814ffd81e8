"""The bridge protocol (version 1): JSON over WebSocket between a PBX-side bridge and the proxy.

The bridge (the built-in simulator, or a bridge beside a PBX such as AltiGen MaxACD) is the
server; the proxy connects as the client. See docs/bridge-protocol.md for the message flows.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from softphone.errors import ProtocolError
from softphone.events import CallEvent

BRIDGE_VERSION = 1
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


class BridgeResult(_Frame):
    type: Literal["result"]
    req_id: int
    ok: bool
    code: str = ""
    message: str = ""


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


class Command(_Frame):
    type: Literal["command"]
    req_id: int
    op: Literal["answer", "hangup"]
    call_id: str = Field(min_length=1, max_length=64)
    agent: str = Field(min_length=1, max_length=32)


FromBridge = Annotated[
    BridgeHello | BridgeEvent | BridgeResult | Heartbeat | BridgeError, Field(discriminator="type")
]
ToBridge = Annotated[Monitor | Command | Heartbeat, Field(discriminator="type")]
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
