"""Salesforce Voice admin tooling: `callcenter-xml --voice` as a subprocess, and the doctor's
JWT check against the stand-in's Telephony Integration API over HTTPS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from defusedxml import ElementTree as SafeXml

from proxy.cli import doctor
from proxy.salesforce.standin.org import demo_org
from proxy.salesforce.standin.server import StandinServer
from proxy.salesforce.standin.telephony import new_key_pair
from proxy.settings import Settings

CLI = [sys.executable, "-m", "proxy.cli"]


def test_callcenter_xml_voice_writes_the_contact_center_with_our_certificate(
    tmp_path: Path,
) -> None:
    """--voice: reqGeneralInfo names the ConversationVendorInfo; reqHvcc holds a certificate
    of the very key the server signs its tokens with; no adapter URL."""
    private, public = new_key_pair()
    key_file = tmp_path / "voice.pem"
    key_file.write_text(private)
    env = {
        **os.environ,
        "SOFTPHONE_VOICE_CALL_CENTER": "AcmeVoice",
        "SOFTPHONE_VOICE_PRIVATE_KEY_FILE": str(key_file),
    }
    out = tmp_path / "contact-center.xml"
    made = subprocess.run(
        [*CLI, "callcenter-xml", "--voice", "--vendor-info", "acme__Softphone", "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    root = SafeXml.fromstring(out.read_bytes())
    items = {item.get("name"): item.text for item in root.iter("item")}
    assert items["reqInternalName"] == "AcmeVoice"
    assert items["reqVendorInfoApiName"] == "acme__Softphone"
    assert "reqAdapterUrl" not in items
    certificate = x509.load_pem_x509_certificate(
        str(items["reqTelephonyIntegrationCertificate"]).encode()
    )
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert (
        certificate.public_key().public_bytes(serialization.Encoding.PEM, spki).decode() == public
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "give --name, or set SOFTPHONE_VOICE_CALL_CENTER"),
        ({"SOFTPHONE_VOICE_CALL_CENTER": "Acme"}, "set SOFTPHONE_VOICE_PRIVATE_KEY_FILE"),
        (
            {
                "SOFTPHONE_VOICE_CALL_CENTER": "Acme",
                "SOFTPHONE_VOICE_PRIVATE_KEY_FILE": "/nope.pem",
            },
            "cannot read /nope.pem",
        ),
    ],
)
def test_callcenter_xml_voice_says_what_is_missing(env: dict[str, str], says: str) -> None:
    """Without a name or a key the command exits 2 and names the setting to give."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SOFTPHONE_VOICE")}
    result = subprocess.run(
        [*CLI, "callcenter-xml", "--voice"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert says in result.stderr


async def test_the_doctor_checks_the_jwt_with_one_harmless_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The right key passes and nothing changes at the org; another key fails with the reason
    and what to check."""
    org = demo_org()
    telephony = org.telephony.with_demo_key()
    key_file = tmp_path / "voice.pem"
    key_file.write_text(telephony.private_key)
    async with StandinServer(org) as standin:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", standin.ca_file)
        settings = Settings(
            voice_scrt_url=standin.instance_url,
            voice_org_id=telephony.org_id,
            voice_call_center=telephony.call_center,
            voice_private_key_file=str(key_file),
        )
        good = await doctor.check_voice(settings)
        assert good.level == "PASS" and "JWT token accepted" in good.detail
        assert telephony.voice_calls == {} and telephony.cleared == []
        key_file.write_text(new_key_pair()[0])
        bad = await doctor.check_voice(settings)
    assert bad.level == "FAIL"
    assert "refused our token" in bad.detail and "signature does not match" in bad.detail
    missing = await doctor.check_voice(
        Settings(voice_scrt_url="https://acme.my.salesforce-scrt.com")
    )
    assert missing.level == "FAIL" and "SOFTPHONE_VOICE_ORG_ID" in missing.detail
