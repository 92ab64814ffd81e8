"""`softphone-proxy callcenter-xml`: the call center definition to import into Salesforce."""

from __future__ import annotations

import argparse
import sys

from proxy.salesforce.callcenter import MODES, CallCenterError, CallCenterOptions, callcenter_xml
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
    xml.set_defaults(run=_callcenter_xml)


def _callcenter_xml(args: argparse.Namespace) -> int:
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
    if args.output == "-":
        sys.stdout.write(xml.decode())
    else:
        try:
            with open(args.output, "wb") as out:
                out.write(xml)
        except OSError as exc:
            print(
                f"softphone-proxy callcenter-xml: cannot write {args.output}: {exc}",
                file=sys.stderr,
            )
            return 2
        print(f"wrote {args.output}: import it in Setup > Call Centers > Import")
    return 0
