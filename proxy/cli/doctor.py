"""`softphone-proxy check`: what is wrong, said before the agents find out.

Each check gives PASS, WARN or FAIL with a sentence an admin can act on. The exit code is 0
when everything passed, 1 when something warned, 2 when something failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import ipaddress
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from defusedxml import ElementTree as SafeXml
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from proxy.settings import Settings

Level = Literal["PASS", "WARN", "FAIL"]
EXPIRY_WARNING_DAYS = 30
SKEW_WARN, SKEW_FAIL = 5.0, 60.0


@dataclass(frozen=True)
class Result:
    level: Level
    check: str
    detail: str

    def line(self) -> str:
        return f"{self.level}  {self.check}: {self.detail}"


def exit_code(results: list[Result]) -> int:
    levels = {r.level for r in results}
    return 2 if "FAIL" in levels else 1 if "WARN" in levels else 0


# --- public address ---------------------------------------------------------------------------
def check_public_url(settings: Settings) -> Result:
    """The origin agents' browsers must use, which the proxy cannot see behind a balancer."""
    public = settings.public_url.rstrip("/")
    if not public:
        return Result(
            "WARN",
            "public address",
            "SOFTPHONE_PUBLIC_URL is not set: with --allow-http behind a TLS-terminating load "
            "balancer, set it to the https address agents' browsers use "
            "(e.g. https://softphone.acme.com), or sign-in with Salesforce and the call "
            "center XML name the wrong address",
        )
    if urlsplit(public).scheme != "https":
        return Result(
            "WARN",
            "public address",
            f"browsers must use {public}, which is not https: Salesforce frames only https pages",
        )
    return Result("PASS", "public address", f"browsers must use {public}")


# --- certificate ------------------------------------------------------------------------------
def check_certificate(
    certfile: Path,
    keyfile: Path | None,
    host: str,
    ca_file: Path | None = None,
    now: dt.datetime | None = None,
) -> list[Result]:
    now = now or dt.datetime.now(dt.UTC)
    try:
        chain = x509.load_pem_x509_certificates(certfile.read_bytes())
    except (OSError, ValueError) as exc:
        return [Result("FAIL", "certificate", f"cannot read {certfile}: {exc}")]
    leaf, intermediates = chain[0], chain[1:]
    results: list[Result] = []
    if keyfile is not None:
        try:
            key = serialization.load_pem_private_key(keyfile.read_bytes(), password=None)
            same = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ) == leaf.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            results.append(
                Result("PASS", "private key", "matches the certificate")
                if same
                else Result("FAIL", "private key", f"{keyfile} is not the certificate's key")
            )
        except (OSError, ValueError, TypeError) as exc:
            results.append(Result("FAIL", "private key", f"cannot read {keyfile}: {exc}"))
    left = leaf.not_valid_after_utc - now
    if left.total_seconds() <= 0:
        results.append(Result("FAIL", "expiry", f"expired on {leaf.not_valid_after_utc:%Y-%m-%d}"))
    elif left.days < EXPIRY_WARNING_DAYS:
        results.append(
            Result(
                "WARN",
                "expiry",
                f"expires in {left.days} days ({leaf.not_valid_after_utc:%Y-%m-%d}): renew it",
            )
        )
    else:
        results.append(Result("PASS", "expiry", f"valid until {leaf.not_valid_after_utc:%Y-%m-%d}"))
    results.append(_verify_chain(leaf, intermediates, host, ca_file, now))
    return results


def _verify_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    host: str,
    ca_file: Path | None,
    now: dt.datetime,
) -> Result:
    if ca_file is not None:
        roots = x509.load_pem_x509_certificates(ca_file.read_bytes())
    else:
        import certifi

        roots = x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes())
    try:
        subject: x509.DNSName | x509.IPAddress
        try:
            subject = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            subject = x509.DNSName(host)
        # Browsers accept critical subjectAltName and extendedKeyUsage extensions, which the
        # strict web PKI profile rejects; check what browsers check, not more.
        ee_policy = (
            ExtensionPolicy.webpki_defaults_ee()
            .require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
            .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
        )
        verifier = (
            PolicyBuilder()
            .store(Store(roots))
            .time(min(now, leaf.not_valid_after_utc - dt.timedelta(seconds=1)))
            .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
            .build_server_verifier(subject)
        )
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        reason = str(exc)
        if "no matching subjectAltName" in reason:
            names = _names(leaf)
            return Result("FAIL", "host name", f"the certificate is for {names}, not {host!r}")
        return Result("FAIL", "chain", f"does not lead to a trusted root: {reason}")
    return Result("PASS", "chain", f"trusted, and valid for {host}")


def _names(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "no names"
    names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    names += [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    return ", ".join(names) or "no names"


# --- Salesforce, clock ------------------------------------------------------------------------
async def check_salesforce(settings: Settings) -> list[Result]:
    from proxy.salesforce import open_salesforce

    if settings.salesforce_url.startswith("browser:"):
        return [Result("PASS", "salesforce", "browser:// (agents' browsers search; no user)")]
    try:
        async with open_salesforce(settings) as api:
            if api is None:
                return [Result("PASS", "salesforce", "no integration user configured")]
            objects = await api.object_names()
            usage = api.api_usage
    except Exception as exc:  # any sign-in or API failure is the finding itself
        return [Result("FAIL", "salesforce", f"cannot sign in or query: {exc}")]
    results = [
        Result(
            "PASS",
            "salesforce",
            f"signed in, API v{api.version}, {len(objects)} objects visible",
        )
    ]
    missing = {"Contact", "Account", "Lead", "Task"} - objects
    if missing:
        results.append(
            Result(
                "FAIL", "salesforce objects", f"the user cannot see {', '.join(sorted(missing))}"
            )
        )
    if usage is not None:
        used, limit = usage
        left = limit - used
        level: Level = "PASS" if left > settings.api_budget_floor else "WARN"
        results.append(Result(level, "API budget", f"{left:,} of {limit:,} calls left today"))
    return results


async def check_voice(settings: Settings) -> Result:
    """Salesforce Voice: one request the Telephony Integration API must authenticate and that
    changes nothing (clearing the routing of a call that does not exist)."""
    from proxy.salesforce.voice import TelephonyApi, TelephonyError, credentials_from

    url = settings.voice_scrt_url
    if not url:
        return Result("PASS", "salesforce voice", "not set up (SOFTPHONE_VOICE_SCRT_URL)")
    if url.startswith("standin:"):
        return Result("PASS", "salesforce voice", "the demo org's Telephony Integration API")
    try:
        api = TelephonyApi(url, credentials_from(settings), timeout=10.0)
    except ValueError as exc:
        return Result("FAIL", "salesforce voice", str(exc))
    try:
        answer = await api.check()
    except TelephonyError as exc:
        return Result("FAIL", "salesforce voice", f"{url}: {exc}")
    finally:
        api.close()
    return Result("PASS", "salesforce voice", f"{url}: JWT {answer}")


def check_clock(settings: Settings) -> Result:
    if not settings.salesforce_url.startswith("https://"):
        return Result("PASS", "clock", "no remote org to compare with")
    try:
        response = requests.head(settings.salesforce_url, timeout=10)
        server = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
    except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
        return Result("WARN", "clock", f"could not read Salesforce's time: {exc}")
    skew = abs(time.time() - server)
    if skew > SKEW_FAIL:
        return Result("FAIL", "clock", f"{skew:.0f} s off Salesforce's: JWT sign-in will fail")
    if skew > SKEW_WARN:
        return Result("WARN", "clock", f"{skew:.0f} s off Salesforce's: use NTP")
    return Result("PASS", "clock", f"within {skew:.1f} s of Salesforce's")


# --- CTI link, store --------------------------------------------------------------------------
async def check_link(settings: Settings, wait_seconds: float) -> Result:
    """Connects as the proxy would, monitors the roster's extensions (read from the database),
    and says which of them the PBX does not monitor."""
    from proxy.cluster.probe import link_holder
    from proxy.links import open_link
    from softphone.events import Snapshot

    if settings.cti_url.startswith("sim:"):
        return Result("PASS", "CTI link", "sim:// is the built-in simulator")
    holder = await link_holder(settings)
    if holder:
        # Most PBXs take one application session: ours would make the PBX drop the holder's.
        return Result(
            "PASS",
            "CTI link",
            f"not opened from here: {holder} holds it, and a second session could make the PBX "
            f"drop the holder's (its /readyz says whether its link is up)",
        )
    roster = await _roster_extensions(settings)
    try:
        async with open_link(settings.cti_url, self_url="") as link:
            if roster is not None:
                await link.monitor(frozenset(roster))

            async def first_snapshot() -> Snapshot:
                async for event in link.events():
                    if isinstance(event, Snapshot):
                        return event
                raise ConnectionError("closed")

            await asyncio.wait_for(first_snapshot(), wait_seconds)
            watched = {_bare(d) for d in link.watched}
            detail = f"connected to {link.active_url}, monitoring {len(watched)} devices"
    except TimeoutError:
        return Result("FAIL", "CTI link", f"no answer from the PBX within {wait_seconds:.0f} s")
    except Exception as exc:  # a bad URL or refused connection: the finding itself
        return Result("FAIL", "CTI link", str(exc))
    if roster is None:
        return Result("PASS", "CTI link", f"{detail} (the roster was not readable)")
    missing = sorted(set(roster) - watched)
    strangers = sorted(watched - set(roster))
    if strangers:  # devices= extras: a supervisor's phone, say; worth knowing, not wrong
        detail += f"; monitored but no agent's extension: {_few(strangers)}"
    if missing:
        names = _few([f"{e} ({roster[e]})" for e in missing])
        return Result("WARN", "CTI link", f"{detail}; roster extensions not monitored: {names}")
    return Result("PASS", "CTI link", f"{detail}, every roster extension among them")


async def _roster_extensions(settings: Settings) -> dict[str, str] | None:
    """Extension -> agent address from the database (read only: no migration), or None."""
    url = make_url(settings.database_url)
    sqlite_file = url.get_backend_name() == "sqlite" and url.database
    if sqlite_file and not await asyncio.to_thread(Path(str(url.database)).is_file):
        return None  # connecting would create an empty file where none should be
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT address, extension FROM agents"))).all()
    except Exception:  # no database or never migrated: the database check says so
        return None
    finally:
        await engine.dispose()
    return {str(ext).strip(): str(address) for address, ext in rows if str(ext or "").strip()}


def _bare(device: str) -> str:
    """`PJSIP/1001` (an Asterisk device) is extension 1001."""
    return device.rpartition("/")[2]


def _few(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


async def check_store(settings: Settings) -> Result:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from proxy.store.engine import MIGRATIONS, too_new

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        folder = Path(url.database).parent
        if not await asyncio.to_thread(folder.is_dir):
            return Result("FAIL", "database", f"the folder {folder} does not exist")
    engine = create_async_engine(settings.database_url)
    current = None
    try:
        async with engine.connect() as conn:
            # A table made and dropped: proves the database takes writes (and schema changes,
            # which migrations need), and leaves nothing behind. Explicit DROP, because SQLite
            # commits DDL outside the driver's transaction.
            await conn.execute(text("CREATE TABLE softphone_doctor_probe (x INTEGER)"))
            await conn.execute(text("DROP TABLE softphone_doctor_probe"))
            await conn.commit()
            with contextlib.suppress(Exception):  # no table: never migrated
                current = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
    except Exception as exc:  # unreachable, read-only, no permission: the finding itself
        return Result("FAIL", "database", f"not writable: {exc}")
    finally:
        await engine.dispose()
    newer = too_new(current)
    if newer:
        return Result("FAIL", "database", newer)
    if current != head:
        return Result(
            "WARN",
            "database",
            f"schema at {current or 'none'}, code expects {head}: the next start migrates it",
        )
    return Result("PASS", "database", f"writable, schema at {head}")


async def check_cluster(settings: Settings) -> list[Result]:
    """Redis and PostgreSQL as cluster mode uses them: reachable, recent enough, the lease."""
    from proxy.cluster.probe import probe_cluster

    return [Result(f.level, f.check, f.detail) for f in await probe_cluster(settings)]


def check_callcenter(xml_file: Path, served_url: str) -> Result:
    try:
        root = SafeXml.parse(xml_file).getroot()
    except Exception as exc:  # unreadable or not XML
        return Result("FAIL", "call center", f"cannot read {xml_file}: {exc}")
    if root is None:
        return Result("FAIL", "call center", f"{xml_file} is empty")
    adapter = next(
        (i.text or "" for i in root.iter("item") if i.get("name") == "reqAdapterUrl"), ""
    )
    if adapter.rstrip("/") != served_url.rstrip("/"):
        return Result(
            "FAIL",
            "call center",
            f"its adapter URL is {adapter!r} but this server serves {served_url!r}",
        )
    if urlsplit(adapter).scheme != "https":
        return Result("WARN", "call center", "the adapter URL is not https: Lightning refuses it")
    return Result("PASS", "call center", f"adapter URL {adapter}")
