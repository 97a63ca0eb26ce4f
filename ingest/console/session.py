"""Console sign-in state: a signed, expiring cookie holding the token's name, and CSRF tokens.

The cookie holds `{"n": token name, "s": random session id}` signed with a key of the
console's own (OPS_SESSION_SECRET, else derived from API_TOKENS), never the token. A
session is valid while it is younger than OPS_SESSION_SECONDS and its name is still
configured with the `ops` scope. The CSRF token of a form is an HMAC of the session id
(before sign-in: of a random pre-session cookie), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from domain.settings import Settings

SESSION_COOKIE = "ops_session"
LOGIN_COOKIE = "ops_login"
CSRF_FIELD = "csrf_token"
LOGIN_SECONDS = 1800


@dataclass(frozen=True)
class Session:
    """A signed-in operator: the token's name and this sign-in's random id."""

    name: str
    sid: str


def signing_key(settings: Settings) -> bytes:
    """The console's key: its own setting, else derived from every configured API token."""
    if settings.ops_session_secret is not None:
        return settings.ops_session_secret.get_secret_value().encode()
    material = "\x00".join(t.get_secret_value() for t in settings.api_tokens).encode()
    return hmac.new(material, b"billing ops console v1", hashlib.sha256).digest()


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_key(settings), salt="ops-session")


def csrf_for(settings: Settings, sid: str) -> str:
    """The CSRF token forms of this session (or pre-session) carry."""
    return hmac.new(signing_key(settings), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, sid: str | None, presented: object) -> bool:
    if not sid or not isinstance(presented, str):
        return False
    return hmac.compare_digest(csrf_for(settings, sid).encode(), presented.encode())


def has_ops_scope(settings: Settings, name: str) -> bool:
    return any(t.name == name and "ops" in t.scopes for t in settings.tokens)


def current(request: Request) -> Session | None:
    """The request's valid session, or None (missing, forged, expired, or name revoked)."""
    settings: Settings = request.app.state.settings
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or len(raw) > 4096:
        return None
    try:
        data = _serializer(settings).loads(raw, max_age=settings.ops_session_seconds)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict):
        return None
    name, sid = data.get("n"), data.get("s")
    if not isinstance(name, str) or not isinstance(sid, str):
        return None
    return Session(name, sid) if has_ops_scope(settings, name) else None


def _cookie(
    request: Request,
    response: Response,
    key: str,
    value: str,
    max_age: int,
    samesite: Literal["lax", "strict"],
) -> None:
    response.set_cookie(
        key,
        value,
        max_age=max_age,
        path="/ops",
        httponly=True,
        samesite=samesite,
        secure=request.url.scheme == "https",
    )


def start(request: Request, response: Response, name: str) -> Session:
    """Sign in as the token `name`: set the session cookie, drop the pre-session one."""
    settings: Settings = request.app.state.settings
    session = Session(name, secrets.token_urlsafe(16))
    value = _serializer(settings).dumps({"n": session.name, "s": session.sid})
    # Lax: a link from an alert or a chat opens the page signed in; every change is a POST
    # with a CSRF token, which a cross-site form cannot have.
    _cookie(request, response, SESSION_COOKIE, value, settings.ops_session_seconds, "lax")
    response.delete_cookie(LOGIN_COOKIE, path="/ops")
    return session


def end(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/ops")


def login_nonce(request: Request, response: Response) -> str:
    """The pre-session id the sign-in form's CSRF token is bound to (set once, reused)."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or len(nonce) > 64:
        nonce = secrets.token_urlsafe(16)
    _cookie(request, response, LOGIN_COOKIE, nonce, LOGIN_SECONDS, "strict")
    return nonce
