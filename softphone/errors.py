"""Exceptions raised by the core.

SoftphoneError
 +-- InvalidIvrTag        an IVR entry that is not `Object.Field=value`
 +-- CommandRefused       a browser command that the call's state does not allow
 +-- ProtocolError        a wire message that does not follow its schema
"""


class SoftphoneError(Exception):
    """Root of every error the core raises on purpose."""


class InvalidIvrTag(SoftphoneError):
    """An IVR entry could not be read as `Object.Field=value`."""


class CommandRefused(SoftphoneError):
    """A command the call's current state does not allow, with a reason an agent can read."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProtocolError(SoftphoneError):
    """A wire message that is not valid JSON or does not match any known message."""
