"""Stripe's HMAC-SHA256 header scheme (`t=<unix>,v1=<hex>`), shared by ingest and workers.

Incoming webhooks are verified with it (`ingest.signature`) and outgoing notifications are
signed with it (`workers.notifier`), so a receiver can reuse Stripe's verification code.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def compute_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 hex of "{t}.{body}" keyed by `secret`."""
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_header(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """A `t=<unix>,v1=<hex>` header value for `body`."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute_signature(secret, t, body)}"
