"""Request input, validated once for every API: query strings, JSON bodies and path ids.

A bad input raises `Rejected` carrying the answer: 422 `invalid_request` with `fields` for a
value that fails its model, 404 for a path id that cannot name any row, 413 for a body over
its limit, 400 for a body that is not JSON. The API guard (`ingest.auth.require_scope`)
answers it, so no route turns input it should have refused into a 500.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from domain.input_types import ID_LENGTH, is_ident
from ingest.bodies import BodyTooLarge, read_limited
from ingest.responses import ORJSONResponse, error

M = TypeVar("M", bound=BaseModel)
OPS_BODY_BYTES = 64 * 1024  # an ops body is a reason and a selector: a few hundred bytes


class Rejected(Exception):
    """The request is refused; `response()` is the JSON 4xx to answer with."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> ORJSONResponse:
        return error(self.status, self.code, self.message, **self.extra)


class InvalidInput(Rejected):
    """422: `fields` names each invalid field (dotted path) and why, never its value."""

    def __init__(
        self, fields: list[dict[str, str]], message: str, code: str = "invalid_request"
    ) -> None:
        super().__init__(422, code, message, fields=fields)

    @classmethod
    def one(cls, field: str, message: str, code: str = "invalid_request") -> InvalidInput:
        return cls([{"field": field, "message": message}], message, code)


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "union_tag_invalid":  # pydantic's text repeats the tag given
        return "must be one of " + str(err.get("ctx", {}).get("expected_tags", "the documented"))
    if kind == "union_tag_not_found":
        return "Field required"
    return str(err["msg"]).removeprefix("Value error, ")


def field_errors(
    exc: ValidationError, root: str = "body", tag: tuple[str, object] | None = None
) -> list[dict[str, str]]:
    """The `fields` of a 422: one `{field, message}` per error, input values never echoed.

    `root` names an error of the whole input (empty location). `tag` is a discriminated
    union's (field, value given): pydantic puts the value first in the location of the
    chosen member's errors, and an unknown value is an error of the tag field itself.
    """
    fields = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        if tag is not None:
            if loc and loc[0] == tag[1]:
                loc = loc[1:]
            if err["type"].startswith("union_tag"):
                loc = [tag[0]]
        path = ".".join(str(part)[:100] for part in loc) or root
        fields.append({"field": path, "message": _message(err)})
    return fields


def parse_query(model: type[M], request: Request) -> M:
    """The validated query parameters; InvalidInput names each bad (or repeated) one."""
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in params:
            raise InvalidInput.one(key[:100], "given more than once")
        params[key] = value
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc, root="query"), "invalid query parameters") from None


async def _read(request: Request, limit: int) -> bytes:
    try:
        return await read_limited(request, limit)
    except BodyTooLarge:  # refused before the whole body is read
        raise Rejected(413, "body_too_large", f"body exceeds {limit} bytes") from None


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Rejected(400, "invalid_json", "body is not valid JSON") from None


async def read_json(request: Request, limit: int) -> Any:
    """The body parsed as JSON, reading at most `limit` bytes (413 past it, 400 if not JSON)."""
    return _loads(await _read(request, limit))


def validate_body(
    model: type[M],
    doc: Any,
    *,
    code: str = "invalid_request",
    tag_field: str | None = None,
    **kwargs: Any,
) -> M:
    """`doc` validated by `model` (kwargs go to model_validate); InvalidInput names each field.

    `tag_field` names the discriminator when `model` is a tagged union (see field_errors).
    """
    try:
        return model.model_validate(doc, **kwargs)
    except ValidationError as exc:
        tag = None
        if tag_field is not None and isinstance(doc, dict):
            tag = (tag_field, doc.get(tag_field))
        fields = field_errors(exc, tag=tag)
        raise InvalidInput(fields, "the request body is invalid", code) from None


async def parse_body(request: Request, model: type[M], limit: int = OPS_BODY_BYTES) -> M:
    """An optional JSON body (none means `{}`), size-limited, validated by `model`."""
    raw = await _read(request, limit)
    return validate_body(model, _loads(raw) if raw.strip() else {})


def path_id(
    request: Request, name: str, what: str, *, max_length: int = ID_LENGTH, code: str = "not_found"
) -> str:
    """The path parameter `name`; 404 when it cannot name a row (empty, NUL, too long)."""
    value: str = request.path_params[name]
    if not is_ident(value, max_length):
        raise Rejected(404, code, f"no {what} with this id")
    return value
