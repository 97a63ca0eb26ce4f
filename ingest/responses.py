"""JSON responses rendered with orjson, and the error shape every endpoint shares."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(status: int, code: str, message: str, **extra: Any) -> ORJSONResponse:
    """`{"error": code, "message": message, ...}` with the given status."""
    return ORJSONResponse({"error": code, "message": message, **extra}, status_code=status)
