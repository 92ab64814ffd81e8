"""The Voice connector's HTTP side: the library served as npm installed it (or a clear 503),
and a call's VoiceCall state for its own agent only."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.harness import next_message, running_proxy
from tests.integration.flows.test_call_log import eventually
from tests.integration.flows.test_voice_calls import ring, voice_socket

PACKAGE = (
    Path(__file__).resolve().parents[3] / ".tools/scv/node_modules/@salesforce/scv-connector-base"
)


def test_the_library_and_its_licence_are_served_unmodified(tmp_path: Path) -> None:
    """/voice/vendor/ serves the installed package's own files, byte for byte."""
    with running_proxy(tmp_path) as proxy:
        script = httpx.get(f"{proxy.base_url}/voice/vendor/scv-connector-base.js")
        licence = httpx.get(f"{proxy.base_url}/voice/vendor/LICENSE.txt")
        other = httpx.get(f"{proxy.base_url}/voice/vendor/package.json")
        page = httpx.get(f"{proxy.base_url}/voice/connector.html")
    assert script.content == (PACKAGE / "dist/scv-connector-base.js").read_bytes()
    assert "javascript" in script.headers["content-type"]
    assert licence.content == (PACKAGE / "LICENSE.txt").read_bytes()
    assert other.status_code == 404
    assert page.status_code == 200 and "/voice/vendor/scv-connector-base.js" in page.text


def test_a_missing_library_is_a_503_that_says_how_to_install_it(tmp_path: Path) -> None:
    with running_proxy(tmp_path, voice_connector_library=str(tmp_path / "none")) as proxy:
        script = httpx.get(f"{proxy.base_url}/voice/vendor/scv-connector-base.js")
    assert script.status_code == 503
    assert "npm install --prefix .tools/scv @salesforce/scv-connector-base@3.6.2" in script.text


async def test_a_calls_voicecall_state_is_its_own_agents_to_read(tmp_path: Path) -> None:
    """Signed out: 401. The agent's own Voice call: written, with its VoiceCall id. The same
    call asked by another agent: none, as if it did not exist."""
    with running_proxy(tmp_path, voice_scrt_url="standin://") as proxy:
        async with voice_socket(proxy, "1001") as ws:
            await next_message(ws)
            call_id = await ring(proxy, ws)
            url = f"{proxy.base_url}/api/v1/voice/calls/{call_id}"
            assert httpx.get(url).status_code == 401
            own_token = proxy.sign_in("1001")

            def own() -> dict[str, str]:
                answer: dict[str, str] = httpx.get(
                    url, headers={"authorization": f"Bearer {own_token}"}
                ).json()
                return answer if answer["state"] == "written" else {}

            found = eventually(own)
            other = httpx.get(url, headers={"authorization": f"Bearer {proxy.sign_in('1002')}"})
    assert found["voice_call_id"].startswith("0LQ")
    assert other.json() == {"state": "none", "voice_call_id": ""}
