"""The `softphone-proxy` command: serve, demo, simulate."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence

from pydantic import ValidationError

from proxy import agents_cli, ops_cli, outbox_cli
from proxy.callcenter import MODES, CallCenterError, CallCenterOptions, callcenter_xml
from proxy.logs import configure_logging
from proxy.server import bind, build_server, serve, url_of
from proxy.settings import Settings


def _settings(demo: bool) -> Settings:
    settings = Settings()
    if not demo:
        return settings
    # The demo's own defaults; anything set in the environment still wins, so an admin can
    # point the demo console at a real sandbox org with SOFTPHONE_SALESFORCE_URL and friends.
    demo_defaults = {
        "demo": True,
        # A fresh database per run: the demo's agents and sessions are throwaway.
        "database_url": f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='softphone-demo-')}/demo.db",
    }
    keep = {k: v for k, v in demo_defaults.items() if f"SOFTPHONE_{k.upper()}" not in os.environ}
    return settings.model_copy(update=keep)


def console_url(base: str) -> str:
    """The demo console's address: `localhost` where the proxy is `127.0.0.1`, so the console
    frames the softphone cross-site (two sites), as Salesforce does."""
    return base.replace("://127.0.0.1:", "://localhost:", 1) + "/console/"


def _run(args: argparse.Namespace, demo: bool) -> int:
    try:
        settings = _settings(demo)
        settings.check()
        configure_logging(settings)
    except (ValidationError, ValueError) as exc:
        print(f"softphone-proxy: {exc}", file=sys.stderr)
        return 2
    certfile = getattr(args, "certfile", None)
    if not demo and certfile is None and not args.allow_http:
        print(
            "softphone-proxy: give --certfile and --keyfile to serve HTTPS (Salesforce frames "
            "only https pages), or --allow-http for development or behind a TLS proxy",
            file=sys.stderr,
        )
        return 2
    if not demo and certfile is None and not settings.public_url:
        print(
            "softphone-proxy: serving plain http: behind a TLS-terminating load balancer, set "
            "SOFTPHONE_PUBLIC_URL to the https address agents' browsers use "
            "(softphone-proxy check says more)",
            file=sys.stderr,
        )
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"softphone-proxy: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    server, _ = build_server(
        settings,
        sock,
        certfile=certfile,
        keyfile=getattr(args, "keyfile", None),
        own_logging=True,
    )
    base = url_of(sock, tls=certfile is not None)

    def announce() -> None:
        if demo:
            print(
                f"\n  softphone-proxy demo is running.\n  Demo console: {console_url(base)}\n"
                f"  Sign in as 1001 (to 1005) with password 'demo'. Ctrl+C stops it.\n",
                flush=True,
            )
        else:
            print(f"softphone-proxy serving {base}/softphone/softphone.html", flush=True)

    asyncio.run(serve(server, sock, announce))
    return 0


def _simulate_call(args: argparse.Namespace) -> int:
    body = {
        "agent": args.agent,
        "ani": args.ani,
        "dnis": args.dnis,
        "ivr": args.ivr,
        "queue": args.queue,
    }
    url = f"{args.url.rstrip('/')}/sim/calls"
    if not url.startswith(("http://", "https://")):
        print(f"softphone-proxy: --url must be http(s)://, not {args.url!r}", file=sys.stderr)
        return 2
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            call = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
        print(f"softphone-proxy: simulator refused the call: {detail}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"softphone-proxy: no simulator at {args.url}: {exc.reason}", file=sys.stderr)
        return 1
    print(call["call_id"])
    return 0


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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="softphone-proxy", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the proxy with settings from SOFTPHONE_*")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8443)
    serve_cmd.add_argument("--certfile", help="PEM certificate chain for HTTPS")
    serve_cmd.add_argument("--keyfile", help="PEM private key for HTTPS")
    serve_cmd.add_argument(
        "--allow-http",
        action="store_true",
        help="serve plain HTTP: for development, or behind a proxy that terminates TLS",
    )
    demo_cmd = commands.add_parser(
        "demo", help="proxy + PBX simulator + Salesforce stand-in + demo console on one port"
    )
    demo_cmd.add_argument("--host", default="127.0.0.1")
    demo_cmd.add_argument("--port", type=int, default=8080)
    simulate = commands.add_parser("simulate", help="drive the built-in PBX simulator")
    sim_commands = simulate.add_subparsers(dest="what", required=True)
    call = sim_commands.add_parser("call", help="ring an agent with an inbound call")
    call.add_argument("--agent", required=True)
    call.add_argument("--ani", default="", help="caller's number")
    call.add_argument("--dnis", default="", help="dialled number")
    call.add_argument("--ivr", action="append", default=[], help="Object.Field=value, repeatable")
    call.add_argument("--queue", default="")
    call.add_argument("--url", default="http://127.0.0.1:8080", help="the running proxy")
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
    outbox_cli.add_parser(commands)
    ops_cli.add_parsers(commands)
    agents_cli.add_parser(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "simulate":
        return _simulate_call(args)
    if args.command == "callcenter-xml":
        return _callcenter_xml(args)
    if args.command == "check":
        return ops_cli.run_check(args)
    if args.command == "support-bundle":
        return ops_cli.main_bundle(args)
    if args.command == "outbox":
        return outbox_cli.run(args)
    if args.command == "agents":
        return agents_cli.run(args)
    return _run(args, demo=args.command == "demo")


if __name__ == "__main__":
    sys.exit(main())
