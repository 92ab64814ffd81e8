"""The command vocabulary: every act the proxy may ask of a PBX, whatever link carries it.

Pages send these (checked by `softphone.calls` and `softphone.agents`), the switchboard hands
them to a link as a `LinkCommand`, and each link spells them in its own wire format; the bridge
protocol carries them by these very names.
"""

from __future__ import annotations

from typing import Literal

# What may be done to a call the agent has (checked against its state by `softphone.calls`).
CallOp = Literal[
    "answer",
    "hangup",
    "hold",
    "retrieve",
    "redirect",
    "consult",
    "transfer",
    "complete_transfer",
    "conference",
    "dtmf",
]
AgentOp = Literal["set_state", "acd_login", "acd_logout", "cancel_work", "login", "logout"]
CommandOp = CallOp | Literal["dial"] | AgentOp
