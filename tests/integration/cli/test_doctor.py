"""The doctor (`softphone-proxy check`) and the support bundle."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import trustme

from proxy.cli import doctor
from proxy.salesforce.callcenter import CallCenterOptions, callcenter_xml
from proxy.settings import Settings
from proxy.store import AgentRecord, open_store
from tests.integration.links.link_peers import BridgePeer
from tests.integration.links.peers.csta_peer import CstaPeer

CLI = [sys.executable, "-m", "proxy.cli"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write_cert(tmp_path: Path, ca: trustme.CA, **options: object) -> tuple[Path, Path, Path]:
    cert = ca.issue_cert("softphone.acme.example", "127.0.0.1", **options)  # type: ignore[arg-type]
    certfile, keyfile, cafile = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    return certfile, keyfile, cafile


def levels(results: list[doctor.Result]) -> dict[str, str]:
    return {r.check: r.level for r in results}


def test_a_good_certificate_passes(tmp_path: Path, ca: trustme.CA) -> None:
    """Key, chain, host name and expiry all PASS for a proper certificate."""
    cert, key, root = write_cert(tmp_path, ca)
    results = doctor.check_certificate(cert, key, "softphone.acme.example", root)
    assert levels(results) == {"private key": "PASS", "expiry": "PASS", "chain": "PASS"}


def test_the_wrong_host_name_fails_naming_the_certificates_names(
    tmp_path: Path, ca: trustme.CA
) -> None:
    """A certificate for another host FAILs and says which names it does cover."""
    cert, key, root = write_cert(tmp_path, ca)
    (result,) = [
        r
        for r in doctor.check_certificate(cert, key, "pbx.other.example", root)
        if r.check == "host name"
    ]
    assert result.level == "FAIL"
    assert "softphone.acme.example" in result.detail and "pbx.other.example" in result.detail


def test_an_expiring_certificate_warns_and_an_expired_one_fails(
    tmp_path: Path, ca: trustme.CA
) -> None:
    """Under 30 days left: WARN with the date; past it: FAIL."""
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    cert, key, root = write_cert(tmp_path, ca, not_after=soon)
    expiry = next(
        r for r in doctor.check_certificate(cert, key, "127.0.0.1", root) if r.check == "expiry"
    )
    assert expiry.level == "WARN" and "renew" in expiry.detail
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=11)
    expired = next(
        r
        for r in doctor.check_certificate(cert, key, "127.0.0.1", root, now=later)
        if r.check == "expiry"
    )
    assert expired.level == "FAIL"


def test_a_key_that_is_not_the_certificates_fails(tmp_path: Path, ca: trustme.CA) -> None:
    """The wrong private key is caught before uvicorn refuses to start."""
    cert, _, root = write_cert(tmp_path, ca)
    other = tmp_path / "other.pem"
    ca.issue_cert("x.example").private_key_pem.write_to_path(str(other))
    result = levels(doctor.check_certificate(cert, other, "127.0.0.1", root))
    assert result["private key"] == "FAIL"


def test_an_untrusted_chain_fails(tmp_path: Path, ca: trustme.CA) -> None:
    """A certificate from a CA the browsers do not trust FAILs the chain check."""
    cert, key, _ = write_cert(tmp_path, ca)
    other_root = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_root))
    assert levels(doctor.check_certificate(cert, key, "127.0.0.1", other_root))["chain"] == "FAIL"


async def test_the_database_check_knows_migrated_from_not(tmp_path: Path) -> None:
    """A new database WARNs (the next start migrates it); a migrated one PASSes."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/d.db")
    assert (await doctor.check_store(settings)).level == "WARN"
    async with open_store(settings.database_url):
        pass
    assert (await doctor.check_store(settings)).level == "PASS"
    broken = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/missing-dir/d.db")
    assert (await doctor.check_store(broken)).level == "FAIL"


async def test_the_link_check_sees_a_pbx_or_its_absence(tmp_path: Path) -> None:
    """A reachable bridge PASSes with the roster's devices monitored; nothing listening FAILs."""
    database = f"sqlite+aiosqlite:///{tmp_path}/d.db"
    async with open_store(database) as store:
        await store.put_agent(AgentRecord("alex@acme.example", "Alex", "1001", "regular", "x"))
    peer = BridgePeer()
    async with peer.running():
        peer.set_snapshot([{"kind": "established", "call_id": "c1", "agent": "1001"}])
        ok = await doctor.check_link(Settings(cti_url=peer.url, database_url=database), 3)
    assert ok.level == "PASS" and "monitoring 1 devices" in ok.detail, ok
    gone = await doctor.check_link(Settings(cti_url="bridge+ws://127.0.0.1:9/x"), 1)
    assert gone.level == "FAIL"


async def test_the_link_check_names_roster_extensions_the_pbx_does_not_monitor(
    tmp_path: Path,
) -> None:
    """An extension the switch refuses to monitor WARNs with its agent; an extra is only told."""
    database = f"sqlite+aiosqlite:///{tmp_path}/d.db"
    async with open_store(database) as store:
        for address, extension in (("maria@acme.example", "2201"), ("ghost@acme.example", "2299")):
            await store.put_agent(AgentRecord(address, address, extension, "regular", "x"))
    peer = CstaPeer(devices=("3001",))
    async with peer.running():
        peer.refuse("2299", "invalid_device")
        found = await doctor.check_link(Settings(cti_url=peer.url, database_url=database), 5)
    assert found.level == "WARN", found
    assert "not monitored: 2299 (ghost@acme.example)" in found.detail
    assert "no agent's extension: 3001" in found.detail and "2201" not in found.detail


def test_the_call_center_must_point_at_this_server(tmp_path: Path) -> None:
    """An imported call center whose adapter URL is another host FAILs, naming both."""
    xml = tmp_path / "cc.xml"
    xml.write_bytes(callcenter_xml(CallCenterOptions(url="https://old.example.com/softphone.html")))
    served = "https://softphone.acme.example/softphone/softphone.html"
    result = doctor.check_callcenter(xml, served)
    assert result.level == "FAIL" and "old.example.com" in result.detail
    assert doctor.check_callcenter(xml, "https://old.example.com/softphone.html").level == "PASS"


def test_check_command_reports_and_exits_by_the_worst_finding(tmp_path: Path) -> None:
    """Against the demo org and a dead PBX address: readable lines, and exit code 2."""
    env = {
        **os.environ,
        "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db",
        "SOFTPHONE_CTI_URL": "bridge+ws://127.0.0.1:9/bridge",
    }
    result = subprocess.run(
        [*CLI, "check", "--link-timeout", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "PASS  salesforce: signed in, API v60.0" in result.stdout
    assert "PASS  API budget:" in result.stdout
    assert "FAIL  CTI link:" in result.stdout
    assert "WARN  database:" in result.stdout
    assert result.stdout.rstrip().endswith("problems: see FAIL lines")


def test_the_support_bundle_holds_no_secret(tmp_path: Path) -> None:
    """Settings, versions, the doctor's report and the log tail, with every secret gone."""
    secrets = {
        "SOFTPHONE_SALESFORCE_CONSUMER_SECRET": "consumer-secret-value-1",
        "SOFTPHONE_SALESFORCE_PASSWORD": "org-password-value-2",
        "SOFTPHONE_METRICS_TOKEN": "metrics-token-value-3",
        "SOFTPHONE_ADMIN_PASSWORD": "admin-password-value-4",
    }
    log = tmp_path / "proxy.log"
    log.write_text(
        "INFO started\nERROR sign-in failed for consumer-secret-value-1 and "
        "ami-secret-5\nINFO done\n"
    )
    env = {
        **os.environ,
        **secrets,
        "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/b.db",
        "SOFTPHONE_CTI_URL": "ami://manager:ami-secret-5@127.0.0.1:9",
        "SOFTPHONE_SALESFORCE_URL": "browser://",
    }
    out = tmp_path / "bundle.zip"
    result = subprocess.run(
        [*CLI, "support-bundle", "-o", str(out), "--log", str(log)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        content = b"".join(bundle.read(n) for n in names).decode()
    assert {"settings.json", "versions.txt", "check.txt", "outbox.txt", "logs/proxy.log"} <= names
    for secret in [*secrets.values(), "ami-secret-5"]:
        assert secret not in content
    assert "ERROR sign-in failed for *** and ***" in content
    assert '"salesforce_consumer_secret": "***"' in content
    assert "ami://manager:***@127.0.0.1:9" in content


def test_doctor_shows_the_origin_browsers_must_use(tmp_path: Path) -> None:
    """Without SOFTPHONE_PUBLIC_URL the doctor warns (plain http behind a balancer needs it);
    with it, it names the origin, checks the certificate against its host, and the call center
    XML is compared with its page."""
    assert levels([doctor.check_public_url(Settings())]) == {"public address": "WARN"}
    plain = doctor.check_public_url(Settings(public_url="http://softphone.acme.example"))
    assert plain.level == "WARN" and "not https" in plain.detail
    env = {
        **os.environ,
        "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/p.db",
        "SOFTPHONE_PUBLIC_URL": "https://softphone.acme.example",
    }
    xml = tmp_path / "callcenter.xml"
    made = subprocess.run(
        [*CLI, "callcenter-xml", "--output", str(xml)], env=env, capture_output=True, check=False
    )
    assert made.returncode == 0, made.stderr
    assert b"https://softphone.acme.example/softphone/softphone.html" in xml.read_bytes()
    result = subprocess.run(
        [*CLI, "check", "--link-timeout", "1", "--callcenter-xml", str(xml)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "PASS  public address: browsers must use https://softphone.acme.example" in (
        result.stdout
    )
    assert "PASS  call center: adapter URL https://softphone.acme.example/" in result.stdout
