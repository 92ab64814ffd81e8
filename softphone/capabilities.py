"""What a CTI link can do: each link declares it, the page shows only those controls, and the
switchboard refuses anything else before it reaches the PBX.

Every link dials and hangs up; everything else is a capability a PBX (or our link to it) may
lack. Asterisk's manager interface, for one, has no conference, no do not disturb, no work
timer and no phone login, and can answer or hold only by asking a PJSIP phone to do it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from softphone.errors import CommandRefused


class LinkCapabilities(BaseModel):
    """What the agent can do through this link (True: the link carries it to the PBX)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: bool = True  # answer a ringing call from the page
    hold: bool = True  # hold and retrieve
    redirect: bool = True  # send a ringing call elsewhere
    consult: bool = True  # consult, then complete the transfer
    transfer: bool = True  # blind transfer
    conference: bool = True  # join the consultation and the held call
    dtmf: bool = True  # send tones on a call
    dnd: bool = True  # do not disturb
    make_busy: bool = True  # make busy with a reason code
    acd_groups: bool = True  # log in to and out of ACD groups
    cancel_work: bool = True  # end the work timer early
    phone_login: bool = True  # log in to (and out of) a phone: hot desk, ACD
    # Not a command: the PBX rings a call held too long back to the agent, and the link
    # reports it as a recall (the page says "Hold recall" rather than "On hold").
    hold_recall: bool = True

    def require(self, op: str, state: str = "") -> None:
        """`CommandRefused` ("not_supported") when `op` (with `state`, for set_state) is
        something this link cannot do; every other op passes (the core checks the rest)."""
        needed = _NEEDS.get(op, "")
        if op == "set_state":
            needed = {"dnd": "dnd", "busy": "make_busy"}.get(state, "")
        if needed and not getattr(self, needed):
            what = _WORDS[needed]
            raise CommandRefused("not_supported", f"This phone system cannot {what} from here")


# Each command op and the capability it needs; dial, hangup and set_state ready need none.
_NEEDS = {
    "answer": "answer",
    "hold": "hold",
    "retrieve": "hold",
    "redirect": "redirect",
    "consult": "consult",
    "complete_transfer": "consult",
    "transfer": "transfer",
    "conference": "conference",
    "dtmf": "dtmf",
    "acd_login": "acd_groups",
    "acd_logout": "acd_groups",
    "cancel_work": "cancel_work",
    "login": "phone_login",
    "logout": "phone_login",
}
_WORDS = {
    "answer": "answer calls",
    "hold": "hold or retrieve calls",
    "redirect": "redirect calls",
    "consult": "consult and transfer",
    "transfer": "transfer calls",
    "conference": "make conferences",
    "dtmf": "send tones",
    "dnd": "set do not disturb",
    "make_busy": "set make busy",
    "acd_groups": "log in to ACD groups",
    "cancel_work": "cancel the work timer",
    "phone_login": "log in to or out of a phone",
}

# Everything the bridge protocol and the simulator carry.
EVERYTHING = LinkCapabilities()
