"""SOAP 1.1 for the Mitel Open Integration Gateway: requests out (lxml), answers in (defusedxml).

Every element name, namespace and SOAPAction the OIG link puts on the wire lives in this
module, so a name that turns out to be wrong on a real gateway is fixed in one place. Where a
name comes from public copies of the OIG WSDL (SessionService, StandardCCService,
SessionHAEventHandler, version 4.0) and where it is our assumption is written beside it and in
docs/links.md.

Answers are parsed by defusedxml's rules (no DTD at all, so no entities and no external
fetches), and anything unsafe or malformed becomes the core's `ProtocolError`. A SOAP Fault, or
an answer whose `result` attribute is false, becomes `OigFault`: a `LinkCommandFailed` whose
`code` is in the proxy's words.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

import httpx
from defusedxml.ElementTree import fromstring as defused_fromstring
from lxml import etree

from proxy.errors import LinkCommandFailed
from softphone.errors import ProtocolError

SOAP_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
# From the public WSDL copies: each service's wrapper elements live in the service namespace,
# the types they carry (request records, results, events) in the schema namespaces.
NS_SESSION_SERVICE: Final = "http://mitel.com/oig/session/SessionService"
NS_SESSION: Final = "http://mitel.com/oig/session"
NS_CC_SERVICE: Final = "http://mitel.com/oig/cc/standard/StandardCCService"
NS_CC: Final = "http://mitel.com/oig/cc"
NS_STANDARD: Final = "http://mitel.com/oig/cc/standard"
NS_HA_HANDLER: Final = "http://mitel.com/oig/session/SessionHAEventHandler"
# The services sit under Axis2's service root (WSDL soap:address); the URL path can override.
DEFAULT_SERVICE_ROOT: Final = "/axis2/services"
SESSION_SERVICE: Final = "SessionService"
CC_SERVICE: Final = "StandardCCService"
# WSDL version our requests follow (loginEx `version`).
WSDL_VERSION: Final = "4.0"

# Operation -> the service that answers it. SOAPAction is "urn:<operation>" (WSDL binding).
OPERATIONS: Final[Mapping[str, str]] = {
    "loginEx": SESSION_SERVICE,
    "resetSessionTimer": SESSION_SERVICE,
    "logout": SESSION_SERVICE,
    "registerHAClientCallback": SESSION_SERVICE,
    **dict.fromkeys(
        (
            "getIcpId",
            "getPhoneNumberId",
            "monitorObject",
            "getCallStatus",
            "getNumberedEvent",
            "answerCall",
            "clearCall",
            "holdCall",
            "retrieveCall",
            "makeCall",
            "consultationCall",
            "transferCall",
            "conferenceCall",
            "redirectCall",
            "outPulseDigits",
            "setDeviceDND",
            "advLoginACDAgent",
            "advLogoutACDAgent",
            "advSetACDAgentPresence",
            "advSetACDAgentMakeBusy",
            "advSetACDAgentMakeBusyWithCode",
            "advCancelACDWorkTimer",
        ),
        CC_SERVICE,
    ),
}
# Operations whose fields travel inside a record element (WSDL: `req`/`request` of a schema
# type, the record's own fields in its schema namespace, `sessionId`/`icpId` as attributes).
RECORDS: Final[Mapping[str, tuple[str, str]]] = {
    "loginEx": ("req", NS_SESSION),
    "getIcpId": ("request", NS_STANDARD),
    "getPhoneNumberId": ("request", NS_STANDARD),
}
# The element of an HA callback (SessionHAEventHandler.sessionHAEvent) and of its answer.
HA_EVENT: Final = "sessionHAEvent"
HA_ADDRESS: Final = "newServerIPAddress"
# errorDescription of a long poll that simply had nothing to report. Assumed from a public
# client's handling ("Timeout no event message available."); any "timeout" text counts.
NO_EVENT_HINTS: Final = ("timeout", "no event")

MAX_DOCUMENT_BYTES: Final = 1_000_000
COMMAND_TIMEOUT_SECONDS: Final = 5.0
# Fault strings / errorDescriptions we have words for, matched as lowercase fragments in order.
# The OIG's exact texts are not public; these fragments are our assumption.
_ERROR_TEXTS: Final = (
    ("invalid session", "session_lost"),
    ("session expired", "session_lost"),
    ("session not found", "session_lost"),
    ("not logged in", "session_lost"),
    ("localcallid", "no_such_call"),
    ("invalid call", "no_such_call"),
    ("no such call", "no_such_call"),
    ("call not found", "no_such_call"),
    ("objectid", "invalid_device"),
    ("invalid device", "invalid_device"),
    ("invalid number", "invalid_number"),
    ("invalid dn", "invalid_number"),
    ("not supported", "not_supported"),
    ("not allowed", "not_allowed"),
    ("license", "not_licensed"),
)
_CALL_ID = re.compile(rb"localCallId\s*=?\s*[\"'>]\s*([^\"'<\s]{1,64})")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
Element = ET.Element


class OigFault(LinkCommandFailed):
    """The gateway refused a request: a SOAP Fault, or an answer with result="false"."""

    @property
    def session_lost(self) -> bool:
        return self.code == "session_lost"


def snake(name: str) -> str:
    """`Server.userException` -> `server_user_exception`: a fault code in the proxy's words."""
    spaced = _CAMEL.sub("_", name.rpartition(":")[2])
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_") or "refused"


def error_code(text: str, fallback: str) -> str:
    lowered = text.lower()
    return next((code for fragment, code in _ERROR_TEXTS if fragment in lowered), fallback)


# --- out -----------------------------------------------------------------------------------
def service_namespace(operation: str) -> str:
    return NS_SESSION_SERVICE if OPERATIONS[operation] == SESSION_SERVICE else NS_CC_SERVICE


def envelope(
    operation: str,
    fields: Sequence[tuple[str, str]] = (),
    attributes: Mapping[str, str] | None = None,
) -> bytes:
    """A SOAP 1.1 request for `operation`: `fields` as child elements, in WSDL order.

    For a record operation (see RECORDS) the fields go inside the record element and
    `attributes` (sessionId, icpId) on it; otherwise `attributes` must be empty.
    """
    namespace = service_namespace(operation)
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    wrapper = etree.SubElement(body, f"{{{namespace}}}{operation}", nsmap={None: namespace})  # type: ignore[dict-item]
    parent, field_ns = wrapper, namespace
    if operation in RECORDS:
        record, field_ns = RECORDS[operation]
        parent = etree.SubElement(wrapper, f"{{{namespace}}}{record}", nsmap={"r": field_ns})
        for name, value in (attributes or {}).items():
            parent.set(name, value)
    elif attributes:
        raise ValueError(f"{operation} takes no attributes")
    for name, value in fields:
        etree.SubElement(parent, f"{{{field_ns}}}{name}").text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def soap_action(operation: str) -> str:
    return f'"urn:{operation}"'


# --- in ------------------------------------------------------------------------------------
def parse_xml(raw: bytes) -> Element:
    """The root of one received document; `ProtocolError` for anything unsafe or malformed."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ProtocolError(f"document of {len(raw)} bytes exceeds {MAX_DOCUMENT_BYTES}")
    try:
        return defused_fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # every way a parser can refuse bytes is one answer: bad input
        raise ProtocolError(f"invalid XML ({type(exc).__name__}): {exc}") from None


def payload(raw: bytes) -> Element:
    """The element inside the SOAP Body; `OigFault` when it is a Fault."""
    root = parse_xml(raw)
    if local(root) != "Envelope":
        raise ProtocolError(f"expected a SOAP Envelope, got {local(root)!r}")
    body = child(root, "Body")
    inner = next(iter(body), None) if body is not None else None
    if inner is None:
        raise ProtocolError("SOAP Envelope without a Body element")
    if local(inner) == "Fault":
        code, message = text(inner, "faultcode"), text(inner, "faultstring")
        raise OigFault(error_code(message, snake(code)), message or code or "SOAP Fault")
    return inner


def returned(answer: Element, *, check: bool = True) -> Element:
    """The `return` record of an answer; `OigFault` when its result attribute says false."""
    record = child(answer, "return")
    if record is None:
        raise ProtocolError(f"{local(answer)} without a return element")
    if check and record.get("result", "true").strip().lower() == "false":
        raise refused(record)
    return record


def refused(record: Element) -> OigFault:
    description = text(record, "errorDescription") or text(record, "errorDesc") or "refused"
    return OigFault(error_code(description, "refused"), description)


def is_no_event(record: Element) -> bool:
    description = (text(record, "errorDescription") or text(record, "errorDesc")).lower()
    return any(hint in description for hint in NO_EVENT_HINTS)


def call_id_of(raw: bytes) -> str:
    """The first localCallId in a document we could not use, for the log line; "-" if none."""
    found = _CALL_ID.search(raw[:MAX_DOCUMENT_BYTES])
    return found.group(1).decode("utf-8", "replace") if found else "-"


# --- reading -------------------------------------------------------------------------------
def local(element: Element) -> str:
    """An element's name without its namespace: the gateway's prefixes vary, names do not."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def child(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if local(c) == name), None)
    return element


def children(element: Element | None, name: str) -> Iterator[Element]:
    if element is not None:
        yield from (c for c in element if local(c) == name)


def text(element: Element | None, *path: str) -> str:
    found = child(element, *path)
    return (found.text or "").strip() if found is not None else ""


def descendant_text(element: Element, name: str) -> str:
    found = next((e for e in element.iter() if local(e) == name), None)
    return (found.text or "").strip() if found is not None else ""


def pairs(element: Element | None, name: str) -> dict[str, str]:
    """`<name><attributeName>K</…><attributeValue>V</…></name>`, repeated, as a dict."""
    return {
        text(item, "attributeName"): text(item, "attributeValue")
        for item in children(element, name)
        if text(item, "attributeName")
    }


class SoapSession:
    """One logged-in session at one gateway address, over one HTTP client."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client = client
        self.base = base
        self.id = ""
        self.icp = ""

    async def post(
        self,
        operation: str,
        fields: Sequence[tuple[str, str]] = (),
        attributes: dict[str, str] | None = None,
        *,
        wait: float,
    ) -> bytes:
        """The raw answer; TimeoutError or ConnectionError when the gateway does not give one."""
        try:
            response = await self.client.post(
                f"{self.base}/{OPERATIONS[operation]}",
                content=envelope(operation, fields, attributes),
                headers={
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": soap_action(operation),
                },
                timeout=wait,
            )
        except httpx.TimeoutException:
            raise TimeoutError(f"{operation}: no answer within {wait:g} s") from None
        except httpx.HTTPError as exc:
            raise ConnectionError(f"{operation}: {exc or type(exc).__name__}") from None
        # SOAP 1.1 sends a Fault with status 500; any other error status has no SOAP to read.
        if response.status_code >= 400 and b"Fault" not in response.content:
            raise ConnectionError(f"{operation}: HTTP {response.status_code}")
        return response.content

    async def call(
        self,
        operation: str,
        fields: Sequence[tuple[str, str]] = (),
        attributes: dict[str, str] | None = None,
        *,
        wait: float = COMMAND_TIMEOUT_SECONDS,
        check: bool = True,
    ) -> Element:
        raw = await self.post(operation, fields, attributes, wait=wait)
        return returned(payload(raw), check=check)

    def with_id(self, *fields: tuple[str, str]) -> list[tuple[str, str]]:
        return [("sessionId", self.id), *fields]


def ha_event_response() -> bytes:
    """What our HA callback answers the gateway (SessionHAEventHandler: return true)."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    answer = etree.SubElement(
        body,
        f"{{{NS_HA_HANDLER}}}{HA_EVENT}Response",
        nsmap={None: NS_HA_HANDLER},  # type: ignore[dict-item]
    )
    etree.SubElement(answer, f"{{{NS_HA_HANDLER}}}return").text = "true"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
