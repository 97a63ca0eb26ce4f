"""The application class: Starlette, with POST /webhooks/stripe dispatched before the router.

Every other request goes through Starlette's stack (its error middleware, the edge
middleware, exception handlers, the router). The webhook, the one route under sustained
load, skips the router and Starlette's exception layers: it is wrapped only in
`EdgeErrorsMiddleware` (request id, JSON 500/503 for anything it did not handle), which is
all those layers did for it. Other methods on its path (405) and anything else still route
normally, and the route stays registered for the OpenAPI document and metrics labels.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.errors import EdgeErrorsMiddleware
from ingest.webhooks import WEBHOOK_PATH


class EdgeApp(Starlette):
    """Starlette whose webhook route is answered directly; `webhook` is that route."""

    def __init__(self, *, webhook: Route, **kwargs: Any) -> None:
        super().__init__(routes=[webhook, *kwargs.pop("routes", ())], **kwargs)
        self._webhook_route = webhook
        self._webhook: ASGIApp = EdgeErrorsMiddleware(webhook.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == WEBHOOK_PATH
            and not scope.get("root_path")
        ):
            scope["app"] = self
            scope["route"] = self._webhook_route  # what route_of() labels metrics with
            await self._webhook(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
