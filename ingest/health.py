"""Liveness and readiness probes."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ingest.openapi import Operation, document
from ingest.responses import ORJSONResponse


class Health(BaseModel):
    """`status` is ok or unavailable; `checks` says what each dependency answered."""

    status: str
    checks: dict[str, str] = {}
    failed: list[str] = []


document(
    Operation(
        "GET", "/healthz", "Liveness: the process is up", "health", responses={200: ("up", Health)}
    )
)
document(
    Operation(
        "GET",
        "/readyz",
        "Readiness: database and broker reachable",
        "health",
        responses={200: ("ready", Health), 503: ("a dependency failed", Health)},
    )
)


async def healthz(request: Request) -> Response:
    """The process is up and serving."""
    return ORJSONResponse({"status": "ok"})


def _check_database(request: Request) -> None:
    with request.app.state.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check_broker(request: Request) -> None:
    request.app.state.broker_check()


async def readyz(request: Request) -> Response:
    """Database and broker both answer; otherwise 503 naming what failed."""
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            await run_in_threadpool(check, request)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"
    failed = [name for name, result in checks.items() if result != "ok"]
    if failed:
        return ORJSONResponse(
            {"status": "unavailable", "failed": failed, "checks": checks}, status_code=503
        )
    return ORJSONResponse({"status": "ok", "checks": checks})
