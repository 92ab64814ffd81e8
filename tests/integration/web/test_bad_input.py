"""Bad input gets a clear answer and loses nothing: the socket, the call and other agents go on."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import websockets

from tests.harness import RunningProxy, next_message, wait_for_call


async def test_malformed_json_gets_an_error_and_the_socket_stays_up(proxy: RunningProxy) -> None:
    """Text that is not JSON is answered with an error message; the next ping still works."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        await ws.send("{not json")
        error = await next_message(ws)
        assert error == {
            "type": "error",
            "code": "bad_message",
            "message": "message is not valid JSON",
            "call_id": None,
        }
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_message(ws))["type"] == "pong"


async def test_unknown_message_type_gets_an_error(proxy: RunningProxy) -> None:
    """A message type the server does not know is refused by name, and the socket stays up."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        await ws.send(json.dumps({"type": "self_destruct"}))
        error = await next_message(ws)
        assert error["code"] == "bad_message" and error["message"] == "unknown message type"
        await ws.send(json.dumps({"type": "answer"}))  # known type, missing call_id
        error = await next_message(ws)
        assert error["code"] == "bad_message" and "call_id" in error["message"]
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_message(ws))["type"] == "pong"


async def test_oversized_message_closes_with_1009(proxy: RunningProxy) -> None:
    """A message over the size limit closes the socket with 1009 (message too big)."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 100_000}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_message(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_wrong_password_is_refused_without_a_session(proxy: RunningProxy) -> None:
    """A wrong password or unknown address gets 401 with a plain reason and no token."""
    for address, password in [("1001", "wrong"), ("9999", "demo")]:
        response = httpx.post(
            f"{proxy.base_url}/api/v1/sessions", json={"address": address, "password": password}
        )
        assert response.status_code == 401
        assert response.json()["detail"] == {
            "code": "wrong_credentials",
            "message": "Wrong sign-in address or password",
        }
        assert "token" not in response.text


async def test_socket_without_valid_session_is_closed_1008(proxy: RunningProxy) -> None:
    """A socket with a made-up token is told to sign in and closed with 1008 (policy)."""
    async with proxy.connect("made-up-token") as ws:
        error = await next_message(ws)
        assert error["code"] == "unauthorized"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_message(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_signed_out_token_no_longer_opens_a_socket(proxy: RunningProxy) -> None:
    """After sign-out the old token is worthless."""
    token = proxy.sign_in()
    response = httpx.delete(
        f"{proxy.base_url}/api/v1/sessions", headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 204
    async with proxy.connect(token) as ws:
        assert (await next_message(ws))["code"] == "unauthorized"


async def test_unknown_ivr_object_rings_without_pop_and_logs_call_id(
    proxy: RunningProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """IVR data naming an object the org lacks: the call rings, nothing pops, one clear log line."""
    caplog.set_level(logging.WARNING, logger="proxy.salesforce.lookup")
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="", ivr=["Bogus__c.Number__c=42"])
        ringing = await wait_for_call(ws, call_id, state="ringing")
        assert ringing["call"]["matching"] is True
        decided = await wait_for_call(ws, call_id, matching=False)
        assert decided["call"]["pop"]["kind"] == "none"
        assert decided["call"]["state"] == "ringing"
    lines = [r.getMessage() for r in caplog.records if call_id in r.getMessage()]
    assert lines == [f"IVR data ignored [call_id={call_id}]: no object 'Bogus__c' in this org"]


async def test_injection_in_ivr_value_matches_nothing(proxy: RunningProxy) -> None:
    """A quote-and-OR value is searched literally: no Case has that number, so nothing pops."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="", ivr=["Case.CaseNumber=1' OR CaseNumber LIKE '%"])
        decided = await wait_for_call(ws, call_id, matching=False)
        assert decided["call"]["pop"]["kind"] == "none"


async def test_command_for_another_agents_call_is_refused(proxy: RunningProxy) -> None:
    """Agent 1002 cannot answer or hang up agent 1001's call; 1001's call rings on."""
    async with (
        proxy.connect(proxy.sign_in("1001")) as ws1,
        proxy.connect(proxy.sign_in("1002")) as ws2,
    ):
        await next_message(ws1)
        await next_message(ws2)
        call_id = proxy.place_call(agent="1001", ani="+16504508810")
        await wait_for_call(ws1, call_id, matching=False)
        for op in ("answer", "hangup"):
            await ws2.send(json.dumps({"type": op, "call_id": call_id}))
            error = await next_message(ws2)
            assert error == {
                "type": "error",
                "code": "no_such_call",
                "message": "That call is not one of your calls",
                "call_id": call_id,
            }
        assert proxy.services.pbx is not None
        assert proxy.services.pbx.legs[proxy.pbx_call_id(call_id)].state == "ringing"


async def test_answering_an_answered_call_says_why_not(proxy: RunningProxy) -> None:
    """Answer on an active call is refused with a reason the page can show."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+16504508810")
        await wait_for_call(ws, call_id, matching=False)
        await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
        await wait_for_call(ws, call_id, state="active")
        await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
        error = await next_message(ws)
        assert error["code"] == "not_allowed"
        assert error["message"] == "The call is already answered"


def test_simulator_refuses_unknown_agent_with_reason(proxy: RunningProxy) -> None:
    """POST /sim/calls for an agent the PBX does not have is 404 and says which agents exist."""
    response = httpx.post(f"{proxy.base_url}/sim/calls", json={"agent": "4242", "ani": "1"})
    assert response.status_code == 404
    assert "no agent '4242'" in response.json()["detail"]
    assert "1001" in response.json()["detail"]


def test_simulator_rejects_malformed_call_request(proxy: RunningProxy) -> None:
    """A call request with unknown fields or too many IVR entries is 422, naming the field."""
    response = httpx.post(f"{proxy.base_url}/sim/calls", json={"agent": "1001", "color": "red"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "color"]
    response = httpx.post(
        f"{proxy.base_url}/sim/calls", json={"agent": "1001", "ivr": ["Case.CaseNumber=1"] * 17}
    )
    assert response.status_code == 422
