"""Common mistakes end in one line naming the variable and the fix, never a traceback."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError, ProgrammingError

from domain.db import database_error_reason, database_location, sqlite_file
from domain.settings import Settings, SettingsError


class CliError(RuntimeError):
    """A one-line message for the user; the command exits with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def require_database(settings: Settings) -> None:
    """Read commands never create a database: a missing SQLite file is an error, not a new one."""
    path = sqlite_file(settings.effective_database_url)
    if path is not None and not path.exists():
        raise CliError(f"no database at {path}; run `billing dev` or set DATABASE_URL")


def explain(exc: BaseException, database_url: str | None) -> CliError | None:
    """The one-line message for an error a user can fix, or None for a real bug."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, SettingsError):
        return CliError(str(exc), code=2)
    if isinstance(exc, OperationalError | ProgrammingError) and database_url:
        where = database_location(database_url)
        reason = database_error_reason(exc)
        if reason == "not migrated (no tables)":
            return CliError(f"the database at {where} has no tables; run `billing migrate`")
        if isinstance(exc, OperationalError):
            return CliError(f"cannot use the database at {where} (DATABASE_URL): {reason}")
    return None
