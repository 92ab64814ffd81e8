"""Which Asterisk channels are agents' phones, and the events a link may ignore (no I/O).

Which channel is an agent's (the channel -> agent rule): a channel is named
`TECH/resource-suffix` (`PJSIP/1001-0000002a`); its device is `TECH/resource` (`PJSIP/1001`) and
its agent is `resource` (`1001`). A device counts when it is monitored: the roster's extensions
(as `tech/extension`) and the `devices` option's extras. A link used on its own, never handed a
roster and with no `devices`, counts a device whose tech is PJSIP, SIP or IAX2 and whose resource
is all digits, so trunks (`PJSIP/carrier-00000007`) and Local channels are never mistaken for
agents.
"""

from __future__ import annotations

import re

from proxy.links.ami.protocol import AmiOptions
from softphone.devices import number_of

_AGENT_TECHS = ("PJSIP", "SIP", "IAX2")
# `TECH/resource-suffix`: the suffix is Asterisk's hex channel counter.
_CHANNEL = re.compile(r"^(?P<tech>[A-Za-z0-9]+)/(?P<resource>[^/]+?)(?:-[0-9a-fA-F]+)?$")
_MEMBER = re.compile(r"^(?P<tech>[A-Za-z0-9]+)/(?P<resource>[^/@]+)")

# Events a full `Events: on` session also carries that say nothing the proxy needs.
IGNORED_EVENTS = frozenset(
    {
        "FullyBooted",
        "Newexten",
        "NewCallerid",
        "NewConnectedLine",
        "NewAccountCode",
        "DialState",
        "BridgeCreate",
        "BridgeDestroy",
        "BridgeLeave",
        "BridgeMerge",
        "BridgeVideoSourceUpdate",
        "LocalBridge",
        "LocalOptimizationBegin",
        "LocalOptimizationEnd",
        "SoftHangupRequest",
        "HangupRequest",
        "MusicOnHoldStart",
        "MusicOnHoldStop",
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "QueueMemberStatus",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPenalty",
        "QueueMemberRinginuse",
        "AgentComplete",
        "AgentRingNoAnswer",
        "AgentDump",
        "DeviceStateChange",
        "ExtensionStatus",
        "PeerStatus",
        "ContactStatus",
        "Registry",
        "RTCPSent",
        "RTCPReceived",
        "Cdr",
        "CEL",
        "SuccessfulAuth",
        "ChallengeSent",
        "InvalidAccountID",
        "ChallengeResponseFailed",
        "InvalidPassword",
        "RequestBadFormat",
        "DTMFBegin",
        "DTMFEnd",
        "ChannelTalkingStart",
        "ChannelTalkingStop",
        "NewPeerAccount",
        "Rename",
        "UserEvent",
        "Reload",
        "Shutdown",
        "Pickup",
        "ParkedCall",
        "ParkedCallGiveUp",
        "ParkedCallTimeOut",
        "UnParkedCall",
        "AOC-D",
        "AOC-E",
        "AOC-S",
        "MixMonitorStart",
        "MixMonitorStop",
        "MonitorStart",
        "MonitorStop",
        "Agents",
        "AgentsComplete",
    }
)


def agent_of(channel: str, options: AmiOptions) -> str | None:
    """The agent whose device `channel` is on, or None (trunks, Local channels, others)."""
    match = _CHANNEL.match(channel)
    if match is None:
        return None
    tech, resource = match["tech"], match["resource"]
    if options.devices or options.listed_only:
        return resource if f"{tech}/{resource}" in options.devices else None
    return resource if tech.upper() in _AGENT_TECHS and resource.isdigit() else None


def member_agent(interface: str, options: AmiOptions) -> str | None:
    """The agent of a queue member interface: `PJSIP/1001` or `Local/1001@from-queue/n`."""
    match = _MEMBER.match(interface)
    if match is None:
        return None
    if match["tech"].lower() == "local":
        return match["resource"] if match["resource"].isdigit() else None
    return agent_of(f"{match['tech']}/{match['resource']}", options)


def device_of(agent: str, options: AmiOptions) -> str:
    """Where to reach `agent`'s phone: its listed device, else `tech/agent`."""
    for device in options.devices:
        if device.partition("/")[2] == agent:
            return device
    return f"{options.tech}/{agent}"


def number(value: str) -> str:
    """A caller id number as a call event holds it: Asterisk's `<unknown>`, `anonymous`, a
    `sip:` URI's user part, and junk read as the core reads any device identifier."""
    return number_of(value)
