"""App variants for same-run A/B comparisons in bench/ingest.py: one production choice undone.

`app_without_pre_ping`: the web engine does not ping a pooled connection on checkout (what
it did before stale connections after a Postgres restart answered 500).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

import ingest.app
from domain.db import make_engine


def _make_engine_without_pre_ping(url: str, **options: Any) -> Engine:
    return make_engine(url, **{**options, "pre_ping": False})


# The lifespan looks make_engine up in ingest.app when the app starts.
ingest.app.make_engine = _make_engine_without_pre_ping  # type: ignore[assignment]
app_without_pre_ping = ingest.app.create_app()
