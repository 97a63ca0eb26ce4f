"""The overview page: backlog, oldest unprocessed age, throughput chart, dead counts, health.

The numbers come from the same queries as `billing stats` (domain.ops.stats, without the
per-type scan) and the readiness probes; the fragment is what htmx refreshes every 5 s.
One snapshot is shared for METRICS_CACHE_SECONDS by every viewer of this process, and the
per-minute counts of settled minutes are kept (domain.ops.throughput.ThroughputCache).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.ops.stats import collect
from domain.ops.throughput import Throughput, ThroughputCache
from domain.types import utcnow
from ingest.console.pages import page, render, run_read

WIDTH, HEIGHT, BAR = 600, 120, 10


@dataclass(frozen=True)
class Bar:
    x: int
    events: int
    failures: int
    events_height: float
    failures_height: float
    minute: str


def chart(data: Throughput) -> list[Bar]:
    """Bars of the per-minute chart, scaled to the busiest minute (pure)."""
    peak = max([*data.events, *data.failures, 1])
    bars = []
    for i, (events, failures) in enumerate(zip(data.events, data.failures, strict=True)):
        minute = (data.start.timestamp() // 60 + i) * 60
        bars.append(
            Bar(
                x=i * BAR,
                events=events,
                failures=failures,
                events_height=round(HEIGHT * events / peak, 1),
                failures_height=round(HEIGHT * failures / peak, 1),
                minute=time.strftime("%H:%M", time.gmtime(minute)),
            )
        )
    return bars


def _snapshot(conn: Any, counts: ThroughputCache) -> dict[str, Any]:
    now = utcnow()
    return {"stats": collect(conn, now, by_type=False), "throughput": counts.throughput(conn, now)}


async def _context(request: Request) -> dict[str, Any]:
    state = request.app.state
    ttl = state.settings.metrics_cache_seconds
    cached = getattr(state, "console_snapshot", None)
    if cached is None or time.monotonic() - cached[0] >= ttl:
        counts = getattr(state, "console_throughput", None)
        if counts is None:
            counts = state.console_throughput = ThroughputCache()
        snap = await run_in_threadpool(run_read, request, lambda c: _snapshot(c, counts))
        state.console_snapshot = cached = (time.monotonic(), snap)
    snap = cached[1]
    health = await state.readiness.run()
    return {
        **snap,
        "bars": chart(snap["throughput"]),
        "chart": {"width": WIDTH, "height": HEIGHT, "bar": BAR},
        "health": health,
        "generated_at": utcnow(),
    }


@page
async def overview(request: Request) -> Response:
    """GET /ops."""
    return render(request, "overview.html", await _context(request))


@page
async def overview_fragment(request: Request) -> Response:
    """GET /ops/overview/live: the refreshed part of the overview."""
    return render(request, "_overview.html", await _context(request))
