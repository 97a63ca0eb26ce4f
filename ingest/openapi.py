"""The OpenAPI document: every API module registers its operations here, next to its code.

Request and response bodies are pydantic models, so the schemas are the same code that
validates input; `GET /openapi.json` serves the assembled document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"


class ErrorBody(BaseModel):
    """Every error answer: a machine code and a human message (plus details where useful)."""

    error: str
    message: str
    request_id: str | None = Field(
        default=None, description="on 500 and 503 answers: the X-Request-Id to quote"
    )


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


OPERATIONS: list[Operation] = []


def document(op: Operation) -> None:
    """Register an operation for the OpenAPI document (once per method + path)."""
    if not any(o.method == op.method and o.path == op.path for o in OPERATIONS):
        OPERATIONS.append(op)


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


def path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def build_document(
    title: str = "Stripe billing backbone", version: str = "0.1.0"
) -> dict[str, Any]:
    """Assemble the OpenAPI 3.1 document from the registered operations."""
    models: set[type[BaseModel]] = {ErrorBody}
    for op in OPERATIONS:
        if op.request:
            models.add(op.request)
        models.update(m for _, m in op.responses.values() if m)
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
        if op.parameters:
            entry["parameters"] = list(op.parameters)
        if op.request:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.request)}},
            }
        responses: dict[str, Any] = {}
        for status, (description, model) in sorted(op.responses.items()):
            body = model or (ErrorBody if status >= 400 else None)
            responses[str(status)] = {"description": description}
            if body:
                responses[str(status)]["content"] = {"application/json": {"schema": _ref(body)}}
        if op.scope:
            entry["security"] = [{"bearer": [op.scope]}]
            responses.setdefault(
                "401",
                {
                    "description": "missing or invalid token",
                    "content": {"application/json": {"schema": _ref(ErrorBody)}},
                },
            )
            responses.setdefault(
                "403",
                {
                    "description": f"token lacks the {op.scope} scope",
                    "content": {"application/json": {"schema": _ref(ErrorBody)}},
                },
            )
        responses.setdefault(
            "500",
            {
                "description": "unexpected error; the body's request_id is in the log",
                "content": {"application/json": {"schema": _ref(ErrorBody)}},
            },
        )
        entry["responses"] = responses
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
                    "description": "API_TOKENS; scopes commands, read, ops",
                }
            },
        },
    }
