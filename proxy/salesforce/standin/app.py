"""The stand-in's REST endpoints: the ones simple-salesforce calls for search, query, describe."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.salesforce.standin.org import KEY_PREFIXES, SCHEMA, StandinOrg
from proxy.salesforce.standin.query import QueryError, run_soql, run_sosl

CREATABLE = {"Task", "Contact"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse([{"errorCode": code, "message": message}], status_code=status)


def create_standin_app(org: StandinOrg, session_id: str) -> Starlette:
    """A Starlette app answering as `https://<instance>/services/data/vNN.N/...` does."""

    def authorised(request: Request) -> bool:
        expected = f"Bearer {session_id}".encode()
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    async def api(request: Request) -> Response:
        if not authorised(request):
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        org.api_calls += 1
        try:
            response = await _dispatch(request)
        except QueryError as exc:
            response = _error(400, exc.code, exc.message)
        response.headers["Sforce-Limit-Info"] = f"api-usage={org.api_calls}/{org.api_limit}"
        return response

    async def _dispatch(request: Request) -> Response:
        path: str = request.path_params["path"].strip("/")
        parts = path.split("/")
        if path == "search":
            return JSONResponse({"searchRecords": run_sosl(org, request.query_params.get("q", ""))})
        if path == "query":
            records = run_soql(org, request.query_params.get("q", ""))
            return JSONResponse({"totalSize": len(records), "done": True, "records": records})
        if path == "sobjects":
            return JSONResponse({"sobjects": [_global(o) for o in SCHEMA]})
        if parts[0] != "sobjects" or len(parts) < 2 or parts[1] not in SCHEMA:
            return _error(404, "NOT_FOUND", f"The requested resource does not exist: {path}")
        obj = parts[1]
        if len(parts) == 3 and parts[2] == "describe":
            return JSONResponse(_describe(obj))
        if len(parts) == 2 and request.method == "POST":
            if obj not in CREATABLE:
                return _error(400, "INVALID_TYPE_FOR_OPERATION", f"cannot create {obj} here")
            body: dict[str, Any] = await request.json()
            unknown = [f for f in body if f not in SCHEMA[obj]]
            if unknown:
                return _error(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on {obj}")
            record = org.insert(obj, body)
            return JSONResponse({"id": record["Id"], "success": True, "errors": []}, 201)
        if len(parts) == 3 and request.method == "GET":
            found = org.get(parts[2])
            if found is None or found[0] != obj:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            return JSONResponse({"attributes": {"type": obj}, **found[1]})
        return _error(404, "NOT_FOUND", f"The requested resource does not exist: {path}")

    async def versions(_: Request) -> Response:
        return JSONResponse([{"version": "60.0", "url": "/services/data/v60.0"}])

    return Starlette(
        routes=[
            Route("/services/data/", versions),
            Route("/services/data/v{version}/{path:path}", api, methods=["GET", "POST"]),
        ]
    )


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
