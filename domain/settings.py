"""Typed settings read once from the environment (every one is in docs/configuration.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from domain.data_dir import resolve_data_dir

Scope = Literal["commands", "read", "ops", "usage"]
SCOPES: frozenset[str] = frozenset({"commands", "read", "ops", "usage"})
# Stripe retries a webhook for 3 days and a backfill lists 30 days back; a margin on top.
MIN_RETENTION_DAYS = 35


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the variable and the problem."""


@dataclass(frozen=True)
class ApiToken:
    """One bearer token with its name (for audit logs) and scopes."""

    name: str
    token: SecretStr
    scopes: frozenset[str]


def _default_data_dir() -> Path:
    return resolve_data_dir(os.environ, Path.cwd(), Path.home())


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the service; environment variable names are the upper-cased field names."""

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", case_sensitive=False, populate_by_name=True
    )

    # Default by the rule of domain/data_dir.py (./var if it holds dev data, else per user).
    data_dir: Path = Field(default_factory=_default_data_dir, alias="BILLING_DATA_DIR")
    database_url: str = ""
    broker_url: str = ""
    # Prefix for every Redis key the service writes (broker queues, rate limiter), so several
    # deployments (or test runs) can share one Redis database without seeing each other.
    broker_key_prefix: str = Field(default="", max_length=100)
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    plan_catalog: Path | None = None
    entitlement_grace_days: int = Field(default=7, ge=0)
    # What a period's unused allowance does when the next period is granted: expires
    # (`none`, the default) or stays on the balance (`all`).
    credits_rollover: Literal["none", "all"] = "none"
    # How often the sweeper expires manual and Stripe grants whose expires_at passed.
    credits_expiry_interval_seconds: float = Field(default=60.0, gt=0)

    # Event log retention: finished events received more than RETENTION_DAYS ago are pruned
    # (raw payloads archived to ARCHIVE_DIR first, when set).
    retention_days: int = 90
    archive_dir: Path | None = None
    prune_interval_seconds: float = Field(default=3600.0, gt=0)
    prune_batch_size: int = Field(default=5000, ge=1, le=20_000)  # SQLite: <= 32,766 parameters

    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: str = "INFO"

    webhook_tolerance_seconds: int = Field(default=300, ge=1)
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    retry_base_seconds: float = Field(default=5.0, gt=0)
    retry_cap_seconds: float = Field(default=3600.0, gt=0)
    retry_max_attempts: int = Field(default=8, ge=1)
    lease_seconds: float = Field(default=300.0, gt=0)
    task_time_limit_seconds: int = Field(default=240, ge=1)

    sweeper_interval_seconds: float = Field(default=5.0, gt=0)
    sweeper_grace_seconds: float = Field(default=60.0, ge=0)
    # A queued event counts as lost after the grace plus the queue's current wait, at most
    # this much (domain/queue_wait.py); 0 is the plain grace.
    sweeper_max_wait_seconds: float = Field(default=600.0, ge=0)
    sweeper_batch_size: int = Field(default=500, ge=1)

    publish_batch_size: int = Field(default=50, ge=1)
    publish_linger_ms: float = Field(default=25.0, ge=0, le=1000)
    worker_synchronous_commit: bool = False
    # What sits between the processes and Postgres: `transaction` for a pooler in transaction
    # mode (PgBouncer pool_mode=transaction), where no server state may outlive a transaction
    # (no automatic prepared statements, no session SET): domain.db.make_engine.
    database_pooler: Literal["none", "transaction"] = "none"
    broker_timeout_seconds: float = Field(default=3.0, gt=0)
    # The SQLite broker of the embedded default is polled: an idle worker looks this often.
    broker_poll_interval_seconds: float = Field(default=0.05, gt=0, le=5)
    readiness_timeout_seconds: float = Field(default=3.0, gt=0)
    metrics_cache_seconds: float = Field(default=5.0, ge=0)

    # Notification delivery (off unless NOTIFY_URL is set; the cursor API works either way).
    notify_url: str | None = None
    notify_secret: SecretStr | None = None
    notify_max_attempts: int = Field(default=10, ge=1)
    notify_retry_base_seconds: float = Field(default=30.0, gt=0)
    notify_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_batch_size: int = Field(default=50, ge=1)

    # Outbound Stripe calls (the command API).
    stripe_timeout_seconds: float = Field(default=30.0, gt=0)
    stripe_rate_limit_per_second: float = Field(default=25.0, gt=0)
    stripe_rate_limit_url: str = ""
    command_max_attempts: int = Field(default=8, ge=1)
    command_wait_max_seconds: float = Field(default=30.0, ge=0)

    # Usage reporting to Stripe Billing Meters.
    stripe_meter_events_base: str = "https://meter-events.stripe.com"
    usage_report_api: Literal["v2", "v1"] = "v2"
    usage_bucket_seconds: int = Field(default=60, ge=1, le=86400)
    usage_report_interval_seconds: float = Field(default=30.0, gt=0)
    usage_report_max_records: int = Field(default=50_000, ge=1)
    usage_report_retries: int = Field(default=3, ge=1)
    usage_unlinked_reject_seconds: float = Field(default=3 * 86400.0, ge=0)
    meter_ids: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # The /ops web console: how long a sign-in lasts, and the key its cookies are signed
    # with (derived from API_TOKENS when unset, so every web worker agrees without config).
    ops_session_seconds: int = Field(default=8 * 3600, ge=60, le=30 * 86400)
    ops_session_secret: SecretStr | None = None

    @field_validator("stripe_webhook_secrets", "api_tokens", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("usage_bucket_seconds")
    @classmethod
    def _bucket(cls, value: int) -> int:
        if 86400 % value:
            raise ValueError("must divide a day (86400) so buckets never straddle two days")
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value < MIN_RETENTION_DAYS:
            raise ValueError(
                f"must be at least {MIN_RETENTION_DAYS} (got {value}): Stripe retries a delivery "
                "for 3 days and a backfill reaches 30 days back, so an event pruned sooner "
                "could come back and be stored as new"
            )
        return value

    @field_validator("archive_dir", mode="before")
    @classmethod
    def _archive_dir(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("meter_ids", mode="before")
    @classmethod
    def _meter_ids(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in value.split(","):
            if not part.strip():
                continue
            name, sep, meter_id = str(part).partition(":")
            if not sep or not name.strip() or not meter_id.strip():
                raise ValueError("each entry must be event_name:meter_id (e.g. api_calls:mtr_123)")
            pairs[name.strip()] = meter_id.strip()
        return pairs

    @field_validator("stripe_webhook_secrets")
    @classmethod
    def _whsec(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            if not secret.get_secret_value().startswith("whsec_"):
                raise ValueError("every secret must start with 'whsec_' (copy it from Stripe)")
        return value

    @field_validator("api_tokens")
    @classmethod
    def _tokens(cls, value: list[SecretStr]) -> list[SecretStr]:
        # Entries are named by position and name, never by token. A repeated name would make
        # audit trails ambiguous; a repeated token would let the last entry's scopes win.
        names: dict[str, int] = {}
        tokens: dict[str, tuple[int, str]] = {}
        for position, entry in enumerate(value, start=1):
            try:
                token = _parse_token(entry.get_secret_value())
            except ValueError as exc:
                # By position only: in a malformed entry the first part may well be a token.
                raise ValueError(f"entry {position}: {exc}") from None
            label = f"entry {position} ({token.name!r})"
            if token.name in names:
                raise ValueError(f"{label}: the name is already used by entry {names[token.name]}")
            secret = token.token.get_secret_value()
            if secret in tokens:
                first, first_name = tokens[secret]
                raise ValueError(f"{label}: same token as entry {first} ({first_name!r})")
            names[token.name] = position
            tokens[secret] = (position, token.name)
        return value

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        if value and "://" not in value:
            raise ValueError("must be a Celery broker URL such as redis://127.0.0.1:6379/0")
        return value

    @field_validator("notify_url")
    @classmethod
    def _notify_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None  # NOTIFY_URL= (empty) means off, like unset
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _notify_secret_required(self) -> Settings:
        if self.notify_url and (
            self.notify_secret is None or len(self.notify_secret.get_secret_value()) < 16
        ):
            raise ValueError(
                "NOTIFY_SECRET: required (at least 16 characters) when NOTIFY_URL is set; "
                "receivers verify X-Billing-Signature with it"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded SQLite file under the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'billing.db').as_posix()}"

    @property
    def effective_broker_url(self) -> str:
        """The configured broker, or kombu's SQLAlchemy transport on SQLite."""
        return self.broker_url or f"sqla+sqlite:///{(self.data_dir / 'broker.db').as_posix()}"

    @property
    def behind_transaction_pooler(self) -> bool:
        """Whether Postgres is reached through a transaction-mode pooler (DATABASE_POOLER)."""
        return self.database_pooler == "transaction" and not self.is_sqlite

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def webhook_secrets(self) -> list[bytes]:
        return [s.get_secret_value().encode() for s in self.stripe_webhook_secrets]

    @cached_property
    def tokens(self) -> list[ApiToken]:
        return [_parse_token(entry.get_secret_value()) for entry in self.api_tokens]


_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+psycopg"})


def normalise_database_url(value: str) -> str:
    """Accept the forms hosts hand out: postgres:// and postgresql:// mean psycopg 3.

    Heroku, Render and most providers give `postgres://...`; SQLAlchemy wants a driver. Only
    the scheme is ever quoted back in an error, never the rest (it may hold a password).
    """
    value = value.strip()
    if not value:
        return value
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise ValueError(
            "must be a URL such as postgresql://user@host/db (unset: the embedded SQLite)"
        )
    lowered = scheme.lower()
    if lowered in _POSTGRES_SCHEMES:
        return f"postgresql+psycopg://{rest}"
    if lowered == "sqlite" or lowered.startswith("sqlite+"):
        return value
    if lowered.startswith("postgresql+"):
        raise ValueError(
            f"the driver {lowered.partition('+')[2]!r} is not installed; "
            "use postgresql://... (psycopg 3)"
        )
    raise ValueError(
        f"{lowered!r} databases are not supported; use PostgreSQL (postgresql://user@host/db) "
        "or leave it unset for the embedded SQLite"
    )


def _parse_token(entry: str) -> ApiToken:
    parts = entry.split(":")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise ValueError("each entry must be name:token:scope1+scope2")
    name, token, scopes_text = parts
    scopes = frozenset(s for s in scopes_text.split("+") if s)
    unknown = scopes - SCOPES
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {sorted(SCOPES)}, got {sorted(scopes)}")
    if len(token) < 16:
        raise ValueError("the token must be at least 16 characters")
    return ApiToken(name=name, token=SecretStr(token), scopes=scopes)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            message = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:  # a cross-field rule: its message names the variables
                problems.append(message)
                continue
            field = str(err["loc"][0])
            variable = "BILLING_DATA_DIR" if field == "data_dir" else field.upper()
            problems.append(f"{variable}: {message}")
        if len(problems) == 1:  # the usual case: one line
            raise SettingsError(f"invalid configuration: {problems[0]}") from None
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None
    except PydanticSettingsError as exc:
        raise SettingsError(f"invalid configuration: {exc}") from None


def require_webhook_secrets(settings: Settings) -> None:
    """The webhook endpoint refuses to start without at least one secret."""
    if not settings.stripe_webhook_secrets:
        raise SettingsError(
            "STRIPE_WEBHOOK_SECRETS: not set; give one or more comma-separated whsec_... secrets "
            "(or run `billing dev`, which generates one)"
        )


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes", "on"}
