"""PBX device identifiers as people use them: a number to dial and search, and a display.

A PBX names the other end of a call by a device identifier, and each vendor writes its own:

- Unify OpenScape Voice: `N<+16504508810>Line71001;displayNumber=6504508810;uid=FF00…`, and
  `N<1001>;noa=nk` for its own extensions. The number is between the angle brackets; what
  follows is the line, then `;name=value` parameters of which only `displayNumber` is for people.
- SIP and tel URIs (RFC 3261, RFC 3966): `sip:+16504508810@pbx.example.com;user=phone`,
  `tel:+1-650-450-8810`; an RFC 3323 withheld caller is `sip:anonymous@anonymous.invalid`.
- Avaya AE Services (DMCC): `extension:switch connection:switch address:instance`, such as
  `6504508810:CM1:10.0.0.1:0`.
- Plain numbers, with `*` and `#` and visual separators: `+1 (650) 450-8810`, `*67`, `1001#`.

Anything that is none of these (a withheld caller, `<unknown>`, a trunk or queue name) has no
number: a number must never be searched for or offered as a new Contact's phone unless it is
one. Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote

from softphone.events import CallEvent, Party

MAX_NUMBER_LENGTH = 32
MAX_DISPLAY_LENGTH = 64
# Words PBXs put where a withheld or missing caller would be (lower-cased, as compared).
_WITHHELD = frozenset(
    {
        "",
        "-",
        "anonymous",
        "private",
        "restricted",
        "unknown",
        "<unknown>",
        "unavailable",
        "withheld",
        "notknown",
        "notrequired",
        "notspecified",
        "null",
        "none",
    }
)
_OPENSCAPE = re.compile(r"^N<(?P<inner>[^>]*)>(?P<rest>.*)$", re.DOTALL)
# Avaya DMCC: four colon-separated parts, the last the instance number.
_AVAYA = re.compile(r"^(?P<ext>[^:@;<>]*):(?P<switch>[^:@;<>]+):(?P<host>[^:@;<>]+):\d+$")
# A SIP name-addr: an optional display name, then the address in angle brackets.
_NAME_ADDR = re.compile(r'^(?:"[^"]*"|[^<>"]*)\s*<(?P<address>[^<>]+)>$')
_URI = re.compile(r"^(?P<scheme>sips?|tel):(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)
# Separators people and PBXs put inside numbers (RFC 3966's visual separators and friends).
_VISUAL = re.compile(r"[\s\-.()/\[\]]")
_DIALABLE = re.compile(r"^\+?[0-9*#]+$")


@dataclass(frozen=True)
class DeviceNumber:
    """A device identifier read: `number` to dial and search ("" when there is none), and
    `display`, what an agent reads ("" for a withheld or missing caller)."""

    number: str
    display: str
    withheld: bool = False


NO_NUMBER = DeviceNumber("", "", withheld=True)


# A PBX names the same few thousand devices again and again (every extension, the busy
# callers): remembering the answers keeps this off a CSTA link's per-event profile. The result
# is frozen, so sharing it is safe.
@functools.lru_cache(maxsize=8192)
def read_device(raw: str) -> DeviceNumber:
    """The number and display of one device identifier, whatever the vendor's form."""
    text = raw.strip()
    if text.lower() in _WITHHELD:
        return NO_NUMBER
    openscape = _OPENSCAPE.match(text)
    if openscape is not None:
        return _openscape(openscape["inner"], openscape["rest"])
    name_addr = _NAME_ADDR.match(text)
    if name_addr is not None:  # `"Maria Chen" <sip:…>` or `<sip:…>`: the address is inside
        text = name_addr["address"].strip()
    uri = _URI.match(text)
    if uri is not None:
        return _uri(uri["scheme"].lower(), uri["rest"])
    avaya = _AVAYA.match(text)
    if avaya is not None:
        return _plain(avaya["ext"])
    return _plain(text)


def number_of(raw: str) -> str:
    """Just the dialable number of a device identifier; "" when it has none."""
    return read_device(raw).number


def with_numbers(event: CallEvent) -> CallEvent:
    """`event` with its caller, dialled number and parties read as device identifiers, for a
    link whose PBX hands over identifiers as it has them (a bridge beside any PBX)."""
    parties = tuple(_party(p) for p in event.parties)
    ani, dnis = number_of(event.ani), number_of(event.dnis)
    if (ani, dnis, parties) == (event.ani, event.dnis, event.parties):
        return event
    return event.model_copy(update={"ani": ani, "dnis": dnis, "parties": parties})


def _party(party: Party) -> Party:
    read = read_device(party.number)
    # A party without a number keeps what can be shown of it (a name, a SIP address).
    number = (read.number or read.display)[:MAX_NUMBER_LENGTH]
    return party if number == party.number else party.model_copy(update={"number": number})


def dialable(raw: str) -> str:
    """`raw` as a dialable number (separators dropped), or "" when it is not one."""
    compact = _VISUAL.sub("", raw)
    if len(compact) > MAX_NUMBER_LENGTH or not _DIALABLE.match(compact):
        return ""
    return compact if any(c != "+" for c in compact) else ""


def _plain(text: str) -> DeviceNumber:
    text = text.strip()
    if text.lower() in _WITHHELD:
        return NO_NUMBER
    number = dialable(text)
    # Not a number (a name, a trunk, junk): shown as given, never dialled or searched.
    return DeviceNumber(number, number or text[:MAX_DISPLAY_LENGTH])


def _params(rest: str) -> dict[str, str]:
    """`;name=value` parameters, names lower-cased; a bare `;name` has the value ""."""
    found: dict[str, str] = {}
    for part in rest.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip():
            found[name.strip().lower()] = value.strip()
    return found


def _openscape(inner: str, rest: str) -> DeviceNumber:
    # `rest` is the line appearance (`Line71001`), then parameters: only displayNumber is ours.
    shown = _params(rest).get("displaynumber", "")
    read = read_device(inner) if inner.strip() else NO_NUMBER
    if not read.number:
        # No number in the brackets: the display number is the next best, if it is one.
        fallback = _plain(shown) if shown else read
        return fallback if fallback.number else read
    return DeviceNumber(read.number, shown[:MAX_DISPLAY_LENGTH] or read.display)


def _uri(scheme: str, rest: str) -> DeviceNumber:
    if scheme == "tel":
        # tel:+1-650-450-8810;phone-context=… : the number is everything before the first `;`.
        return _plain(unquote(rest.split(";", 1)[0]))
    # sip:user;userparams@host;uriparams?headers: the user part, if any, carries the number.
    address = rest.split("?", 1)[0]
    user, at, host = address.partition("@")
    if not at:
        return DeviceNumber("", address.split(";", 1)[0][:MAX_DISPLAY_LENGTH])
    user = unquote(user.split(";", 1)[0]).strip()
    if user.lower() in _WITHHELD:
        return NO_NUMBER
    number = dialable(user)
    shown = f"{user}@{host.split(';', 1)[0]}"
    return DeviceNumber(number, number or shown[:MAX_DISPLAY_LENGTH])
