"""What a CTI link reports about a call, in the proxy's own words, whatever the PBX."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class CallState(StrEnum):
    RINGING = "ringing"
    ACTIVE = "active"
    CLEARED = "cleared"


EventKind = Literal["delivered", "established", "cleared"]


class CallEvent(BaseModel):
    """One change to one call at one agent's device, as reported by the PBX."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    call_id: str = Field(min_length=1, max_length=64)
    agent: str = Field(min_length=1, max_length=32)
    device: str = ""
    direction: Direction = Direction.INBOUND
    ani: str = Field(default="", max_length=32)
    dnis: str = Field(default="", max_length=32)
    ivr: tuple[str, ...] = Field(default=(), max_length=16)
    digits: str = Field(default="", max_length=32)
    queue: str = Field(default="", max_length=64)
