"""`GET /openapi.json` from bytes rendered once at start-up, with an ETag.

Building the document (pydantic JSON schemas of every model) costs 50-90 ms of CPU; doing
it per request, on the event loop, let a few unauthenticated clients stall the webhook.
The app's lifespan renders it once, after every module has registered its operations;
clients revalidate with If-None-Match and get a 304.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingest import openapi


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    """The OpenAPI document as served: JSON bytes and their strong ETag."""

    body: bytes
    etag: str

    @classmethod
    def build(cls) -> RenderedDocument:
        body = orjson.dumps(openapi.build_document())
        return cls(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    def matches(self, if_none_match: str | None) -> bool:
        """Whether an If-None-Match header names this version (or `*`)."""
        if not if_none_match:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


async def openapi_json(request: Request) -> Response:
    """GET /openapi.json."""
    document: RenderedDocument = request.app.state.openapi
    headers = {"ETag": document.etag, "Cache-Control": "no-cache"}
    if document.matches(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(document.body, media_type="application/json", headers=headers)
