"""`softphone-proxy serve` and `softphone-proxy demo`: the proxy under uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile

from pydantic import ValidationError

from proxy.app import check_seams, exit_status
from proxy.logs import configure_logging
from proxy.server import bind, build_server, serve, url_of
from proxy.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    serve_cmd.set_defaults(run=lambda args: _run(args, demo=False))
    demo_cmd.set_defaults(run=lambda args: _run(args, demo=True))


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
    if settings.salesforce_url.startswith("standin:"):
        # Voice agents' calls become VoiceCalls at the stand-in org (docs/salesforce-voice.md).
        demo_defaults["voice_scrt_url"] = "standin://"
    keep = {k: v for k, v in demo_defaults.items() if f"SOFTPHONE_{k.upper()}" not in os.environ}
    return settings.model_copy(update=keep)


def console_url(base: str) -> str:
    """The demo console's address: `localhost` where the proxy is `127.0.0.1`, so the console
    frames the softphone cross-site (two sites), as Salesforce does."""
    return base.replace("://127.0.0.1:", "://localhost:", 1) + "/console/"


def _run(args: argparse.Namespace, demo: bool) -> int:
    try:
        settings = _settings(demo)
        check_seams(settings)
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
    server, app = build_server(
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
                "  Sign in as 1001 (to 1005), maria@demo.example (extension 2201) or the\n"
                "  hot-desk desk@demo.example, password 'demo'. Ctrl+C stops it.\n",
                flush=True,
            )
        else:
            print(f"softphone-proxy serving {base}/softphone/softphone.html", flush=True)

    asyncio.run(serve(server, sock, announce))
    return exit_status(app)
