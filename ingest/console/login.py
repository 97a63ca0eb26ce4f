"""Sign-in with an `ops`-scope API token (form POST) and sign-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ingest.auth import authenticate
from ingest.console import session as sessions
from ingest.console.pages import action, log, problem, read_form, render, safe_next


async def login_form(request: Request) -> Response:
    """GET /ops/login: the form (or straight on when already signed in)."""
    target = safe_next(request.query_params.get("next"))
    if sessions.current(request) is not None:
        return RedirectResponse(target, status_code=303)
    return _form(request, target, None, 200)


def _form(request: Request, target: str, message: str | None, status: int) -> Response:
    probe = Response()
    nonce = sessions.login_nonce(request, probe)
    csrf = sessions.csrf_for(request.app.state.settings, nonce)
    response = render(
        request, "login.html", {"next": target, "login_csrf": csrf, "message": message}, status
    )
    for key, value in probe.raw_headers:
        if key == b"set-cookie":
            response.raw_headers.append((key, value))
    return response


async def login(request: Request) -> Response:
    """POST /ops/login: token -> session cookie holding the token's name (never the token)."""
    settings = request.app.state.settings
    form = await read_form(request)
    if form is None:
        return problem(request, 413, "Form too large", "the form is over 16 KiB")
    target = safe_next(form.get("next"))
    if not sessions.csrf_ok(
        settings, request.cookies.get(sessions.LOGIN_COOKIE), form.get(sessions.CSRF_FIELD)
    ):
        log.warning("console.csrf_refused", path=request.url.path)
        return problem(request, 403, "Refused", "the sign-in form expired; reload it")
    token = authenticate(settings.tokens, f"Bearer {form.get('token', '')[:512]}")
    if token is None or "ops" not in token.scopes:
        log.warning("console.sign_in_refused", reason="no ops token")
        return _form(request, target, "That is not a token with the ops scope.", 401)
    response = RedirectResponse(target, status_code=303)
    sessions.start(request, response, token.name)
    log.info("console.signed_in", principal=token.name)
    return response


@action
async def logout(request: Request, form: dict[str, str]) -> Response:
    """POST /ops/logout."""
    response = RedirectResponse("/ops/login", status_code=303)
    sessions.end(response)
    log.info("console.signed_out", principal=request.state.console.name)
    return response
