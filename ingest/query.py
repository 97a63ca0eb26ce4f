"""Query-string validation with pydantic: a bad parameter is a 422 naming each field."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ingest.responses import ORJSONResponse, error

Q = TypeVar("Q", bound=BaseModel)


class FieldError(BaseModel):
    field: str
    message: str


class ValidationErrorBody(BaseModel):
    """422: `fields` lists every invalid parameter with the reason."""

    error: str
    message: str
    fields: list[FieldError]


def invalid(exc: ValidationError) -> ORJSONResponse:
    """The 422 answer for a pydantic validation error (input values are not echoed)."""
    fields = [
        {"field": ".".join(str(p) for p in err["loc"]) or "?", "message": err["msg"]}
        for err in exc.errors(include_input=False, include_url=False)
    ]
    return error(422, "invalid_request", "invalid query parameters", fields=fields)


def parse_query(model: type[Q], request: Request) -> Q | ORJSONResponse:
    """The validated query parameters, or the 422 response to return instead."""
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in params:
            return error(
                422,
                "invalid_request",
                "invalid query parameters",
                fields=[{"field": key, "message": "given more than once"}],
            )
        params[key] = value
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        return invalid(exc)
