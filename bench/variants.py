"""App variants for same-run A/B comparisons in bench/ingest.py: one production choice undone.

`app_without_pre_ping`: the web engine does not ping a pooled connection on checkout (what
it did before stale connections after a Postgres restart answered 500).
`app_without_edge_middleware`: no request ids and no JSON answers for unhandled errors.

Each is built when uvicorn asks for it (module `__getattr__`), so a process running one
variant carries no other's change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette

import ingest.app
from domain.db import make_engine


def _make_engine_without_pre_ping(url: str, **options: Any) -> Engine:
    return make_engine(url, **{**options, "pre_ping": False})


def _without_pre_ping() -> Starlette:
    # The lifespan looks make_engine up in ingest.app when the app starts.
    ingest.app.make_engine = _make_engine_without_pre_ping  # type: ignore[assignment]
    return ingest.app.create_app()


def _without_edge_middleware() -> Starlette:
    app = ingest.app.create_app()
    app.user_middleware = []  # the middleware stack is built on the first request
    return app


_VARIANTS = {
    "app_without_pre_ping": _without_pre_ping,
    "app_without_edge_middleware": _without_edge_middleware,
}


def __getattr__(name: str) -> Starlette:
    if name in _VARIANTS:
        return _VARIANTS[name]()
    raise AttributeError(name)
