"""Format check of EU VAT numbers (Stripe `eu_vat` tax ids) before Stripe ever sees them."""

from __future__ import annotations

import re

# Per-country shapes after the two-letter prefix (Stripe rejects others with an API error,
# which would fail the command late; checking here turns it into a 422 at enqueue time).
_SHAPES: dict[str, str] = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"\d{2,10}",
    "SE": r"\d{12}",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
    "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
}


def normalise_vat(value: str) -> str:
    """Upper-case and strip spaces, dots and dashes (people paste `NL 8123.45.678.B01`)."""
    return re.sub(r"[\s.\-]", "", value).upper()


def vat_problem(value: str) -> str | None:
    """None if `value` (normalised) looks like an EU VAT number, else what is wrong."""
    prefix, rest = value[:2], value[2:]
    shape = _SHAPES.get(prefix)
    if shape is None:
        return "must start with an EU country prefix such as NL or DE"
    # ASCII: `\d` would otherwise accept any Unicode digit (Arabic-Indic, full-width, ...).
    if not re.fullmatch(shape, rest, flags=re.ASCII):
        return f"is not a valid {prefix} VAT number"
    return None
