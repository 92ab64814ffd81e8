"""The contact center definition for Salesforce Voice with Partner Telephony.

Unlike an Open CTI call center it has no adapter URL: the connector page's URL lives in the
ConversationVendorInfo record that `reqVendorInfoApiName` names. `reqHvcc` carries the
certificate of the key our server signs its Telephony Integration API tokens with, so the
contact center trusts exactly this server. Refuses what Salesforce would, naming the rule.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from proxy.salesforce.callcenter import CallCenterError, add_item

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
# A namespaced developer name (ns__Name) or a plain one.
_VENDOR_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9]*__)?[A-Za-z][A-Za-z0-9_]{0,79}$")
_PREFIX = re.compile(r"^\+?[0-9]{0,4}$")
CERTIFICATE_DAYS = 730


@dataclass(frozen=True)
class VoiceCallCenterOptions:
    name: str
    certificate_pem: str
    display_name: str = ""
    vendor_info: str = "SoftphoneProxy"
    long_distance_prefix: str = "+1"

    def check(self) -> None:
        if not _NAME.match(self.name):
            raise CallCenterError(
                f"name {self.name!r}: a letter, then letters, digits and _, 40 at most "
                "(it is the contact center's API name: SOFTPHONE_VOICE_CALL_CENTER)"
            )
        if not _VENDOR_INFO.match(self.vendor_info):
            raise CallCenterError(
                f"vendor info {self.vendor_info!r}: the ConversationVendorInfo developer name"
            )
        if not _PREFIX.match(self.long_distance_prefix):
            raise CallCenterError(f"long distance prefix {self.long_distance_prefix!r}")
        if len(self.display_name) > 255:
            raise CallCenterError("display name: 255 characters at most")
        try:
            x509.load_pem_x509_certificate(self.certificate_pem.encode())
        except ValueError:
            raise CallCenterError("the certificate is not a PEM X.509 certificate") from None


def self_signed_certificate(private_key_pem: str, common_name: str) -> str:
    """A certificate for the key the server signs its tokens with: what the contact center
    holds to check them. Self-signed, as Salesforce's own setup steps make it."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CallCenterError("the Voice key must be an RSA key (tokens are RS256)")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERTIFICATE_DAYS))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def voice_callcenter_xml(options: VoiceCallCenterOptions) -> bytes:
    """The definition as UTF-8 XML bytes, after `options.check()`."""
    options.check()
    root = etree.Element("callCenter")
    root.addprevious(
        etree.Comment(
            " softphone-proxy contact center for Salesforce Voice with Partner Telephony "
            "(desk phones). Import: Setup > Contact Centers > Import. "
        )
    )
    general = etree.SubElement(
        root, "section", sortOrder="0", name="reqGeneralInfo", label="General Information"
    )
    add_item(general, "reqInternalName", "InternalName", options.name)
    add_item(general, "reqDisplayName", "Display Name", options.display_name or options.name)
    add_item(
        general,
        "reqVendorInfoApiName",
        "Conversation Vendor Info Developer Name",
        options.vendor_info,
    )
    hvcc = etree.SubElement(root, "section", sortOrder="1", name="reqHvcc", label="SCV Settings")
    add_item(
        hvcc,
        "reqTelephonyIntegrationCertificate",
        "Telephony Integration Certificate",
        options.certificate_pem.strip(),
    )
    add_item(hvcc, "reqLongDistPrefix", "Long Distance Prefix", options.long_distance_prefix)
    tree = etree.ElementTree(root)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True))
