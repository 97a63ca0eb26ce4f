"""`billing check`: settings, database, migrations, broker and Stripe, one line per check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from domain.db import make_engine, sqlite_file
from domain.settings import Settings, SettingsError, load_settings, require_webhook_secrets
from migrations import alembic_config


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def _settings_check() -> tuple[CheckResult, Settings | None]:
    try:
        settings = load_settings()
        require_webhook_secrets(settings)
    except SettingsError as exc:
        return CheckResult("settings", False, str(exc), "fix the named variables"), None
    return CheckResult("settings", True, "all variables valid"), settings


def _missing_file(name: str, url: str, variable: str) -> CheckResult | None:
    """A check never creates the SQLite file it is about (make_engine would)."""
    path = sqlite_file(url.removeprefix("sqla+"))
    if path is None or path.exists():
        return None
    return CheckResult(name, False, f"no {name} at {path}", f"run `billing dev` or set {variable}")


def _database(settings: Settings) -> CheckResult:
    missing = _missing_file("database", settings.effective_database_url, "DATABASE_URL")
    if missing is not None:
        return missing
    engine = make_engine(
        settings.effective_database_url,
        pool_size=1,
        transaction_pooler=settings.behind_transaction_pooler,
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        return CheckResult(
            "database",
            False,
            f"{type(exc).__name__}: {str(exc)[:200]}",
            "is DATABASE_URL right and the server running?",
        )
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(settings.effective_database_url))
    expected = head.get_current_head()
    if current != expected:
        return CheckResult(
            "migrations",
            False,
            f"database at revision {current or 'none (never migrated)'}, code at {expected}",
            "run `billing migrate`",
        )
    return CheckResult("database", True, f"reachable, migrations at head ({expected})")


def _broker(settings: Settings) -> CheckResult:
    from workers.celery_app import make_celery

    missing = _missing_file("broker", settings.effective_broker_url, "BROKER_URL")
    if missing is not None:
        return missing
    celery = make_celery(settings)
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.broker_timeout_seconds)
            conn.default_channel  # noqa: B018 - opening a channel talks to the broker
    except Exception as exc:
        return CheckResult(
            "broker",
            False,
            f"{type(exc).__name__}: {str(exc)[:200]}",
            "is BROKER_URL right and the broker running?",
        )
    return CheckResult("broker", True, "reachable")


def _stripe(settings: Settings) -> CheckResult:
    """GET /v1/balance with the API key: proves the key works and Stripe is reachable."""
    import time

    import httpx

    from workers.metrics import observe_stripe_call

    if settings.stripe_api_key is None:
        return CheckResult("stripe", True, "skipped: STRIPE_API_KEY not set")
    url = f"{settings.stripe_api_base.rstrip('/')}/v1/balance"
    started = time.perf_counter()
    try:
        response = httpx.get(
            url,
            headers={"Authorization": f"Bearer {settings.stripe_api_key.get_secret_value()}"},
            timeout=5,
        )
    except httpx.HTTPError as exc:
        observe_stripe_call("/v1/balance", 0, time.perf_counter() - started, "network")
        return CheckResult(
            "stripe",
            False,
            f"{type(exc).__name__} calling {url}",
            "is STRIPE_API_BASE right and outbound HTTPS allowed?",
        )
    status = response.status_code
    kind = None if status == 200 else ("auth" if status in (401, 403) else f"http_{status}")
    observe_stripe_call("/v1/balance", status, time.perf_counter() - started, kind)
    if status in (401, 403):
        return CheckResult(
            "stripe", False, f"key refused ({status})", "check STRIPE_API_KEY (test vs live?)"
        )
    if status != 200:
        return CheckResult("stripe", False, f"HTTP {status} from {url}", "Stripe status page?")
    return CheckResult("stripe", True, f"reachable, key accepted ({url})")


def run_checks() -> list[CheckResult]:
    """Run every check; later checks are skipped when settings are invalid."""
    first, settings = _settings_check()
    if settings is None:
        return [first]
    steps: list[Callable[[Settings], CheckResult]] = [_database, _broker, _stripe]
    return [first, *(step(settings) for step in steps)]
