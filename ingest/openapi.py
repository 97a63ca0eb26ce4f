"""The OpenAPI document: every API module registers its operations here, next to its code.

Request bodies, query parameters and responses are pydantic models, so the schemas are the
same code that validates input; `GET /openapi.json` serves the assembled document. The
error responses every operation can give (one error shape, `ErrorBody`, and its 422 form
`ValidationErrorBody`) are declared here from what the operation takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from domain.input_types import ID_LENGTH

REF = "#/components/schemas/{model}"


class ErrorBody(BaseModel):
    """Every error answer: a machine code and a human message (plus details where useful)."""

    error: str
    message: str
    request_id: str | None = Field(
        default=None, description="on 500 and 503 answers: the X-Request-Id to quote"
    )


class FieldError(BaseModel):
    """One invalid field: its dotted path (`params.address.line1`, `ids.0`) and why."""

    field: str
    message: str


class ValidationErrorBody(ErrorBody):
    """422: `fields` lists every invalid field with the reason (values are never echoed)."""

    fields: list[FieldError]


@dataclass(frozen=True)
class Operation:
    """One documented operation (method + path)."""

    method: str
    path: str
    summary: str
    tag: str
    scope: str | None = None
    request: type[BaseModel] | None = None
    responses: dict[int, tuple[str, type[BaseModel] | None]] = field(default_factory=dict)
    parameters: tuple[dict[str, Any], ...] = ()
    query: type[BaseModel] | None = None  # its fields are the query parameters
    request_required: bool = True


OPERATIONS: list[Operation] = []


def document(op: Operation) -> None:
    """Register an operation for the OpenAPI document (once per method + path)."""
    if not any(o.method == op.method and o.path == op.path for o in OPERATIONS):
        OPERATIONS.append(op)


document(
    Operation(
        "GET",
        "/openapi.json",
        "This document (OpenAPI 3.1)",
        "meta",
        responses={200: ("the document", None)},
    )
)


def query_param(
    name: str, schema: dict[str, Any], description: str, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def path_param(name: str, description: str, max_length: int = ID_LENGTH) -> dict[str, Any]:
    """A path id; one that cannot name a row (NUL, too long) is a 404 (ingest.inputs.path_id)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": max_length},
        "description": description,
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """`schema` with its local `$defs` references replaced by the definitions (enums)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query parameters a query model validates, with its bounds, enums and defaults."""
    full = model.model_json_schema()
    defs, required = full.get("$defs", {}), set(full.get("required", []))
    params = []
    for name, prop in full.get("properties", {}).items():
        schema = _inline(prop, defs)
        options = schema.get("anyOf")
        if isinstance(options, list):  # `X | None`: a parameter that is absent is None
            kept = [o for o in options if o.get("type") != "null"]
            if len(kept) == 1:
                schema = {**kept[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
        description = schema.pop("description", "")
        if schema.get("default", 0) is None:
            del schema["default"]
        params.append(query_param(name, schema, description or name, name in required))
    return params


def _error_responses(op: Operation) -> dict[int, tuple[str, type[BaseModel]]]:
    """The 4xx/5xx `op` can answer, from what it takes (scope, path ids, query, body)."""
    where = {p["in"] for p in op.parameters}
    found: dict[int, tuple[str, type[BaseModel]]] = {
        500: ("unexpected error (`internal_error`, with a `request_id`)", ErrorBody)
    }
    if op.scope:
        found[401] = ("missing or invalid token (`unauthorized`)", ErrorBody)
        found[403] = (f"token lacks the {op.scope} scope (`forbidden`)", ErrorBody)
    if "path" in where:
        found[404] = ("no such resource (`not_found`)", ErrorBody)
    if op.request is not None:
        found[400] = ("the body is not JSON (`invalid_json`)", ErrorBody)
        found[413] = ("the body is over the size limit (`body_too_large`)", ErrorBody)
    if op.request is not None or op.query is not None or "query" in where:
        found[422] = ("invalid input (`invalid_request`): `fields` names each", ValidationErrorBody)
    return found


def _responses(op: Operation) -> dict[str, Any]:
    merged: dict[int, tuple[str, type[BaseModel] | None]] = {**_error_responses(op)}
    for status, (description, model) in op.responses.items():
        default = merged.get(status, (description, ErrorBody if status >= 400 else None))[1]
        merged[status] = (description, model or default)
    responses: dict[str, Any] = {}
    for status, (description, model) in sorted(merged.items()):
        responses[str(status)] = {"description": description}
        if model is not None:
            responses[str(status)]["content"] = {"application/json": {"schema": _ref(model)}}
    return responses


def _models(operations: list[Operation]) -> set[type[BaseModel]]:
    models: set[type[BaseModel]] = {ErrorBody, ValidationErrorBody}
    for op in operations:
        if op.request:
            models.add(op.request)
        models.update(m for _, m in op.responses.values() if m)
    return models


def build_document(
    title: str = "Stripe billing backbone", version: str = "0.1.0"
) -> dict[str, Any]:
    """Assemble the OpenAPI 3.1 document from the registered operations."""
    models = _models(OPERATIONS)
    names = [m.__name__ for m in models]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:  # two models of one name would share (and break) one $ref
        raise RuntimeError(f"two schema models share a name: {duplicated}")
    _, schemas = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method}_{op.path}".replace("/", "_"),
        }
        parameters = [*op.parameters, *(query_parameters(op.query) if op.query else [])]
        if parameters:
            entry["parameters"] = parameters
        if op.request:
            entry["requestBody"] = {
                "required": op.request_required,
                "content": {"application/json": {"schema": _ref(op.request)}},
            }
        if op.scope:
            entry["security"] = [{"bearer": [op.scope]}]
        entry["responses"] = _responses(op)
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API_TOKENS; scopes commands, read, ops, usage",
                }
            },
        },
    }
