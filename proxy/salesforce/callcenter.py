"""The call center definition Salesforce imports (Setup > Call Centers > Import).

`callcenter_xml(options)` builds it from the deployment's real values, so nothing is left to
edit by hand after import (the vendor guides' "replace localhost" step), and refuses values
Salesforce would reject or that would leave agents with an empty panel, naming the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from lxml import etree

from proxy.errors import ProxyError

Mode = Literal["Classic", "Lightning", "Classic_and_Lightning"]
Vendor = Literal["maxacd", "mivoice", "generic"]
MODES: tuple[Mode, ...] = ("Classic", "Lightning", "Classic_and_Lightning")
VENDORS: dict[Vendor, str] = {
    "maxacd": "AltiGen MaxACD",
    "mivoice": "Mitel MiVoice Business",
    "generic": "PBX",
}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
_PREFIX = re.compile(r"^[0-9]{0,4}$")


class CallCenterError(ProxyError, ValueError):
    """An option Salesforce would refuse, or that would break the softphone; names the rule."""


@dataclass(frozen=True)
class CallCenterOptions:
    url: str
    vendor: Vendor = "generic"
    mode: Mode = "Classic_and_Lightning"
    name: str = ""
    display_name: str = ""
    standby_url: str = ""
    timeout_ms: int = 5000
    height: int = 480
    width: int = 320
    outside_prefix: str = "9"
    long_distance_prefix: str = "1"
    international_prefix: str = "011"

    @property
    def internal_name(self) -> str:
        return self.name or {"maxacd": "SoftphoneMaxACD", "mivoice": "SoftphoneMiVoice"}.get(
            self.vendor, "SoftphoneProxy"
        )

    @property
    def shown_name(self) -> str:
        return self.display_name or f"Softphone ({VENDORS[self.vendor]})"

    def check(self) -> None:
        if self.mode not in MODES:
            raise CallCenterError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not _NAME.match(self.internal_name):
            raise CallCenterError(
                f"name {self.internal_name!r}: a letter, then letters and digits, 40 at most"
            )
        if not self.shown_name.strip() or len(self.shown_name) > 255:
            raise CallCenterError("display name: 1 to 255 characters")
        self._check_url("url", self.url)
        if self.standby_url:
            self._check_url("standby url", self.standby_url)
        if self.standby_url and not 1000 <= self.timeout_ms <= 60000:
            raise CallCenterError("timeout: 1000 to 60000 ms before the standby URL is used")
        if self.mode != "Classic" and not 240 <= self.height <= 2560:
            raise CallCenterError(f"height {self.height}: 240 to 2560 pixels in Lightning")
        if not 200 <= self.width <= 1920:
            raise CallCenterError(f"width {self.width}: 200 to 1920 pixels")
        prefixes = (
            ("outside prefix", self.outside_prefix),
            ("long distance prefix", self.long_distance_prefix),
            ("international prefix", self.international_prefix),
        )
        for label, value in prefixes:
            if not _PREFIX.match(value):
                raise CallCenterError(f"{label} {value!r}: up to 4 digits")

    def _check_url(self, label: str, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise CallCenterError(f"{label} {url!r}: an absolute http(s) URL")
        if parts.scheme != "https" and self.mode != "Classic":
            raise CallCenterError(
                f"{label} {url!r}: Lightning loads only https adapter URLs "
                f"(mode {self.mode}); http is possible in Classic only"
            )


def _section(parent: etree._Element, name: str, label: str) -> etree._Element:
    order = len(parent)
    return etree.SubElement(parent, "section", sortOrder=str(order), name=name, label=label)


def add_item(section: etree._Element, name: str, label: str, value: str) -> None:
    item = etree.SubElement(section, "item", sortOrder=str(len(section)), name=name, label=label)
    item.text = value


def callcenter_xml(options: CallCenterOptions) -> bytes:
    """The definition as UTF-8 XML bytes, after `options.check()`."""
    options.check()
    root = etree.Element("callCenter")
    root.addprevious(
        etree.Comment(
            f" softphone-proxy call center for {VENDORS[options.vendor]}, {options.mode} "
            "mode. Import: Setup > Call Centers > Import. "
        )
    )
    general = _section(root, "reqGeneralInfo", "General Information")
    add_item(general, "reqInternalName", "InternalName", options.internal_name)
    add_item(general, "reqDisplayName", "Display Name", options.shown_name)
    add_item(general, "reqAdapterUrl", "CTI Adapter URL", options.url)
    add_item(general, "reqUseApi", "Use CTI API", "true")
    add_item(general, "reqSoftphoneHeight", "Softphone Height", str(options.height))
    add_item(general, "reqSoftphoneWidth", "Softphone Width", str(options.width))
    add_item(
        general,
        "reqSalesforceCompatibilityMode",
        "Salesforce Compatibility Mode",
        options.mode,
    )
    if options.standby_url:
        add_item(general, "reqStandbyUrl", "Standby URL", options.standby_url)
        add_item(general, "reqTimeout", "Timeout", str(options.timeout_ms))
    dialing = _section(root, "reqDialingOptions", "Dialing Options")
    add_item(dialing, "reqOutsidePrefix", "Outside Prefix", options.outside_prefix)
    add_item(dialing, "reqLongDistPrefix", "Long Distance Prefix", options.long_distance_prefix)
    add_item(
        dialing, "reqInternationalPrefix", "International Prefix", options.international_prefix
    )
    # Read by the page with getCallCenterSettings, as /softphoneSettings/<name>.
    custom = _section(root, "softphoneSettings", "Softphone Settings")
    add_item(custom, "vendor", "PBX", VENDORS[options.vendor])
    server = urlsplit(options.url)
    add_item(custom, "serverOrigin", "Softphone Server", f"{server.scheme}://{server.netloc}")
    tree = etree.ElementTree(root)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True))
