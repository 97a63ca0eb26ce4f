"""Issues: dead letters grouped by (event type, error type, normalised message), and the
replay of a group (dry-run count first, a reason required, the CLI's audited service)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.ops.audit import audit_progress, get_audit
from domain.ops.issues import dead_issues, find_issue, sample_traceback
from domain.ops.service import ReplayService
from ingest.console.pages import action, actor, page, problem, reason_of, render, run_read

FINISHED = ("processed", "ignored", "dead")


def replay_service(request: Request) -> ReplayService:
    """The ops API's replay service: the app's engine and batch publisher."""
    return ReplayService(request.app.state.engine, request.app.state.publisher.submit)


@page
async def list_issues(request: Request) -> Response:
    """GET /ops/issues."""
    issues = await run_in_threadpool(run_read, request, dead_issues)
    return render(request, "issues.html", {"issues": issues})


def _issue_detail(conn: Any, key: str) -> dict[str, Any] | None:
    issue = find_issue(conn, key)
    if issue is None:
        return None
    trace = sample_traceback(conn, issue.sample_id) if issue.sample_id else None
    return {"issue": issue, "traceback": trace}


async def _issue_page(
    request: Request, key: str, message: str | None = None, status: int = 200
) -> Response:
    found = await run_in_threadpool(run_read, request, lambda c: _issue_detail(c, key))
    if found is None:
        return problem(request, 404, "No such issue", "nothing in this group is dead any more")
    issue = found["issue"]
    dry = await run_in_threadpool(
        replay_service(request).replay_dead_letters,
        actor(request),
        refs=issue.event_ids,
        dry_run=True,
    )
    context = {**found, "dry_run": dry, "message": message}
    return render(request, "issue.html", context, status)


@page
async def show_issue(request: Request) -> Response:
    """GET /ops/issues/{key}: the group, a sample traceback, the dry-run count, the form."""
    return await _issue_page(request, request.path_params["key"][:64])


@action
async def replay_issue(request: Request, form: dict[str, str]) -> Response:
    """POST /ops/issues/{key}/replay: replay the group's dead letters (reason required)."""
    key = request.path_params["key"][:64]
    reason = reason_of(form)
    if reason is None:
        return await _issue_page(request, key, "A reason is required.", 422)
    issue = await run_in_threadpool(run_read, request, lambda c: find_issue(c, key))
    if issue is None:
        return problem(request, 404, "No such issue", "nothing in this group is dead any more")
    result = await run_in_threadpool(
        replay_service(request).replay_dead_letters,
        actor(request),
        refs=issue.event_ids,
        reason=reason,
    )
    if result.audit_id is None:
        return render(request, "replay.html", {"audit": None, "result": result, "progress": {}})
    return RedirectResponse(f"/ops/replays/{result.audit_id}", status_code=303)


def _audit_context(conn: Any, audit_id: int) -> dict[str, Any] | None:
    audit = get_audit(conn, audit_id)
    if audit is None:
        return None
    progress = audit_progress(conn, audit_id)
    pending = sum(n for s, n in progress.items() if s not in FINISHED)
    return {"audit": audit, "progress": progress, "pending": pending, "result": None}


async def _audit(request: Request, template: str) -> Response:
    raw = request.path_params["audit_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return problem(request, 404, "No such replay", "no audited action with this id")
    found = await run_in_threadpool(run_read, request, lambda c: _audit_context(c, int(raw)))
    if found is None:
        return problem(request, 404, "No such replay", "no audited action with this id")
    return render(request, template, found)


@page
async def show_replay(request: Request) -> Response:
    """GET /ops/replays/{audit_id}: how many were replayed and where they are now."""
    return await _audit(request, "replay.html")


@page
async def replay_status(request: Request) -> Response:
    """GET /ops/replays/{audit_id}/status: the progress fragment htmx polls."""
    return await _audit(request, "_replay_status.html")
