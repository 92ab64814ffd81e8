"""The call center definition: every vendor and mode parses back and follows Salesforce's rules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from proxy.salesforce.callcenter import (
    MODES,
    CallCenterError,
    CallCenterOptions,
    Mode,
    Vendor,
    callcenter_xml,
)

ROOT = Path(__file__).resolve().parents[3]
URL = "https://softphone.example.com/softphone/softphone.html"
STANDBY = "https://softphone-2.example.com/softphone/softphone.html"
REQUIRED = {
    "reqInternalName",
    "reqDisplayName",
    "reqAdapterUrl",
    "reqUseApi",
    "reqSoftphoneHeight",
    "reqSoftphoneWidth",
    "reqSalesforceCompatibilityMode",
}


def parse(xml: bytes) -> dict[str, dict[str, str]]:
    """Sections as {name: {item name: value}}, after checking the structural rules."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == "callCenter"
    sections: dict[str, dict[str, str]] = {}
    for n, section in enumerate(root.findall("section")):
        assert section.get("sortOrder") == str(n), "section sortOrder from 0 without gaps"
        name = section.get("name", "")
        assert re.fullmatch(r"[A-Za-z0-9]{1,40}", name)
        items = section.findall("item")
        for m, item in enumerate(items):
            assert item.get("sortOrder") == str(m), "item sortOrder from 0 without gaps"
            assert re.fullmatch(r"[A-Za-z0-9]{1,40}", item.get("name", ""))
            assert item.get("label")
        sections[name] = {i.get("name", ""): i.text or "" for i in items}
    return sections


@pytest.mark.parametrize("vendor", ["maxacd", "mivoice"])
@pytest.mark.parametrize("mode", MODES)
def test_each_vendor_and_mode_follows_the_rules(vendor: Vendor, mode: Mode) -> None:
    """Required items present, sortOrders contiguous, the mode set, https for Lightning."""
    options = CallCenterOptions(url=URL, vendor=vendor, mode=mode, standby_url=STANDBY)
    sections = parse(callcenter_xml(options))
    general = sections["reqGeneralInfo"]
    assert set(general) >= REQUIRED
    assert general["reqSalesforceCompatibilityMode"] == mode
    assert general["reqUseApi"] == "true"
    assert general["reqAdapterUrl"] == URL and general["reqStandbyUrl"] == STANDBY
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,39}", general["reqInternalName"])
    assert 240 <= int(general["reqSoftphoneHeight"]) <= 2560
    assert sections["reqDialingOptions"] == {
        "reqOutsidePrefix": "9",
        "reqLongDistPrefix": "1",
        "reqInternationalPrefix": "011",
    }
    assert sections["softphoneSettings"]["serverOrigin"] == "https://softphone.example.com"


@pytest.mark.parametrize("vendor", ["maxacd", "mivoice"])
@pytest.mark.parametrize("mode", MODES)
def test_the_committed_templates_are_what_the_generator_writes(vendor: Vendor, mode: Mode) -> None:
    """callcenter_xml/ never drifts from the generator."""
    options = CallCenterOptions(url=URL, vendor=vendor, mode=mode, standby_url=STANDBY)
    committed = (ROOT / "callcenter_xml" / f"{vendor}-{mode}.xml").read_bytes()
    assert committed == callcenter_xml(options)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"url": "http://pbx.local/softphone.html"}, "Lightning loads only https"),
        ({"url": "softphone.html"}, "an absolute http(s) URL"),
        ({"standby_url": "http://b.example.com/"}, "Lightning loads only https"),
        ({"height": 100}, "240 to 2560"),
        ({"width": 4000}, "200 to 1920"),
        ({"name": "A" * 41}, "40 at most"),
        ({"name": "9lives"}, "a letter, then"),
        ({"name": "Soft-phone"}, "a letter, then"),
        ({"standby_url": STANDBY, "timeout_ms": 10}, "1000 to 60000"),
        ({"outside_prefix": "9#"}, "up to 4 digits"),
    ],
)
def test_invalid_options_are_refused_with_the_rule(changes: dict[str, object], rule: str) -> None:
    """A value Salesforce would reject (or that would blank the panel) is refused by name."""
    options = CallCenterOptions(**{"url": URL, "mode": "Lightning", **changes})  # type: ignore[arg-type]
    with pytest.raises(CallCenterError, match=re.escape(rule)):
        callcenter_xml(options)


def test_classic_mode_may_use_http_for_an_internal_server() -> None:
    """Classic loads http adapter URLs; only there is it allowed."""
    options = CallCenterOptions(url="http://pbx.local/softphone.html", mode="Classic")
    assert parse(callcenter_xml(options))["reqGeneralInfo"]["reqAdapterUrl"].startswith("http:")


def test_the_command_writes_a_file_or_explains_the_refusal(tmp_path: Path) -> None:
    """`softphone-proxy callcenter-xml` writes the file; a bad value exits 2 with the rule."""
    out = tmp_path / "cc.xml"
    cli = [sys.executable, "-m", "proxy.cli", "callcenter-xml"]
    ok = subprocess.run(
        [*cli, "--url", URL, "--vendor", "mivoice", "--mode", "Lightning", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert parse(out.read_bytes())["softphoneSettings"]["vendor"] == "Mitel MiVoice Business"
    bad = subprocess.run(
        [*cli, "--url", URL, "--height", "9000", "--mode", "Lightning"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2
    assert "height 9000: 240 to 2560 pixels in Lightning" in bad.stderr
