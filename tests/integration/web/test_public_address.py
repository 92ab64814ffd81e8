"""The proxy behind a TLS terminator, as customers run it: sockets, forwarded headers, CSRF.

The terminator adds no headers (an L4 load balancer): the proxy sees plain http from 127.0.0.1
while browsers say `Origin: https://softphone.acme.test`. The real `websockets` client plays the
browser, over TLS through the terminator, with the headers a browser sends.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from proxy.agents.auth import SESSION_COOKIE
from tests.harness import RunningProxy, next_message, running_proxy
from tests.tls_terminator import PUBLIC_HOST, Terminator, tls_terminator

PUBLIC = f"https://{PUBLIC_HOST}"
FOREIGN = "https://evil.example"


@pytest.fixture
def behind(tmp_path: Path) -> Iterator[tuple[RunningProxy, Terminator]]:
    """A demo proxy on plain http, and a TLS terminator in front of it."""
    with running_proxy(tmp_path) as proxy, tls_terminator(proxy.base_url) as terminator:
        yield proxy, terminator


def _tls(terminator: Terminator) -> ssl.SSLContext:
    context = ssl.create_default_context()
    terminator.ca.configure_trust(context)
    return context


def _browser_socket(
    terminator: Terminator, token: str = "", origin: str = PUBLIC, **extra: Any
) -> Any:
    """A websocket as the page opens it: wss to the public host, with the page's Origin."""
    protocols = ["softphone.v2", f"auth.{token}"] if token else ["softphone.v2"]
    return websockets.connect(
        f"wss://{PUBLIC_HOST}/ws/agent",
        host="127.0.0.1",
        port=terminator.port,
        ssl=_tls(terminator),
        server_hostname=PUBLIC_HOST,
        origin=origin,  # type: ignore[arg-type]
        subprotocols=protocols,  # type: ignore[arg-type]
        **extra,
    )


async def _refused(connect: Any) -> None:
    """The handshake is refused (403) before any session is looked at."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect:
            pass
    assert refused.value.response.status_code == 403


async def _welcomed(ws: Any) -> dict[str, Any]:
    message = await next_message(ws)
    assert message["type"] == "welcome", message
    return message


async def test_socket_opens_from_the_public_origin_behind_a_plain_terminator(
    behind: tuple[RunningProxy, Terminator],
) -> None:
    """No forwarded headers and no public URL: the page's own https origin still gets its socket."""
    proxy, terminator = behind
    token = proxy.sign_in("1001")
    async with _browser_socket(terminator, token) as ws:
        welcome = await _welcomed(ws)
        assert welcome["agent"]["address"] == "1001"


async def test_socket_from_a_foreign_origin_is_refused_behind_the_terminator(
    behind: tuple[RunningProxy, Terminator],
) -> None:
    """A page on another site that an agent visits cannot open their socket, token or not."""
    proxy, terminator = behind
    token = proxy.sign_in("1001")
    await _refused(_browser_socket(terminator, token, origin=FOREIGN))


async def test_public_url_names_our_origin_when_the_balancer_rewrites_host(
    tmp_path: Path,
) -> None:
    """A balancer that sends its own Host upstream: SOFTPHONE_PUBLIC_URL is what is allowed."""
    with running_proxy(tmp_path, public_url=PUBLIC) as proxy:
        token = proxy.sign_in("1002")
        async with websockets.connect(
            proxy.ws_url,
            subprotocols=["softphone.v2", f"auth.{token}"],  # type: ignore[list-item]
            origin=PUBLIC,  # type: ignore[arg-type]
        ) as ws:
            assert (await _welcomed(ws))["agent"]["address"] == "1002"
    (tmp_path / "without").mkdir()
    with running_proxy(tmp_path / "without") as proxy:
        token = proxy.sign_in("1002")
        await _refused(
            websockets.connect(
                proxy.ws_url,
                subprotocols=["softphone.v2", f"auth.{token}"],  # type: ignore[list-item]
                origin=PUBLIC,  # type: ignore[arg-type]
            )
        )


def test_forwarded_headers_count_only_from_trusted_proxies(tmp_path: Path) -> None:
    """X-Forwarded-Proto and Forwarded make the request https (HSTS) only from a trusted peer."""
    forwarded = [
        {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"},
        {"forwarded": 'for="203.0.113.9:4711";proto=https;host=softphone.acme.test'},
    ]
    for name in ("untrusted", "trusted"):
        (tmp_path / name).mkdir()
    with running_proxy(tmp_path / "untrusted") as proxy:
        for headers in forwarded:
            response = httpx.get(f"{proxy.base_url}/healthz", headers=headers)
            assert "strict-transport-security" not in response.headers, headers
    with running_proxy(tmp_path / "trusted", trusted_proxies=["127.0.0.1"]) as proxy:
        for headers in forwarded:
            response = httpx.get(f"{proxy.base_url}/healthz", headers=headers)
            assert "strict-transport-security" in response.headers, headers
        plain = httpx.get(f"{proxy.base_url}/healthz")
        assert "strict-transport-security" not in plain.headers


async def test_socket_opens_with_trusted_forwarded_headers(tmp_path: Path) -> None:
    """An L7 balancer (trusted, as nginx with `Host $host`) passes the public host and says
    https: the page's socket opens."""
    with running_proxy(tmp_path, trusted_proxies=["127.0.0.1"]) as proxy:
        token = proxy.sign_in("1003")
        async with websockets.connect(
            f"ws://{PUBLIC_HOST}/ws/agent",
            host="127.0.0.1",
            port=int(proxy.base_url.rsplit(":", 1)[1]),
            subprotocols=["softphone.v2", f"auth.{token}"],  # type: ignore[list-item]
            origin=PUBLIC,  # type: ignore[arg-type]
            additional_headers={"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9"},
        ) as ws:
            assert (await _welcomed(ws))["agent"]["address"] == "1003"


def test_session_cookie_is_partitioned_and_resumes_the_session(
    behind: tuple[RunningProxy, Terminator],
) -> None:
    """Sign-in sets a Secure, HttpOnly, partitioned cookie; it alone says who is signed in,
    until sign-out clears it."""
    _, terminator = behind
    with httpx.Client(
        base_url=f"https://127.0.0.1:{terminator.port}",
        verify=_tls(terminator),
        headers={"origin": PUBLIC, "host": PUBLIC_HOST},
    ) as client:
        assert client.get("/api/v1/sessions/current").json() == {"agent": None}
        signed = client.post("/api/v1/sessions", json={"address": "1004", "password": "demo"})
        assert signed.status_code == 201
        cookie = signed.headers["set-cookie"]
        for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
            assert attribute in cookie, cookie
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        current = client.get("/api/v1/sessions/current")
        assert current.json()["agent"]["address"] == "1004"
        assert current.headers["cache-control"] == "no-store"
        assert client.delete("/api/v1/sessions").status_code == 204
        assert client.get("/api/v1/sessions/current").json() == {"agent": None}


async def test_cookie_alone_signs_the_socket_in_but_not_from_a_foreign_site(
    behind: tuple[RunningProxy, Terminator],
) -> None:
    """A reloaded page with no token: its cookie opens the socket; the same cookie sent by a
    foreign page (cross-site websocket hijacking) does not."""
    proxy, terminator = behind
    token = proxy.sign_in("1005")
    cookie = {"cookie": f"{SESSION_COOKIE}={token}"}
    async with _browser_socket(terminator, additional_headers=cookie) as ws:
        assert (await _welcomed(ws))["agent"]["address"] == "1005"
    await _refused(_browser_socket(terminator, origin=FOREIGN, additional_headers=cookie))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/sessions", {"address": "1001", "password": "demo"}),
        ("DELETE", "/api/v1/sessions", None),
        ("POST", "/sim/calls", {"agent": "1001", "ani": "+16504508810"}),
    ],
)
def test_cross_site_requests_that_change_state_are_refused(
    proxy: RunningProxy, method: str, path: str, body: dict[str, str] | None
) -> None:
    """A form or fetch from another site is refused before it signs anyone in or out or rings."""
    token = proxy.sign_in("1001")
    cookie = {"cookie": f"{SESSION_COOKIE}={token}"}
    for headers in (
        {"origin": FOREIGN},
        {"origin": "null"},  # a sandboxed frame or a redirect hides where it came from
        {"sec-fetch-site": "cross-site"},  # no Origin, but the browser still says cross-site
    ):
        response = httpx.request(
            method,
            f"{proxy.base_url}{path}",
            # A cross-site HTML form can only send these content types.
            content=b"address=1001&password=demo" if body else None,
            headers={**headers, **cookie, "content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 403, (headers, response.text)
        assert response.json()["detail"]["code"] == "cross_site"
    # Nothing happened: the agent is still signed in, and no call rang.
    current = httpx.get(f"{proxy.base_url}/api/v1/sessions/current", headers=cookie)
    assert current.json()["agent"]["address"] == "1001"
    assert httpx.get(f"{proxy.base_url}/sim/calls").json() == []
    # The same requests from our own page, and from a non-browser client, go through.
    own = httpx.post(
        f"{proxy.base_url}/api/v1/sessions",
        json={"address": "1001", "password": "demo"},
        headers={"origin": proxy.base_url, "sec-fetch-site": "same-origin"},
    )
    assert own.status_code == 201
