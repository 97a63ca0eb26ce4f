"""Stripe's webhook signature scheme, verified on raw bytes in constant time."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

from domain.signing import compute_signature, sign_header

__all__ = [
    "MAX_HEADER_LENGTH",
    "MAX_V1_SIGNATURES",
    "SignatureError",
    "SignatureVerifier",
    "compute_signature",
    "sign_header",
    "verify",
]

# Stripe sends one timestamp and a v1 per active secret (two or three while one is rolled):
# a few hundred bytes. Anything far beyond that is refused before it is split or compared.
MAX_HEADER_LENGTH = 8 * 1024
MAX_V1_SIGNATURES = 32
# Unix seconds: ten digits until the year 2286; more cannot be within any tolerance.
_MAX_TIMESTAMP_DIGITS = 12


class SignatureError(ValueError):
    """Why a signature was refused; `code` goes into the JSON error answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _parse_timestamp(value: str) -> int:
    # int() would also take "+1", " 1", "1_0", other scripts' digits and 4,300-digit
    # numbers (which then overflow a float): only plain ASCII digits are a timestamp.
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_TIMESTAMP_DIGITS):
        raise SignatureError("invalid_signature_header", "timestamp is not a Unix time")
    return int(value)


def _parse_header(header: str) -> tuple[int, list[bytes]]:
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError(
            "invalid_signature_header", f"Stripe-Signature is longer than {MAX_HEADER_LENGTH} bytes"
        )
    if header.count("v1=") > MAX_V1_SIGNATURES:
        raise SignatureError(
            "invalid_signature_header",
            f"Stripe-Signature has more than {MAX_V1_SIGNATURES} v1 signatures",
        )
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = _parse_timestamp(value)
        elif key == "v1":  # v0 and unknown schemes are ignored on purpose
            # Compared as bytes: a hex digest is ASCII, and compare_digest refuses non-ASCII
            # str. Header values arrive as latin-1, so every character maps to one byte.
            signatures.append(value.encode("latin-1", "replace"))
    if timestamp is None:
        raise SignatureError("invalid_signature_header", "Stripe-Signature has no timestamp")
    if not signatures:
        raise SignatureError("no_valid_signature", "Stripe-Signature has no v1 signature")
    return timestamp, signatures


class SignatureVerifier:
    """Verifies against fixed secrets, their HMAC keys prepared once (not per request)."""

    def __init__(self, secrets: Sequence[bytes]) -> None:
        self._keyed = [hmac.new(secret, digestmod=hashlib.sha256) for secret in secrets]

    def verify(
        self, body: bytes, header: str | None, tolerance: int = 300, now: float | None = None
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
        signed = b"%d." % timestamp
        matched = False
        for keyed in self._keyed:
            mac = keyed.copy()
            mac.update(signed)
            mac.update(body)
            expected = mac.hexdigest().encode()
            for candidate in signatures:
                # Keep comparing after a match so timing does not reveal which pair matched.
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise SignatureError(
                "no_valid_signature", "no v1 signature matches a configured secret"
            )


def verify(
    body: bytes,
    header: str | None,
    secrets: Sequence[bytes],
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless some v1 signature matches some secret within tolerance."""
    SignatureVerifier(secrets).verify(body, header, tolerance, now)
