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
