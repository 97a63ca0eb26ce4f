"""App variants for same-run A/B comparisons in bench/ingest.py: one production choice undone.

`app_without_edge_middleware`: no request ids and no JSON answers for unhandled errors.

Each is built when uvicorn asks for it (module `__getattr__`), so a process running one
variant carries no other's change. (Pre-ping needs no variant: the webhook path's writer has
its own engine without it; bench/edge_costs.py measures what a ping costs.)
"""

from __future__ import annotations

from starlette.applications import Starlette

import ingest.app
from ingest.edge import EdgeApp


def _without_edge_middleware() -> Starlette:
    app = ingest.app.create_app()
    app.user_middleware = []  # the middleware stack is built on the first request
    if isinstance(app, EdgeApp):  # the webhook's own path skips the stack: unwrap it too
        app._webhook = app._webhook_route.app
    return app


_VARIANTS = {
    "app_without_edge_middleware": _without_edge_middleware,
}


def __getattr__(name: str) -> Starlette:
    if name in _VARIANTS:
        return _VARIANTS[name]()
    raise AttributeError(name)
