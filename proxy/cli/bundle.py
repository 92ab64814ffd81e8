"""`softphone-proxy support-bundle`: a zip for a support case, with no secret in it."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import json
import platform
import sys
import zipfile
from collections import deque
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from proxy.cli.check import diagnose
from proxy.logs import URL_PASSWORD, RedactSecrets, secrets_of
from proxy.settings import Settings
from proxy.store import open_store

PACKAGES = (
    "softphone-proxy",
    "fastapi",
    "uvicorn",
    "websockets",
    "sqlalchemy",
    "alembic",
    "simple-salesforce",
    "pydantic",
    "phonenumbers",
    "prometheus-client",
)
LOG_TAIL_LINES = 5000


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bundle = commands.add_parser("support-bundle", help="a zip for a support case, no secrets")
    bundle.add_argument("--output", "-o", type=Path)
    bundle.add_argument("--log", type=Path, action="append", default=[], help="a log file")
    bundle.add_argument("--url", default="", help="the running proxy, for metrics and /readyz")
    bundle.set_defaults(run=main_bundle)


def redacted_settings(settings: Settings) -> dict[str, Any]:
    """The settings with every secret, and credentials inside URLs, replaced by ***."""
    data: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "***" if value.get_secret_value() else ""
        elif isinstance(value, str):
            value = URL_PASSWORD.sub(r"\1***@", value)
        elif isinstance(value, Path):
            value = str(value)
        data[name] = value
    return json.loads(json.dumps(data, default=str))  # type: ignore[no-any-return]


def _versions() -> str:
    lines = [f"python {platform.python_version()} ({platform.platform()})"]
    for package in PACKAGES:
        try:
            lines.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{package} not installed")
    return "\n".join(lines) + "\n"


def _tail(path: Path, redact: RedactSecrets) -> str:
    with path.open(encoding="utf-8", errors="replace") as handle:
        lines = deque(handle, maxlen=LOG_TAIL_LINES)
    return redact.redact("".join(lines))


async def _outbox(settings: Settings) -> str:
    async with open_store(settings.database_url) as store:
        counts = await store.outbox_counts()
        dead = await store.outbox_rows("dead")
    lines = [", ".join(f"{n} {s}" for s, n in counts.items())]
    lines += [f"dead {r.call_object}: {r.last_error}" for r in dead[-50:]]
    return "\n".join(lines) + "\n"


def run_bundle(args: argparse.Namespace) -> int:
    settings = Settings()
    redact = RedactSecrets(secrets_of(settings))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    output = args.output or Path(f"softphone-support-{stamp}.zip")
    check_args = argparse.Namespace(
        certfile=None,
        keyfile=None,
        host="",
        ca_file=None,
        url="",
        callcenter_xml=None,
        link_timeout=3.0,
    )
    results = asyncio.run(diagnose(check_args, settings))
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("settings.json", json.dumps(redacted_settings(settings), indent=2))
        bundle.writestr("versions.txt", _versions())
        bundle.writestr("check.txt", "\n".join(r.line() for r in results) + "\n")
        try:
            bundle.writestr("outbox.txt", asyncio.run(_outbox(settings)))
        except Exception as exc:  # the store may be what is broken: say so in the bundle
            bundle.writestr("outbox.txt", f"could not read the outbox: {exc}\n")
        if args.url:
            for page in ("metrics", "readyz"):
                try:
                    body = requests.get(f"{args.url.rstrip('/')}/{page}", timeout=10).text
                except requests.RequestException as exc:
                    body = f"could not fetch: {exc}"
                bundle.writestr(f"{page}.txt", body)
        for log in args.log:
            try:
                bundle.writestr(f"logs/{log.name}", _tail(log, redact))
            except OSError as exc:
                bundle.writestr(f"logs/{log.name}.error", f"could not read: {exc}\n")
    print(f"wrote {output}: attach it to the support case (no passwords, keys or tokens in it)")
    return 0


def main_bundle(args: argparse.Namespace) -> int:
    try:
        return run_bundle(args)
    except OSError as exc:
        print(f"softphone-proxy support-bundle: {exc}", file=sys.stderr)
        return 2
