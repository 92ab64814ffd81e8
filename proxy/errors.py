"""Exceptions raised by the shell: one tree, rooted at `ProxyError`.

The classes without a module named are defined here; the others sit next to the code that
raises them (and only that code and its callers need them). A class that callers also catch
by a builtin or core base keeps that base (shown in brackets).

ProxyError
 +-- LinkError                  the CTI link could not carry a command (`code` for the page)
 |    +-- LinkUnavailable       no connection to the PBX right now, or it was lost
 |    |    +-- AmiLoginRefused  Asterisk refused the manager login    (links/ami/link.py)
 |    +-- LinkCommandFailed     the PBX refused or failed a command (with its code)
 |         +-- OigFault         a SOAP Fault or result="false"          (links/oig/soap.py)
 +-- LinkProtocolError          a PBX message breaks its wire format [core ProtocolError]
 |    +-- FrameError            a CSTA frame breaks the framing      (links/csta/codec.py)
 |    +-- AmiProtocolError      an AMI message breaks the format    (links/ami/protocol.py)
 |         +-- AmiUnknownEvent  an AMI event the link does not know   (links/ami/calls.py)
 +-- SalesforceError            a Salesforce API call failed (with the API's error code)
 +-- CallCenterError            a call center option Salesforce would refuse [ValueError]
 |                                                            (salesforce/callcenter.py)
 +-- QueryError                 the stand-in org cannot run a SOQL/SOSL query
 |                                                         (salesforce/standin/query.py)
 +-- SignInFailed               refused sign-in: credentials, lockout, seats, busy (agents/auth.py)
 +-- SsoRefused                 a Salesforce sign-in that cannot finish      (web/sso.py)
 +-- SlowConsumer               a socket fell too far behind its events      (bus/base.py)
 +-- StaleSequence              an agent event numbered at or below the last (bus/base.py)
 +-- LeaseLost                  this node does not hold the PBX link lease (cluster/lease.py)
 +-- SchemaTooNew               the database was migrated by a newer version (store/engine.py)
 +-- Busy                       a socket opening past the admission queue (agents/admission.py)
 +-- RosterError                a roster entry that cannot be saved [ValueError]
 |                                                                      (cli/agents.py)
 +-- SimError                   the simulated PBX refuses a request (simulator/model.py)

The core's own errors (`softphone/errors.py`: SoftphoneError, with InvalidIvrTag,
CommandRefused and ProtocolError) stay in the core, which imports nothing of the shell; the
shell raises `CommandRefused` for a command the call's state does not allow, and the links
also raise the core's `ProtocolError` itself for a message they cannot read (catch
`ProtocolError` to catch both).
"""

from softphone.errors import ProtocolError


class ProxyError(Exception):
    """Root of the errors the shell raises on purpose."""


class LinkError(ProxyError):
    """A command could not be carried out by the CTI link."""

    code = "link_error"


class LinkUnavailable(LinkError):
    """The CTI link is down; the command was not sent."""

    code = "link_unavailable"


class LinkCommandFailed(LinkError):
    """The PBX answered a command with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class LinkProtocolError(ProxyError, ProtocolError):
    """A message from the PBX that breaks its protocol's wire format; the link skips it, or
    drops the connection when where the next message starts is lost."""


class SalesforceError(ProxyError):
    """A Salesforce API request failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
