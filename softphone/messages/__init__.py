"""The browser <-> server protocol on the agent websocket (version 2).

Every message is a JSON object with a `type`. On every (re)connect the server opens with
`welcome`: the agent's current calls and status and the sequence number they reflect. Then it
streams `call` and `agent` messages whose `seq` grows by one per agent. A page that sees a gap
in `seq` says `hello` and gets a fresh snapshot, so nothing that happened while it was away or
behind is lost. Commands (answer, hold, transfer, set_state, ...) are checked by the core and
answered with the resulting updates, or with an `error` that says why not.

What the page sends is in `from_page` (with `parse_client_message`), what the server sends in
`to_page`; both are built on `WireMessage`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

PROTOCOL_VERSION = 2


class WireMessage(BaseModel):
    """One message on the agent websocket: nothing unknown accepted, nothing changed after."""

    model_config = ConfigDict(extra="forbid", frozen=True)
