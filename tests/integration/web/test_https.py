"""HTTPS and WSS with a real certificate, security headers, and the websocket Origin check."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import trustme
import websockets

from tests.harness import RunningProxy, running_proxy

CLI = [sys.executable, "-m", "proxy.cli"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving_https(tmp_path: Path, ca: trustme.CA, **env: str) -> Iterator[str]:
    """`softphone-proxy serve --certfile --keyfile` with the simulator and demo agents."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    port = free_port()
    environ = {
        **os.environ,
        "SOFTPHONE_DEMO": "true",
        "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/https.db",
        **env,
    }
    args = ["serve", "--port", str(port), "--certfile", str(certfile), "--keyfile", str(keyfile)]
    proc = subprocess.Popen([*CLI, *args], env=environ)
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with ca.cert_pem.tempfile() as ca_file:
                    if (
                        httpx.get(
                            f"{base}/healthz", verify=ssl.create_default_context(cafile=ca_file)
                        ).status_code
                        == 200
                    ):
                        break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def test_https_serves_the_page_with_hsts_and_the_simulator_link_comes_up(
    tmp_path: Path, ca: trustme.CA
) -> None:
    """Over HTTPS: the page, HSTS, CSP framing for Salesforce, and wss to the simulator works."""
    with serving_https(tmp_path, ca) as base, ca.cert_pem.tempfile() as ca_file:
        page = httpx.get(
            f"{base}/softphone/softphone.html", verify=ssl.create_default_context(cafile=ca_file)
        )
        assert page.status_code == 200
        assert page.headers["strict-transport-security"].startswith("max-age=31536000")
        assert (
            "frame-ancestors 'self' https://*.force.com" in page.headers["content-security-policy"]
        )
        deadline = time.monotonic() + 10
        while True:  # a call rings only once the proxy's own wss link to the simulator is up
            ring = httpx.post(
                f"{base}/sim/calls",
                json={"agent": "1001", "ani": "+16504508810"},
                verify=ssl.create_default_context(cafile=ca_file),
            )
            listed = httpx.get(
                f"{base}/sim/calls", verify=ssl.create_default_context(cafile=ca_file)
            ).json()
            if ring.status_code == 201 and listed:
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_serve_refuses_plain_http_unless_allowed(tmp_path: Path) -> None:
    """Salesforce frames only https pages: plain HTTP must be asked for by name."""
    env = {**os.environ, "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    result = subprocess.run(
        [*CLI, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "--certfile" in result.stderr and "--allow-http" in result.stderr


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(tmp_path, salesforce_my_domains=["acme.my.salesforce.com"]) as running:
        yield running


def test_security_headers_and_my_domain_framing(proxy: RunningProxy) -> None:
    """Every response says nosniff and a referrer policy; the org's My Domain may frame us."""
    response = httpx.get(f"{proxy.base_url}/softphone/softphone.html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "x-frame-options" not in response.headers
    csp = response.headers["content-security-policy"]
    assert "https://acme.my.salesforce.com" in csp.split("frame-ancestors")[1]
    assert "strict-transport-security" not in response.headers  # plain HTTP in tests


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("OWN", True),
        ("https://acme.lightning.force.com", True),
        ("https://acme.my.salesforce.com", True),
        ("https://evil.example.com", False),
        ("https://force.com.evil.example.com", False),
        ("null", False),
    ],
)
async def test_websocket_origin_is_checked(
    proxy: RunningProxy, origin: str | None, allowed: bool
) -> None:
    """Only our own page and Salesforce's origins may open an agent socket."""
    token = proxy.sign_in()
    headers = {}
    if origin is not None:
        headers["Origin"] = proxy.base_url if origin == "OWN" else origin
    connect = websockets.connect(
        proxy.ws_url,
        subprotocols=["softphone.v2", f"auth.{token}"],  # type: ignore[list-item]
        additional_headers=headers,
    )
    if allowed:
        async with connect as ws:
            assert '"welcome"' in str(await ws.recv())
    else:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect:
                pass
        assert refused.value.response.status_code == 403
