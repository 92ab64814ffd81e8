"""IVR data as the PBX collects it: `Object.Field=value` entries such as `Case.CaseNumber=1234`."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from softphone.errors import InvalidIvrTag

# Salesforce API names: a letter, then letters, digits and single underscores; custom names end
# in __c. Anything else cannot be an object or field and is refused before it reaches a query.
_API_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_)|__c$|__r$)*$")
MAX_VALUE_LENGTH = 80


class IvrEntry(BaseModel):
    """One IVR-collected lookup key: find `object` records whose `field` equals `value`."""

    model_config = ConfigDict(frozen=True)

    object: str
    field: str
    value: str

    def __str__(self) -> str:
        return f"{self.object}.{self.field}={self.value}"


def is_api_name(name: str) -> bool:
    """Whether `name` has the shape of a Salesforce object or field API name."""
    return 0 < len(name) <= 80 and bool(_API_NAME.match(name))


def parse_ivr(tag: str) -> IvrEntry:
    """Read one `Object.Field=value` entry: its shape here, its existence later against describe."""
    left, sep, value = tag.partition("=")
    if not sep:
        raise InvalidIvrTag(f"IVR entry {tag!r} has no '=': expected Object.Field=value")
    obj, dot, field = left.strip().partition(".")
    if not dot or not is_api_name(obj) or not is_api_name(field):
        raise InvalidIvrTag(f"IVR entry {tag!r}: {left.strip()!r} is not Object.Field")
    value = value.strip()
    if not value:
        raise InvalidIvrTag(f"IVR entry {tag!r} has an empty value")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidIvrTag(f"IVR entry for {left.strip()} is longer than {MAX_VALUE_LENGTH}")
    return IvrEntry(object=obj, field=field, value=value)


MAX_CALL_DATA_LENGTH = 255
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def read_call_data(raw: str) -> tuple[tuple[str, ...], str]:
    """IVR entries and other data from data a PBX attaches to a call (CSTA `correlatorData`).

    The data is text or its hex encoding, `|`-separated. Parts of the shape `Object.Field=value`
    are IVR entries, looked up and shown as what the caller entered; anything else (a NENA call
    id, a switch's own tag, bytes that are not text) is the second value, for the call log.
    """
    text = raw.strip()
    compact = _WHITESPACE.sub("", text)
    if _HEX.match(compact):
        try:
            decoded = bytes.fromhex(compact).decode("utf-8")
        except UnicodeDecodeError:
            decoded = ""
        # Not text (binary, or digits that only look like hex): kept as it came, never as digits.
        text = decoded.strip() if decoded.strip() and decoded.isprintable() else compact
    entries: list[str] = []
    other: list[str] = []
    for part in (p.strip() for p in text.split("|")):
        if not part:
            continue
        try:
            entries.append(str(parse_ivr(part)))
        except InvalidIvrTag:
            other.append(part)
    data = _CONTROL.sub(" ", " | ".join(other))[:MAX_CALL_DATA_LENGTH]
    return tuple(entries[:16]), data
