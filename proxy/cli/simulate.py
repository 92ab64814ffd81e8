"""`softphone-proxy simulate call`: ring an agent from the built-in PBX simulator."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser("simulate", help="drive the built-in PBX simulator")
    sim_commands = simulate.add_subparsers(dest="what", required=True)
    call = sim_commands.add_parser("call", help="ring an agent with an inbound call")
    call.add_argument("--agent", required=True)
    call.add_argument("--ani", default="", help="caller's number")
    call.add_argument("--dnis", default="", help="dialled number")
    call.add_argument("--ivr", action="append", default=[], help="Object.Field=value, repeatable")
    call.add_argument("--queue", default="")
    call.add_argument("--url", default="http://127.0.0.1:8080", help="the running proxy")
    call.set_defaults(run=_simulate_call)


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
