"""Salesforce Voice's HTTP side: the connector page, the library it runs on, and whether a call's
VoiceCall exists yet (the connector tells Salesforce of a ring once it does).

`@salesforce/scv-connector-base` is not ours to ship in the tree: the install step (scripts/
_bootstrap, `ensure_scv_connector_base`) takes it from the npm registry into `.tools/scv`, and it
is served from there unmodified, with its licence and terms of use next to it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from proxy.services import services_of
from proxy.web.routes import _token

log = logging.getLogger(__name__)
SCV_PACKAGE = Path(".tools/scv/node_modules/@salesforce/scv-connector-base")
SCV_FILES = {
    "scv-connector-base.js": ("dist/scv-connector-base.js", "text/javascript"),
    "LICENSE.txt": ("LICENSE.txt", "text/plain"),
    "TERMSOFUSE.txt": ("TERMSOFUSE.txt", "text/plain"),
}
MISSING = (
    "@salesforce/scv-connector-base is not installed on this server: run scripts/demo or "
    "scripts/test (or `npm install --prefix .tools/scv @salesforce/scv-connector-base@3.6.2`)"
)


class VoiceCallStatus(BaseModel):
    state: str  # none, pending, written or dead
    voice_call_id: str


def voice_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/voice/calls/{call_id}")
    async def voice_call(
        call_id: Annotated[str, PathParam(max_length=64)],
        request: Request,
        authorization: str = Header(default=""),
    ) -> VoiceCallStatus:
        """Whether the signed-in agent's call is a VoiceCall at Salesforce yet."""
        services = services_of(request)
        agent = await services.auth.agent_for(_token(authorization, request))
        if agent is None:
            raise HTTPException(401, "sign in first")
        if services.voice is None:
            return VoiceCallStatus(state="none", voice_call_id="")
        state, voice_call_id = await services.voice.status(agent.address, call_id)
        return VoiceCallStatus(state=state, voice_call_id=voice_call_id)

    return router


def mount_voice(app: FastAPI, static: Path, package: Path, *, wanted: bool = False) -> None:
    """/voice/connector.html and its modules, and /voice/vendor/ (the npm package's files);
    `wanted`: Voice is set up, so a missing library is worth a warning at start."""
    if wanted and not (package / SCV_FILES["scv-connector-base.js"][0]).is_file():
        log.warning("Salesforce Voice is set up but %s", MISSING.removeprefix("@salesforce/"))

    @app.get("/voice/vendor/{name}", include_in_schema=False)
    async def vendor(name: str) -> Response:
        if name not in SCV_FILES:
            raise HTTPException(404, "not part of the connector library")
        relative, media_type = SCV_FILES[name]
        path = package / relative
        if not path.is_file():
            return PlainTextResponse(MISSING, status_code=503)
        return FileResponse(path, media_type=media_type)

    app.mount("/voice", StaticFiles(directory=static / "voice", html=True), name="voice")
