"""Exceptions raised by the shell.

ProxyError
 +-- LinkError               the CTI link could not carry a command
 |    +-- LinkUnavailable    no connection to the PBX right now
 |    +-- LinkCommandFailed  the PBX refused or failed a command (with its code)
 +-- SalesforceError         a Salesforce API call failed (with the API's error code)
"""


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


class SalesforceError(ProxyError):
    """A Salesforce API request failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
