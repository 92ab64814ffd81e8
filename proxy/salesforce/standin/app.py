"""The stand-in's REST endpoints: what simple-salesforce and our OAuth client call, no more."""

from __future__ import annotations

import asyncio
import html
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from proxy.salesforce.standin.org import KEY_PREFIXES, SCHEMA, StandinOrg
from proxy.salesforce.standin.query import QueryError, run_soql, run_sosl
from proxy.salesforce.standin.telephony import telephony_routes

CREATABLE = {"Task", "Contact"}
COMPOSITE_LIMIT = 25
COLLECTION_LIMIT = 200
AUDIENCE = "https://login.salesforce.com"
_FAULTS = {500: "UNKNOWN_EXCEPTION", 502: "BAD_GATEWAY", 503: "SERVER_UNAVAILABLE"}
Outcome = tuple[int, Any]


def _error(status: int, code: str, message: str) -> Outcome:
    return status, [{"errorCode": code, "message": message}]


def create_standin_app(org: StandinOrg) -> Starlette:
    """A Starlette app answering as `https://<instance>/services/...` does."""
    routes = [*_oauth_routes(org), *_data_routes(org), *telephony_routes(org.telephony)]
    return Starlette(routes=routes)


def _oauth_routes(org: StandinOrg) -> list[Route]:
    """Sign-in: tokens by every grant the proxy uses, the web server flow, userinfo."""

    async def token(request: Request) -> Response:
        # OAuth posts application/x-www-form-urlencoded; parse_qs reads it without extra packages.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        instance = f"{request.url.scheme}://{request.url.netloc}"
        if form.get("grant_type") == "authorization_code":
            return _redeem(org, form, instance)
        granted = _grant(org, form)
        if granted is None:
            body = {"error": "invalid_grant", "error_description": "authentication failure"}
            return JSONResponse(body, status_code=400)
        return JSONResponse(
            {"access_token": org.new_session(), "instance_url": instance, "token_type": "Bearer"}
        )

    async def authorize(request: Request) -> Response:
        return _authorize(org, dict(request.query_params))

    async def userinfo(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        user_id = org.user_sessions.get(token)
        if user_id is None:
            body = {"error": "invalid_token", "error_description": "Session expired or invalid"}
            return JSONResponse(body, status_code=401)
        name, email = org.users[user_id]
        return JSONResponse({"user_id": user_id, "name": name, "email": email})

    return [
        Route("/services/oauth2/token", token, methods=["POST"]),
        Route("/services/oauth2/authorize", authorize),
        Route("/services/oauth2/userinfo", userinfo),
    ]


def _data_routes(org: StandinOrg) -> list[Route]:
    """The REST API: versions, then every data call behind the session and limit checks."""

    async def api(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if header.removeprefix("Bearer ") not in org.sessions:
            status, body = _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            return JSONResponse(body, status_code=status)
        if org.api_calls >= org.api_limit:
            status, body = _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            return _with_usage(org, JSONResponse(body, status_code=status))
        org.api_calls += 1
        # Read before the delay: a request Salesforce has received is carried out even when
        # the client stops waiting for the answer, as a timed-out create does on a real org.
        payload: Any = await request.json() if request.method in ("POST", "PATCH") else None
        if org.latency_seconds:
            await asyncio.sleep(org.latency_seconds)
        if org.failures:
            fault = org.failures.pop(0)
            status, body = _error(fault, _FAULTS.get(fault, "UNKNOWN_EXCEPTION"), "injected")
            return _with_usage(org, JSONResponse(body, status_code=fault))
        path = request.path_params["path"].strip("/")
        params = {k: v for k, v in request.query_params.items()}
        if path == "composite" and request.method == "POST":
            status, body = _composite(org, payload)
        elif path == "composite/sobjects" and request.method == "POST":
            status, body = _create_collection(org, payload)
        else:
            status, body = _dispatch(org, request.method, path, params, payload)
        return _with_usage(org, JSONResponse(body, status_code=status))

    async def versions(_: Request) -> Response:
        return JSONResponse([{"version": "60.0", "url": "/services/data/v60.0"}])

    return [
        Route("/services/data/", versions),
        Route("/services/data/v{version}/{path:path}", api, methods=["GET", "POST", "PATCH"]),
    ]


def _with_usage(org: StandinOrg, response: Response) -> Response:
    response.headers["Sforce-Limit-Info"] = f"api-usage={org.api_calls}/{org.api_limit}"
    return response


def _authorize(org: StandinOrg, params: dict[str, str]) -> Response:
    """The web server flow's login page: pick a user (`login_as`) or cancel (`deny`).

    Strict as Salesforce is: a code flow for our client with an S256 challenge, nothing else.
    """
    redirect_uri = params.get("redirect_uri", "")
    if (
        params.get("response_type") != "code"
        or params.get("client_id") != org.consumer_key
        or not redirect_uri.startswith(("http://", "https://"))
        or not params.get("code_challenge")
        or params.get("code_challenge_method") != "S256"
    ):
        return PlainTextResponse("invalid authorization request", status_code=400)
    state = {"state": params["state"]} if "state" in params else {}
    if params.get("deny"):
        answer = {"error": "access_denied", "error_description": "end-user denied authorization"}
        return RedirectResponse(f"{redirect_uri}?{urlencode({**answer, **state})}", 302)
    user_id = params.get("login_as", "")
    if user_id in org.users:
        code = org.new_code(user_id, org.consumer_key, redirect_uri, params["code_challenge"])
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, **state})}", 302)
    request = {k: v for k, v in params.items() if k not in ("login_as", "deny")}
    items = "".join(
        f'<li><a href="?{html.escape(urlencode({**request, "login_as": uid}))}">'
        f"Sign in as {html.escape(name)}</a></li>"
        for uid, (name, _) in org.users.items()
    )
    cancel = html.escape(urlencode({**request, "deny": "1"}))
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Salesforce stand-in: sign in</title></head><body>"
        f"<h1>Sign in to the stand-in org</h1><ul>{items}</ul>"
        f'<p><a href="?{cancel}">Deny access</a></p></body></html>'
    )


def _redeem(org: StandinOrg, form: dict[str, str], instance: str) -> Response:
    """Authorization code + PKCE verifier (and the secret, when sent) for a user's token."""
    secret = form.get("client_secret")
    token = None
    if secret is None or secret == org.consumer_secret:
        token = org.redeem(
            form.get("code", ""),
            form.get("client_id", ""),
            form.get("redirect_uri", ""),
            form.get("code_verifier", ""),
        )
    if token is None:
        body = {"error": "invalid_grant", "error_description": "authentication failure"}
        return JSONResponse(body, status_code=400)
    user_id = org.user_sessions[token]
    return JSONResponse(
        {
            "access_token": token,
            "instance_url": instance,
            "id": f"{instance}/id/00DDm0000000001AAA/{user_id}",
            "token_type": "Bearer",
        }
    )


def _grant(org: StandinOrg, form: dict[str, str]) -> bool | None:
    """True when the form is a grant this org accepts, else None."""
    grant = form.get("grant_type", "")
    client_ok = (
        form.get("client_id") == org.consumer_key
        and form.get("client_secret") == org.consumer_secret
    )
    if grant == "client_credentials" and client_ok:
        return True
    if (
        grant == "password"
        and client_ok
        and form.get("username") == org.username
        and form.get("password") == org.password
    ):
        return True
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" and org.jwt_public_key:
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                org.jwt_public_key,
                algorithms=["RS256"],
                audience=AUDIENCE,
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.PyJWTError:
            return None
        if claims["iss"] == org.consumer_key and claims["sub"] == org.username:
            return True
    return None


def _composite(org: StandinOrg, payload: Any) -> Outcome:
    """Up to 25 subrequests answered in one API call, as POST /composite does."""
    requests = payload.get("compositeRequest", []) if isinstance(payload, dict) else []
    if not requests or len(requests) > COMPOSITE_LIMIT:
        return _error(400, "INVALID_INPUT", f"compositeRequest needs 1 to {COMPOSITE_LIMIT}")
    answers = []
    for sub in requests:
        parts = urlsplit(str(sub.get("url", "")))
        path = parts.path.split("/services/data/", 1)[-1].split("/", 1)[-1].strip("/")
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        status, body = _dispatch(org, str(sub.get("method", "GET")), path, params, sub.get("body"))
        answers.append(
            {"body": body, "httpStatusCode": status, "referenceId": sub.get("referenceId")}
        )
    return 200, {"compositeResponse": answers}


def _create_collection(org: StandinOrg, payload: Any) -> Outcome:
    """POST /composite/sobjects: up to 200 records, one SaveResult each, in order.

    With allOrNone false each record stands alone; with true, one refusal rolls back the rest.
    """
    records = payload.get("records") if isinstance(payload, dict) else None
    if not isinstance(records, list) or not records:
        return _error(400, "JSON_PARSER_ERROR", "the request body needs a non-empty 'records'")
    if len(records) > COLLECTION_LIMIT:
        return _error(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records"
            " into this call",
        )
    refusals = [_record_refusal(org, record) for record in records]
    if payload.get("allOrNone") is True and any(refusals):
        rolled_back = _save_error(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was"
            " using AllOrNone header",
            [],
        )
        return 200, [refusal or rolled_back for refusal in refusals]
    results = []
    for record, refusal in zip(records, refusals, strict=True):
        if refusal is None:
            values = {k: v for k, v in record.items() if k != "attributes"}
            created = org.insert(record["attributes"]["type"], values)
            refusal = {"id": created["Id"], "success": True, "errors": []}
        results.append(refusal)
    return 200, results


def _save_error(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    error = {"statusCode": code, "message": message, "fields": fields}
    return {"success": False, "errors": [error]}


def _record_refusal(org: StandinOrg, record: Any) -> dict[str, Any] | None:
    """The failed SaveResult of one record of a collection, or None when it can be created."""
    attributes = record.get("attributes") if isinstance(record, dict) else None
    obj = attributes.get("type") if isinstance(attributes, dict) else None
    if not isinstance(obj, str) or not obj:
        return _save_error("INVALID_TYPE", "Must send a concrete entity type.", [])
    if obj not in SCHEMA or obj not in CREATABLE:
        return _save_error("INVALID_TYPE_FOR_OPERATION", f"cannot create {obj} here", [])
    values = {k: v for k, v in record.items() if k != "attributes"}
    if "Id" in values or "id" in values:
        return _save_error(
            "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
        )
    refused = _refusal(org, obj, values) or org.injected_refusal(values)
    return None if refused is None else _save_error(*refused)


def _dispatch(
    org: StandinOrg, method: str, path: str, params: dict[str, str], body: Any
) -> Outcome:
    try:
        return _route(org, method, path, params, body)
    except QueryError as exc:
        return _error(400, exc.code, exc.message)


def _route(org: StandinOrg, method: str, path: str, params: dict[str, str], body: Any) -> Outcome:
    parts = path.split("/")
    if path == "search":
        return 200, {"searchRecords": run_sosl(org, params.get("q", ""))}
    if path == "query":
        records = run_soql(org, params.get("q", ""))
        return 200, {"totalSize": len(records), "done": True, "records": records}
    if path == "sobjects":
        return 200, {"sobjects": [_global(o) for o in SCHEMA]}
    if parts[0] != "sobjects" or len(parts) < 2 or parts[1] not in SCHEMA:
        return _error(404, "NOT_FOUND", f"The requested resource does not exist: {path}")
    obj = parts[1]
    if len(parts) == 3 and parts[2] == "describe":
        return 200, _describe(obj)
    if len(parts) == 2 and method == "POST":
        if obj not in CREATABLE:
            return _error(400, "INVALID_TYPE_FOR_OPERATION", f"cannot create {obj} here")
        values = body if isinstance(body, dict) else {}
        invalid = _invalid(org, obj, values)
        if invalid is not None:
            return invalid
        return 201, {"id": org.insert(obj, values)["Id"], "success": True, "errors": []}
    if len(parts) == 4 and method == "PATCH" and obj in CREATABLE:
        return _upsert(org, obj, parts[2], unquote(parts[3]), body)
    if len(parts) == 3 and method == "GET":
        found = org.get(parts[2])
        if found is None or found[0] != obj:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        return 200, {"attributes": {"type": obj}, **found[1]}
    return _error(404, "NOT_FOUND", f"The requested resource does not exist: {path}")


def _invalid(org: StandinOrg, obj: str, values: dict[str, Any]) -> Outcome | None:
    """Salesforce's answer to a write it refuses: an unknown field, a reference to nothing."""
    refused = _refusal(org, obj, values) or org.injected_refusal(values)
    return None if refused is None else _error(400, refused[0], refused[1])


def _refusal(
    org: StandinOrg, obj: str, values: dict[str, Any]
) -> tuple[str, str, list[str]] | None:
    """Why the org refuses to write `values`: (code, message, fields), or None."""
    unknown = [f for f in values if f not in SCHEMA[obj]]
    if unknown:
        return "INVALID_FIELD", f"No such column '{unknown[0]}' on {obj}", [unknown[0]]
    for name in ("WhoId", "WhatId"):
        if name in values and values[name] and org.get(str(values[name])) is None:
            message = f"invalid cross reference id ({name}: {values[name]})"
            return "INVALID_CROSS_REFERENCE_KEY", message, [name]
    return None


def _upsert(org: StandinOrg, obj: str, field: str, value: str, body: Any) -> Outcome:
    """PATCH /sobjects/{obj}/{externalIdField}/{value}: create once, then update in place."""
    if field not in SCHEMA[obj]:
        return _error(404, "NOT_FOUND", f"Provided external ID field does not exist: {field}")
    values = {**(body if isinstance(body, dict) else {}), field: value}
    invalid = _invalid(org, obj, values)
    if invalid is not None:
        return invalid
    existing = [r for r in org.records.get(obj, []) if r.get(field) == value]
    if len(existing) > 1:
        return _error(300, "MULTIPLE_CHOICES", f"more than one {obj} has {field} {value}")
    if existing:
        existing[0].update(values)
        return 200, {"id": existing[0]["Id"], "success": True, "created": False, "errors": []}
    record = org.insert(obj, values)
    return 201, {"id": record["Id"], "success": True, "created": True, "errors": []}


def _global(obj: str) -> dict[str, Any]:
    return {
        "name": obj,
        "label": obj,
        "keyPrefix": KEY_PREFIXES.get(obj),
        "queryable": True,
        "searchable": obj != "Task",
        "createable": obj in CREATABLE,
    }


def _describe(obj: str) -> dict[str, Any]:
    return {
        "name": obj,
        "keyPrefix": KEY_PREFIXES.get(obj),
        "fields": [
            {"name": n, "type": f.type, "filterable": f.filterable, "nameField": f.name_field}
            for n, f in SCHEMA[obj].items()
        ],
    }
