"""The Telephony Integration API client against the stand-in's, over HTTPS: JWTs that the org
takes, the ones it refuses (and how the refusal reads), and settings that cannot work."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.salesforce.standin.org import StandinOrg, demo_org
from proxy.salesforce.standin.server import StandinServer
from proxy.salesforce.standin.telephony import new_key_pair
from proxy.salesforce.voice import (
    TelephonyApi,
    TelephonyError,
    VoiceCredentials,
    credentials_from,
)
from proxy.settings import Settings

CREATE = {
    "callCenterApiName": "SoftphoneProxyVoice",
    "vendorCallKey": "call-1",
    "to": "+18005550100",
    "from": "+16504508810",
    "initiationMethod": "Inbound",
    "startTime": "2026-12-02T06:00:00.000Z",
    "participants": [{"participantKey": "+16504508810", "type": "END_USER"}],
}


@pytest.fixture
async def standin() -> AsyncIterator[tuple[StandinOrg, StandinServer]]:
    org = demo_org()
    org.telephony.with_demo_key()
    async with StandinServer(org) as server:
        yield org, server


def client(
    org: StandinOrg, server: StandinServer, *, key: str = "", sub: str = "", skew: float = 0.0
) -> TelephonyApi:
    center = org.telephony
    credentials = VoiceCredentials(
        center.org_id, sub or center.call_center, key or center.private_key
    )
    return TelephonyApi(
        server.instance_url, credentials, ca_file=server.ca_file, clock=lambda: time.time() + skew
    )


async def test_a_voicecall_is_created_updated_and_its_routing_cleared(
    standin: tuple[StandinOrg, StandinServer],
) -> None:
    """With the contact center's key, the VoiceCall is created once, ended, routing cleared."""
    org, server = standin
    api = client(org, server)
    voice_call_id = await api.create(CREATE)
    await api.update("call-1", {"endTime": "2026-12-02T06:01:00.000Z"})
    await api.clear_routing("call-1")
    with pytest.raises(TelephonyError) as again:
        await api.create(CREATE)
    assert again.value.code == "DUPLICATE_VALUE" and not again.value.retryable
    center = org.telephony
    assert center.voice_calls["call-1"]["Id"] == voice_call_id
    assert center.updates == [("call-1", {"endTime": "2026-12-02T06:01:00.000Z"})]
    assert center.cleared == ["call-1"]
    assert (await api.check()).startswith("token accepted")
    api.close()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong key", "signature does not match"),
        ("wrong sub", "not a contact center"),
        ("expired", "expired"),
    ],
)
async def test_a_token_the_org_would_refuse_is_refused_and_said_so(
    standin: tuple[StandinOrg, StandinServer], case: str, reason: str
) -> None:
    """A key that is not the certificate's, another contact center, or a clock an hour slow:
    refused, nothing created, and the error tells the admin what to check."""
    org, server = standin
    other_key, _ = new_key_pair()
    api = {
        "wrong key": lambda: client(org, server, key=other_key),
        "wrong sub": lambda: client(org, server, sub="SomeOtherCenter"),
        "expired": lambda: client(org, server, skew=-3600),
    }[case]()
    with pytest.raises(TelephonyError) as refused:
        await api.create(CREATE)
    assert refused.value.code == "JWT_REFUSED"
    assert "SOFTPHONE_VOICE_CALL_CENTER" in str(refused.value)
    assert reason in str(refused.value)
    with pytest.raises(TelephonyError):
        await api.check()
    api.close()
    assert org.telephony.voice_calls == {}


async def test_a_create_missing_fields_is_refused_with_the_fields_named(
    standin: tuple[StandinOrg, StandinServer],
) -> None:
    """A body without its required fields is a permanent error that names them."""
    org, server = standin
    api = client(org, server)
    with pytest.raises(TelephonyError) as refused:
        await api.create({"callCenterApiName": "SoftphoneProxyVoice"})
    api.close()
    assert refused.value.code == "MISSING_FIELD" and not refused.value.retryable
    assert "vendorCallKey" in refused.value.message


def test_voice_settings_that_cannot_sign_are_refused_at_start(tmp_path: Path) -> None:
    """Missing org id, an unreadable key file, or a file that is no key: a clear ValueError."""
    base = {"voice_scrt_url": "https://acme.my.salesforce-scrt.com"}
    with pytest.raises(ValueError, match="SOFTPHONE_VOICE_ORG_ID"):
        credentials_from(Settings(**base, voice_call_center="Center"))
    settings = Settings(
        **base,
        voice_org_id="00DDm0000000001AAA",
        voice_call_center="Center",
        voice_private_key_file=str(tmp_path / "missing.pem"),
    )
    with pytest.raises(ValueError, match=r"missing\.pem"):
        credentials_from(settings)
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(ValueError, match="not a PEM RSA private key"):
        bad = {"voice_private_key_file": str(tmp_path / "bad.pem")}
        credentials_from(settings.model_copy(update=bad))
    private, _ = new_key_pair()
    (tmp_path / "good.pem").write_text(private)
    good = settings.model_copy(update={"voice_private_key_file": str(tmp_path / "good.pem")})
    assert credentials_from(good).call_center == "Center"
