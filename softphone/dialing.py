"""What the PBX must dial to reach a number, with the call center's dialing prefixes.

Salesforce's call center definition carries them: `reqOutsidePrefix` (e.g. 9 for an outside
line), `reqLongDistPrefix` (1) and `reqInternationalPrefix` (011 in North America, 00 in most
of Europe). Internal extensions are dialled as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from softphone import phone
from softphone.errors import CommandRefused

_NANP = 1


@dataclass(frozen=True)
class DialingOptions:
    region: str = "US"
    outside_prefix: str = "9"
    long_distance_prefix: str = "1"
    international_prefix: str = "011"


def dial_string(number: str, options: DialingOptions) -> str:
    """The digits the PBX dials for `number` as the agent typed or clicked it."""
    digits = phone.digits(number)
    if not digits:
        raise CommandRefused("bad_number", "Enter a number to dial")
    if len(digits) > 20 or any(c.isalpha() for c in number.split("x")[0].split("ext")[0]):
        raise CommandRefused("bad_number", f"{number!r} is not a phone number")
    if len(digits) <= phone.MAX_EXTENSION_DIGITS:
        return digits  # an internal extension
    e164 = phone.to_e164(number, options.region)
    if e164 is None:
        raise CommandRefused("bad_number", f"{number!r} is not a phone number")
    parsed = phonenumbers.parse(e164)
    home = phonenumbers.country_code_for_region(options.region)
    national = str(parsed.national_number)
    if parsed.country_code == home:
        if home == _NANP:
            return options.outside_prefix + options.long_distance_prefix + national
        trunk = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return options.outside_prefix + phone.digits(trunk)
    return (
        options.outside_prefix + options.international_prefix + str(parsed.country_code) + national
    )
