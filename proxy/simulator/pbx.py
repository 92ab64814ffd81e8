"""The simulated PBX: agents' devices, ACD groups and the calls that ring at them.

A call appears at each agent's device as a *leg* with its own call id; legs of one call share a
global call id. Far parties (customers, outside numbers) are simulated: the control API makes
them answer, hang up or be busy. Numbers that are agents' extensions ring those agents.

The class is built in layers, one concern a module (records and plumbing in `pbx_base`, agent
state in `agent_state`, a device's basic calls in `basic_calls`, transfers and conferences in
`call_features`), so each stays small enough to read whole.
"""

from __future__ import annotations

from proxy.simulator.call_features import CallFeatures


class SimulatedPbx(CallFeatures):
    """The whole simulated PBX: what the control API and the bridge protocol drive."""
