"""The real simple-salesforce client against the stand-in over HTTPS: sign-in, renewal, faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from proxy.app import check_seams
from proxy.errors import SalesforceError
from proxy.salesforce import SalesforceApi, open_salesforce
from proxy.salesforce.auth import token_source
from proxy.salesforce.client import SimpleSalesforceApi, http_session
from proxy.salesforce.standin.org import StandinOrg, demo_org
from proxy.salesforce.standin.server import StandinServer
from proxy.settings import Settings

CASE_QUERY = "SELECT Id, CaseNumber FROM Case WHERE CaseNumber = '00001027' LIMIT 1"


@pytest.fixture
async def org_api() -> AsyncIterator[tuple[StandinOrg, SalesforceApi]]:
    org = demo_org()
    async with open_salesforce(Settings(salesforce_url="standin://"), org) as api:
        assert api is not None
        yield org, api


def org_client(server: StandinServer, **settings: str) -> SimpleSalesforceApi:
    """A client for the stand-in as a real org: the sign-in mode the settings complete."""
    http = http_session(5, ca_file=server.ca_file)
    config = Settings(salesforce_url=server.instance_url, **settings)  # type: ignore[arg-type]
    return SimpleSalesforceApi(token_source(config, server.instance_url, http), http, "60.0")


async def test_unescaped_sosl_is_malformed_search(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """The stand-in refuses reserved characters as a real org does, so query bugs surface."""
    _, api = org_api
    with pytest.raises(SalesforceError) as refused:
        await api.search("FIND {650-450} IN PHONE FIELDS RETURNING Contact(Id)")
    assert refused.value.code == "MALFORMED_SEARCH"


async def test_usage_header_is_read_after_each_call(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Sforce-Limit-Info reaches the client, so the API budget is known after any request."""
    org, api = org_api
    await api.object_names()
    assert api.api_usage == (1, org.api_limit)
    await api.describe("Case")
    assert api.api_usage == (2, org.api_limit)


async def test_describe_reports_filterable_fields_and_name_field(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Describe gives the Case's name field and leaves long text out of the filterable set."""
    _, api = org_api
    case = await api.describe("Case")
    assert case.name_field == "CaseNumber"
    assert "CaseNumber" in case.filterable and "Description" not in case.filterable


async def test_composite_answers_several_lookups_as_one_api_call(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Two subrequests, one API call, one answer each in order."""
    org, api = org_api
    answers = await api.composite(
        [
            {
                "method": "GET",
                "referenceId": "a",
                "url": "/services/data/v60.0/query/?q=" + CASE_QUERY.replace(" ", "+"),
            },
            {"method": "GET", "referenceId": "b", "url": "/services/data/v60.0/sobjects/Nope/x"},
        ]
    )
    assert [a["httpStatusCode"] for a in answers] == [200, 404]
    assert answers[0]["body"]["records"][0]["CaseNumber"] == "00001027"
    assert org.api_calls == 1


async def test_expired_session_is_renewed_without_losing_the_lookup(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """When Salesforce ends the session the client signs in again and the query still answers."""
    org, api = org_api
    await api.query(CASE_QUERY)
    assert org.logins == 1
    org.expire_sessions()
    records = await api.query(CASE_QUERY)
    assert records[0]["CaseNumber"] == "00001027"
    assert org.logins == 2


async def test_server_errors_are_retried_with_backoff(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Two 5xx answers in a row, then success: the caller sees only the success."""
    org, api = org_api
    org.fail_next(500, 503)
    records = await api.query(CASE_QUERY)
    assert records[0]["CaseNumber"] == "00001027"
    assert org.api_calls == 3


async def test_persistent_server_errors_surface_clearly(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Three failures in a row give up with the org's own error code."""
    org, api = org_api
    org.fail_next(503, 503, 503)
    with pytest.raises(SalesforceError) as failed:
        await api.query(CASE_QUERY)
    assert failed.value.code == "SERVER_UNAVAILABLE"


async def test_spent_budget_is_request_limit_exceeded_without_retry(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """REQUEST_LIMIT_EXCEEDED says the daily limit is used up and is not retried."""
    org, api = org_api
    org.api_limit = 0
    with pytest.raises(SalesforceError) as refused:
        await api.query(CASE_QUERY)
    assert refused.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert "daily API limit is used up" in str(refused.value)
    assert org.api_calls == 0


async def test_client_credentials_sign_in(standin: StandinServer) -> None:
    """Consumer key and secret alone sign in with the client-credentials flow."""
    api = org_client(
        standin,
        salesforce_consumer_key=standin.org.consumer_key,
        salesforce_consumer_secret=standin.org.consumer_secret,
    )
    assert api.tokens.mode == "client credentials"
    assert (await api.query(CASE_QUERY))[0]["CaseNumber"] == "00001027"


async def test_username_password_sign_in_with_security_token(standin: StandinServer) -> None:
    """Username, password and security token sign in with the username-password OAuth flow."""
    password, token = standin.org.password[:8], standin.org.password[8:]
    api = org_client(
        standin,
        salesforce_consumer_key=standin.org.consumer_key,
        salesforce_consumer_secret=standin.org.consumer_secret,
        salesforce_username=standin.org.username,
        salesforce_password=password,
        salesforce_security_token=token,
    )
    assert api.tokens.mode == "username-password"
    assert (await api.query(CASE_QUERY))[0]["CaseNumber"] == "00001027"


async def test_jwt_bearer_sign_in_and_renewal(standin: StandinServer, tmp_path: Path) -> None:
    """A private key file signs a JWT the org verifies; renewal signs a fresh one."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "server.key").write_bytes(pem)
    standin.org.jwt_public_key = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    api = org_client(
        standin,
        salesforce_consumer_key=standin.org.consumer_key,
        salesforce_private_key_file=str(tmp_path / "server.key"),
        salesforce_username=standin.org.username,
    )
    assert api.tokens.mode == "JWT bearer"
    await api.query(CASE_QUERY)
    standin.org.expire_sessions()
    assert (await api.query(CASE_QUERY))[0]["CaseNumber"] == "00001027"
    assert standin.org.logins == 2


async def test_wrong_secret_is_a_clear_authentication_error(standin: StandinServer) -> None:
    """A refused sign-in names the mode and the org's reason."""
    api = org_client(
        standin,
        salesforce_consumer_key=standin.org.consumer_key,
        salesforce_consumer_secret="wrong",
    )
    with pytest.raises(SalesforceError) as refused:
        await api.query(CASE_QUERY)
    assert refused.value.code == "AUTHENTICATION_FAILED"
    assert "client credentials sign-in refused by Salesforce: authentication failure" in str(
        refused.value
    )


async def test_session_id_mode_cannot_renew_and_says_so(standin: StandinServer) -> None:
    """An existing session id works until it ends, then the error says it cannot be renewed."""
    session = standin.org.new_session()
    api = org_client(standin, salesforce_session_id=session)
    assert (await api.query(CASE_QUERY))[0]["CaseNumber"] == "00001027"
    standin.org.expire_sessions()
    with pytest.raises(SalesforceError) as ended:
        await api.query(CASE_QUERY)
    assert ended.value.code == "INVALID_SESSION_ID"
    assert "session id cannot renew it" in str(ended.value)


def test_incomplete_credentials_are_refused_at_start() -> None:
    """An org URL without a complete sign-in stops the proxy with the modes it could use."""
    settings = Settings(
        salesforce_url="https://acme.my.salesforce.com", salesforce_consumer_key="only-a-key"
    )
    with pytest.raises(ValueError, match="no sign-in is complete"):
        check_seams(settings)
