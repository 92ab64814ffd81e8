"""`softphone-proxy check`: the doctor, what is wrong before agents notice (checks in
`proxy.cli.doctor`)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from proxy.cli import doctor
from proxy.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser("check", help="the doctor: what is wrong, before agents notice")
    check.add_argument("--certfile", type=Path, help="the certificate the proxy serves")
    check.add_argument("--keyfile", type=Path)
    check.add_argument("--host", default="", help="the host name agents use (default: --url's)")
    check.add_argument("--ca-file", type=Path, help="trust this CA instead of the public ones")
    check.add_argument("--url", default="", help="the softphone page URL this server serves")
    check.add_argument("--callcenter-xml", type=Path, help="the imported call center file")
    check.add_argument("--link-timeout", type=float, default=5.0)
    check.set_defaults(run=run_check)


async def diagnose(args: argparse.Namespace, settings: Settings) -> list[doctor.Result]:
    results: list[doctor.Result] = [doctor.check_public_url(settings)]
    public = settings.public_url.rstrip("/")
    url = args.url or (f"{public}/softphone/softphone.html" if public else "")
    host = args.host or urlsplit(url).hostname or ""
    if args.certfile is not None:
        if not host:
            results.append(doctor.Result("FAIL", "certificate", "give --host or --url to check"))
        else:
            results += doctor.check_certificate(args.certfile, args.keyfile, host, args.ca_file)
    results.append(await doctor.check_store(settings))
    results += await doctor.check_cluster(settings)
    results += await doctor.check_salesforce(settings)
    results.append(await doctor.check_voice(settings))
    results.append(await asyncio.to_thread(doctor.check_clock, settings))
    results.append(await doctor.check_link(settings, args.link_timeout))
    if args.callcenter_xml is not None:
        if url:
            results.append(doctor.check_callcenter(args.callcenter_xml, url))
        else:
            results.append(
                doctor.Result(
                    "FAIL", "call center", "give --url or SOFTPHONE_PUBLIC_URL to compare with"
                )
            )
    return results


def run_check(args: argparse.Namespace) -> int:
    results = asyncio.run(diagnose(args, Settings()))
    for result in results:
        print(result.line())
    code = doctor.exit_code(results)
    print({0: "all good", 1: "warnings: see WARN lines", 2: "problems: see FAIL lines"}[code])
    return code
