"""The stand-in's reading of SOSL and SOQL: the subset the proxy sends, parsed strictly.

Strict on purpose: an unescaped reserved character is MALFORMED_SEARCH and an unknown field is
INVALID_FIELD, as on a real org, so a query-building bug fails the tests instead of passing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.errors import ProxyError
from proxy.salesforce.standin.org import SCHEMA, Record, StandinOrg

_SOSL_RESERVED = set("?&|!{}[]()^~*:\\\"'+-")


class QueryError(ProxyError):
    """A query the stand-in org cannot run, as Salesforce would refuse it (`code`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _digits(text: str) -> str:
    main = re.split(r"(?i)\s*(?:ext\.?|x|#)\s*\d+\s*$", text.strip())[0]
    return re.sub(r"\D", "", main)


def _phone_hit(stored: str, term: str) -> bool:
    # Salesforce indexes phone fields by their digits; a term matches when one digit string ends
    # the other and at least seven digits agree (so 6504508810 finds +1 (650) 450-8810).
    a, b = _digits(stored), _digits(term)
    if len(a) < 7 or len(b) < 7:
        return a == b and bool(a)
    return a.endswith(b) or b.endswith(a)


def _sosl_terms(text: str) -> list[str]:
    terms: list[str] = []
    for part in re.split(r"\s+OR\s+", text.strip()):
        part = part.strip()
        if len(part) >= 2 and part[0] == part[-1] == '"':
            part = part[1:-1]
        term, i = "", 0
        while i < len(part):
            c = part[i]
            if c == "\\" and i + 1 < len(part):
                term += part[i + 1]
                i += 2
                continue
            if c in _SOSL_RESERVED:
                raise QueryError("MALFORMED_SEARCH", f"unescaped reserved character {c!r}")
            term += c
            i += 1
        terms.append(term)
    return terms


def _fields_of(obj: str, text: str) -> list[str]:
    fields = [f.strip() for f in text.split(",") if f.strip()]
    for f in fields:
        if f not in SCHEMA[obj]:
            raise QueryError("INVALID_FIELD", f"No such column '{f}' on entity '{obj}'")
    return fields


def _project(obj: str, record: Record, fields: list[str]) -> Record:
    out: Record = {
        "attributes": {"type": obj, "url": f"/services/data/v60.0/sobjects/{obj}/{record['Id']}"}
    }
    out.update({f: record.get(f) for f in fields})
    return out


def run_sosl(org: StandinOrg, sosl: str) -> list[Record]:
    match = re.fullmatch(
        r"\s*FIND\s*\{(?P<terms>(?:\\.|[^}\\])*)\}\s*IN\s+(?P<group>PHONE|NAME)\s+FIELDS"
        r"\s+RETURNING\s+(?P<ret>.+?)(?:\s+LIMIT\s+(?P<limit>\d+))?\s*",
        sosl,
        re.IGNORECASE | re.DOTALL,
    )
    if match is None:
        raise QueryError(
            "MALFORMED_SEARCH", "expected FIND {...} IN PHONE|NAME FIELDS RETURNING ..."
        )
    if match["group"].upper() == "NAME":
        return _name_search(org, match["terms"], match["ret"], int(match["limit"] or 2000))
    terms = _sosl_terms(match["terms"])
    found: list[Record] = []
    for obj, fields_text in re.findall(r"(\w+)\s*\(([^)]*)\)", match["ret"]):
        if obj not in SCHEMA:
            raise QueryError("INVALID_TYPE", f"sObject type '{obj}' is not supported")
        fields = _fields_of(obj, fields_text)
        phone_fields = [n for n, f in SCHEMA[obj].items() if f.type == "phone"]
        for record in org.records.get(obj, []):
            if any(
                isinstance(record.get(pf), str) and _phone_hit(record[pf], t)
                for pf in phone_fields
                for t in terms
            ):
                found.append(_project(obj, record, fields))
    return found


def _name_search(org: StandinOrg, raw: str, returning: str, limit: int) -> list[Record]:
    """Name search as SOSL does it: every word must start a word of the record's name; a
    trailing unescaped * is the only wildcard allowed."""
    prefix = raw.rstrip().endswith("*") and not raw.rstrip().endswith("\\*")
    (text,) = _sosl_terms(raw.rstrip()[:-1] if prefix else raw)
    words = [w.casefold() for w in text.split()]
    found: list[Record] = []
    for obj, fields_text in re.findall(r"(\w+)\s*\(([^)]*)\)", returning):
        if obj not in SCHEMA:
            raise QueryError("INVALID_TYPE", f"sObject type '{obj}' is not supported")
        fields = _fields_of(obj, fields_text)
        for record in org.records.get(obj, []):
            name_words = str(record.get("Name") or "").casefold().split()
            if all(any(n.startswith(w) for n in name_words) for w in words):
                found.append(_project(obj, record, fields))
    return found[:limit]


_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m[1], m[1]), raw, flags=re.DOTALL)


def _like_regex(raw: str) -> str:
    out, i = "", 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            out += re.escape(_UNESCAPE.get(raw[i + 1], raw[i + 1]))
            i += 2
            continue
        out += ".*" if c == "%" else "." if c == "_" else re.escape(c)
        i += 1
    return out


@dataclass(frozen=True)
class _Condition:
    field: str
    op: str
    raw: str  # the literal's text with its escapes as written
    raw_list: tuple[str, ...] = ()  # IN's literals

    def test(self, record: Record) -> bool:
        actual = str(record.get(self.field) or "")
        if self.op == "=":
            return actual == _unescape(self.raw)
        if self.op == "IN":
            return actual in {_unescape(raw) for raw in self.raw_list}
        return re.fullmatch(_like_regex(self.raw), actual, re.IGNORECASE | re.DOTALL) is not None


def _literal(text: str) -> tuple[str, str]:
    """Split a '...' literal off the start of `text`: its raw inner text, and the rest."""
    if not text.startswith("'"):
        raise QueryError("MALFORMED_QUERY", "expected a quoted value")
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "'":
            return text[1:i], text[i + 1 :]
        i += 1
    raise QueryError("MALFORMED_QUERY", "unterminated string literal")


def _literal_list(text: str) -> tuple[tuple[str, ...], str]:
    """Split a ('...', '...') list off the start of `text`: its raw literals, and the rest."""
    values: list[str] = []
    rest = text[1:].strip()
    while True:
        value, rest = _literal(rest)
        values.append(value)
        rest = rest.strip()
        if rest.startswith(")"):
            return tuple(values), rest[1:]
        if not rest.startswith(","):
            raise QueryError("MALFORMED_QUERY", f"expected , or ) near {rest[:20]!r}")
        rest = rest[1:].strip()


def run_soql(org: StandinOrg, soql: str) -> list[Record]:
    match = re.fullmatch(
        r"\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)(?P<rest>.*)",
        soql,
        re.IGNORECASE | re.DOTALL,
    )
    if match is None:
        raise QueryError("MALFORMED_QUERY", "expected SELECT ... FROM ...")
    obj = match["obj"]
    if obj not in SCHEMA:
        raise QueryError("INVALID_TYPE", f"sObject type '{obj}' is not supported")
    fields = _fields_of(obj, match["fields"])
    rest = match["rest"].strip()
    conditions: list[_Condition] = []
    if re.match(r"WHERE\s", rest, re.IGNORECASE):
        rest = rest[5:].strip()
        while True:
            cond = re.match(r"(\w+)\s*(=|LIKE|IN(?=\s*\())\s*", rest, re.IGNORECASE)
            if cond is None:
                raise QueryError("MALFORMED_QUERY", f"unexpected token near {rest[:20]!r}")
            field = cond[1]
            if field not in SCHEMA[obj]:
                raise QueryError("INVALID_FIELD", f"No such column '{field}' on entity '{obj}'")
            if not SCHEMA[obj][field].filterable:
                raise QueryError("INVALID_FIELD", f"field '{field}' can not be filtered")
            if cond[2].upper() == "IN":
                values, rest = _literal_list(rest[cond.end() :])
                conditions.append(_Condition(field, "IN", "", values))
            else:
                value, rest = _literal(rest[cond.end() :])
                conditions.append(_Condition(field, cond[2].upper(), value))
            rest = rest.strip()
            if not re.match(r"AND\s", rest, re.IGNORECASE):
                break
            rest = rest[3:].strip()
    limit = None
    limit_match = re.fullmatch(r"LIMIT\s+(\d+)", rest, re.IGNORECASE)
    if limit_match:
        limit = int(limit_match[1])
    elif rest:
        raise QueryError("MALFORMED_QUERY", f"unexpected token near {rest[:20]!r}")
    rows = [r for r in org.records.get(obj, []) if all(c.test(r) for c in conditions)]
    return [_project(obj, r, fields) for r in rows[:limit]]
