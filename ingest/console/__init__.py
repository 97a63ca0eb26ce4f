"""The ops web console (`/ops`): server-rendered pages over the ops services (see
docs/console.md). One module per page; `pages` holds the sign-in guard and CSRF check."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ingest.console import accounts, commands, events, issues, login, overview
from ingest.console.pages import HERE

CONSOLE_ROUTES = [
    Route("/ops", overview.overview, methods=["GET"]),
    Route("/ops/overview/live", overview.overview_fragment, methods=["GET"]),
    Route("/ops/login", login.login_form, methods=["GET"]),
    Route("/ops/login", login.login, methods=["POST"]),
    Route("/ops/logout", login.logout, methods=["POST"]),
    Route("/ops/issues", issues.list_issues, methods=["GET"]),
    Route("/ops/issues/{key}", issues.show_issue, methods=["GET"]),
    Route("/ops/issues/{key}/replay", issues.replay_issue, methods=["POST"]),
    Route("/ops/replays/{audit_id}", issues.show_replay, methods=["GET"]),
    Route("/ops/replays/{audit_id}/status", issues.replay_status, methods=["GET"]),
    Route("/ops/events", events.list_events, methods=["GET"]),
    Route("/ops/events/{event_id}", events.show_event, methods=["GET"]),
    Route("/ops/events/{event_id}/replay", events.replay_event, methods=["POST"]),
    Route("/ops/accounts", accounts.find_account, methods=["GET"]),
    Route("/ops/accounts/{account_ref}", accounts.show_account, methods=["GET"]),
    Route("/ops/commands", commands.list_ops_commands, methods=["GET"]),
    Route("/ops/commands/{id}", commands.show_command, methods=["GET"]),
    Route("/ops/commands/{id}/retry", commands.retry_command, methods=["POST"]),
    Mount("/ops/static", StaticFiles(directory=HERE / "static"), name="console_static"),
]
