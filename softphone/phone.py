"""Phone number normalisation: every comparison of numbers goes through here."""

from __future__ import annotations

import functools
import re

import phonenumbers

_DIGITS = re.compile(r"\d")
# Numbers this short are internal extensions or service codes: never parsed as public numbers.
MAX_EXTENSION_DIGITS = 6


def digits(raw: str) -> str:
    """All digits of `raw`, in order, ignoring formatting and any extension marker's tail."""
    main = re.split(r"(?i)\s*(?:ext\.?|x|#|;ext=)\s*\d+\s*$", raw.strip())[0]
    return "".join(_DIGITS.findall(main))


# Pure and called for every stored number of every match: the same strings come back all day.
@functools.lru_cache(maxsize=8192)
def to_e164(raw: str, region: str) -> str | None:
    """The E.164 form of `raw` (`+16504508810`), or None for extensions and unparseable text."""
    if not raw or len(digits(raw)) <= MAX_EXTENSION_DIGITS:
        return None
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=8192)
def search_variants(raw: str, region: str) -> tuple[str, ...]:
    """The digit strings under which a stored number may be found: E.164 and national."""
    e164 = to_e164(raw, region)
    if e164 is None:
        only = digits(raw)
        return (only,) if only else ()
    parsed = phonenumbers.parse(e164)
    national = str(parsed.national_number)
    variants = [e164.lstrip("+"), national]
    return tuple(dict.fromkeys(v for v in variants if v))


def same_number(a: str, b: str, region: str) -> bool:
    """Whether two numbers as typed (any format, with or without extension) reach the same line."""
    ea, eb = to_e164(a, region), to_e164(b, region)
    if ea is not None and eb is not None:
        return ea == eb
    da, db = digits(a), digits(b)
    return bool(da) and da == db


@functools.lru_cache(maxsize=8192)
def display(raw: str, region: str) -> str:
    """The number as an agent reads it: international format for public numbers, else as given."""
    e164 = to_e164(raw, region)
    if e164 is None:
        return raw
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def mask(raw: str) -> str:
    """A number safe for INFO logs: all but the last four digits hidden."""
    only = digits(raw)
    if len(only) <= 4:
        return "*" * len(only)
    return "*" * (len(only) - 4) + only[-4:]
