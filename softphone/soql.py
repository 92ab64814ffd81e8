"""SOQL and SOSL text built safely: every caller-supplied value is escaped here and only here."""

from __future__ import annotations

from softphone.ivr import is_api_name

# Characters SOSL reserves inside FIND {...}; each must be preceded by a backslash.
_SOSL_RESERVED = set("?&|!{}[]()^~*:\\\"'+-")
_SOQL_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def escape_sosl(term: str) -> str:
    """A search term with every SOSL reserved character escaped."""
    return "".join("\\" + c if c in _SOSL_RESERVED else c for c in term)


def escape_soql(value: str) -> str:
    """A value safe inside a SOQL string literal `'...'`."""
    return "".join(_SOQL_ESCAPES.get(c, c) for c in value)


def escape_soql_like(value: str) -> str:
    """A value safe inside a SOQL LIKE pattern, where `%` and `_` are wildcards."""
    return escape_soql(value).replace("%", "\\%").replace("_", "\\_")


def _name(name: str) -> str:
    if not is_api_name(name):
        raise ValueError(f"{name!r} is not a Salesforce API name")
    return name


def _returning(returning: dict[str, tuple[str, ...]]) -> str:
    """`Contact(Id, Name), Lead(Id, Name)`: the objects and fields a SOSL search returns."""
    return ", ".join(
        f"{_name(obj)}({', '.join(_name(f) for f in fields)})" for obj, fields in returning.items()
    )


def sosl_phone_search(variants: tuple[str, ...], returning: dict[str, tuple[str, ...]]) -> str:
    """One SOSL request that finds any of `variants` in the phone fields of every object."""
    if not variants:
        raise ValueError("a phone search needs at least one number")
    terms = " OR ".join(f'"{escape_sosl(v)}"' for v in variants)
    objects = _returning(returning)
    return f"FIND {{{terms}}} IN PHONE FIELDS RETURNING {objects}"


def sosl_name_search(words: list[str], returning: dict[str, tuple[str, ...]], limit: int) -> str:
    """Records whose name has every word, the last one as a prefix (as agents type)."""
    if not words:
        raise ValueError("a name search needs at least one word")
    terms = " ".join(escape_sosl(w) for w in words) + "*"
    objects = _returning(returning)
    return f"FIND {{{terms}}} IN NAME FIELDS RETURNING {objects} LIMIT {int(limit)}"


def soql_field_equals(
    obj: str, fields: tuple[str, ...], field: str, value: str, *, start_with: bool, limit: int
) -> str:
    """SELECT `fields` FROM `obj` WHERE `field` equals (or starts with) `value`."""
    selected = ", ".join(_name(f) for f in fields)
    if start_with:
        condition = f"{_name(field)} LIKE '{escape_soql_like(value)}%'"
    else:
        condition = f"{_name(field)} = '{escape_soql(value)}'"
    # Names are checked against the API-name pattern and values escaped above.
    return f"SELECT {selected} FROM {_name(obj)} WHERE {condition} LIMIT {int(limit)}"  # noqa: S608


def soql_field_in(
    obj: str, fields: tuple[str, ...], field: str, values: list[str], *, max_length: int = 3500
) -> list[str]:
    """SELECT `fields` FROM `obj` WHERE `field` IN (`values`), as as many queries as it takes
    to keep each WHERE clause under `max_length` characters (Salesforce refuses WHERE
    strings over 4,000)."""
    selected = ", ".join(_name(f) for f in fields)
    chunks: list[list[str]] = [[]]
    length = 0
    for literal in (f"'{escape_soql(v)}'" for v in values):
        if chunks[-1] and length + len(literal) > max_length:
            chunks.append([])
            length = 0
        chunks[-1].append(literal)
        length += len(literal) + 1
    # Names are checked against the API-name pattern and values escaped above.
    return [
        f"SELECT {selected} FROM {_name(obj)} WHERE {_name(field)} IN ({','.join(chunk)})"  # noqa: S608
        for chunk in chunks
        if chunk
    ]
