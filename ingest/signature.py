"""Stripe's webhook signature scheme, verified on raw bytes in constant time."""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence

from domain.signing import compute_signature, sign_header

__all__ = ["SignatureError", "compute_signature", "sign_header", "verify"]


class SignatureError(ValueError):
    """Why a signature was refused; `code` goes into the JSON error answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError(
                    "invalid_signature_header", "timestamp is not an integer"
                ) from None
        elif key == "v1":  # v0 and unknown schemes are ignored on purpose
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("invalid_signature_header", "Stripe-Signature has no timestamp")
    if not signatures:
        raise SignatureError("no_valid_signature", "Stripe-Signature has no v1 signature")
    return timestamp, signatures


def verify(
    body: bytes,
    header: str | None,
    secrets: Sequence[bytes],
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless some v1 signature matches some secret within tolerance."""
    if not header:
        raise SignatureError("missing_signature", "Stripe-Signature header is missing")
    timestamp, signatures = _parse_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(
            "timestamp_out_of_tolerance",
            f"signature timestamp is more than {tolerance}s from now",
        )
    matched = False
    for secret in secrets:
        expected = compute_signature(secret, timestamp, body)
        for candidate in signatures:
            # Keep comparing after a match so timing does not reveal which pair matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no_valid_signature", "no v1 signature matches a configured secret")
