"""`softphone-proxy callcenter-xml`: the call center definition to import into Salesforce."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proxy.salesforce.callcenter import MODES, CallCenterError, CallCenterOptions, callcenter_xml
from proxy.salesforce.voice_callcenter import (
    VoiceCallCenterOptions,
    self_signed_certificate,
    voice_callcenter_xml,
)
from proxy.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    xml = commands.add_parser(
        "callcenter-xml", help="write the call center definition to import into Salesforce"
    )
    xml.add_argument(
        "--url",
        default="",
        help="https://host/softphone/softphone.html (default: SOFTPHONE_PUBLIC_URL's page)",
    )
    xml.add_argument("--vendor", choices=["maxacd", "mivoice", "generic"], default="generic")
    xml.add_argument("--mode", choices=list(MODES), default="Classic_and_Lightning")
    xml.add_argument("--name", default="", help="internal name (a letter, then letters/digits)")
    xml.add_argument("--display-name", default="")
    xml.add_argument("--standby-url", default="", help="loaded when the main URL fails")
    xml.add_argument("--timeout-ms", type=int, default=5000, help="before the standby URL")
    xml.add_argument("--height", type=int, default=480)
    xml.add_argument("--width", type=int, default=320)
    xml.add_argument("--outside-prefix", default="9")
    xml.add_argument("--long-distance-prefix", default="1")
    xml.add_argument("--international-prefix", default="011")
    xml.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
    voice = xml.add_argument_group("Salesforce Voice (Partner Telephony)")
    voice.add_argument(
        "--voice", action="store_true", help="a Voice contact center instead of Open CTI"
    )
    voice.add_argument("--vendor-info", default="SoftphoneProxy", help="ConversationVendorInfo")
    voice.add_argument(
        "--certificate",
        default="",
        help="PEM certificate of SOFTPHONE_VOICE_PRIVATE_KEY_FILE (default: made from the key)",
    )
    voice.add_argument("--voice-long-distance-prefix", default="+1")
    xml.set_defaults(run=_callcenter_xml)


def _callcenter_xml(args: argparse.Namespace) -> int:
    if args.voice:
        try:
            return _write(args.output, voice_definition(args))
        except CallCenterError as exc:
            print(f"softphone-proxy callcenter-xml: {exc}", file=sys.stderr)
            return 2
    public = Settings().public_url.rstrip("/")
    url = args.url or (f"{public}/softphone/softphone.html" if public else "")
    if not url:
        print(
            "softphone-proxy callcenter-xml: give --url, or set SOFTPHONE_PUBLIC_URL",
            file=sys.stderr,
        )
        return 2
    options = CallCenterOptions(
        url=url,
        vendor=args.vendor,
        mode=args.mode,
        name=args.name,
        display_name=args.display_name,
        standby_url=args.standby_url,
        timeout_ms=args.timeout_ms,
        height=args.height,
        width=args.width,
        outside_prefix=args.outside_prefix,
        long_distance_prefix=args.long_distance_prefix,
        international_prefix=args.international_prefix,
    )
    try:
        xml = callcenter_xml(options)
    except CallCenterError as exc:
        print(f"softphone-proxy callcenter-xml: {exc}", file=sys.stderr)
        return 2
    return _write(args.output, xml)


def _write(output: str, xml: bytes) -> int:
    if output == "-":
        sys.stdout.write(xml.decode())
        return 0
    try:
        with open(output, "wb") as out:
            out.write(xml)
    except OSError as exc:
        print(f"softphone-proxy callcenter-xml: cannot write {output}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {output}: import it in Setup > Call Centers (Contact Centers) > Import")
    return 0


def voice_definition(args: argparse.Namespace) -> bytes:
    """The Partner Telephony contact center, named and keyed as the Voice settings say."""
    settings = Settings()
    name = args.name or settings.voice_call_center
    if not name:
        raise CallCenterError("give --name, or set SOFTPHONE_VOICE_CALL_CENTER")
    try:
        if args.certificate:
            certificate = Path(args.certificate).read_text()
        elif settings.voice_private_key_file:
            key = Path(settings.voice_private_key_file).read_text()
            certificate = self_signed_certificate(key, name)
        else:
            raise CallCenterError("give --certificate, or set SOFTPHONE_VOICE_PRIVATE_KEY_FILE")
    except OSError as exc:
        raise CallCenterError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise CallCenterError(f"SOFTPHONE_VOICE_PRIVATE_KEY_FILE: {exc}") from None
    options = VoiceCallCenterOptions(
        name=name,
        certificate_pem=certificate,
        display_name=args.display_name,
        vendor_info=args.vendor_info,
        long_distance_prefix=args.voice_long_distance_prefix,
    )
    return voice_callcenter_xml(options)
