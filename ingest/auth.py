"""Bearer-token auth with scopes (`commands`, `read`, `ops`, `usage`) for the product and ops
APIs."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import Response

from domain.settings import ApiToken
from ingest.inputs import Rejected
from ingest.responses import error

Endpoint = Callable[[Request], Awaitable[Response]]
log = structlog.get_logger("ingest.auth")


def authenticate(tokens: list[ApiToken], header: str | None) -> ApiToken | None:
    """The token matching an `Authorization: Bearer ...` header, compared in constant time."""
    if not header:
        return None
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return None
    found = None
    for token in tokens:
        # Compare against every token so timing does not reveal which one (if any) matched.
        if hmac.compare_digest(token.token.get_secret_value().encode(), presented.strip().encode()):
            found = token
    return found


def require_scope(scope: str) -> Callable[[Endpoint], Endpoint]:
    """Decorate an endpoint: 401 without a valid token, 403 without `scope`.

    The token's name (never the token) is stored in `request.state.principal` for audit logs.
    Input the endpoint refuses (`ingest.inputs.Rejected`: bad query, body or path id) is
    answered here with its JSON 4xx, so every authenticated route handles it the same way.
    """

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            token = authenticate(
                request.app.state.settings.tokens, request.headers.get("authorization")
            )
            if token is None:
                log.warning("auth.rejected", reason="unauthorized", path=request.url.path)
                response = error(401, "unauthorized", "a valid bearer token is required")
                response.headers["WWW-Authenticate"] = 'Bearer realm="billing"'
                return response
            if scope not in token.scopes:
                log.warning("auth.rejected", reason="forbidden", principal=token.name, scope=scope)
                return error(403, "forbidden", f"token {token.name!r} lacks the {scope!r} scope")
            request.state.principal = token.name
            try:
                return await endpoint(request)
            except Rejected as refused:
                return refused.response()

        guarded.required_scope = scope  # type: ignore[attr-defined]
        return guarded

    return decorate
