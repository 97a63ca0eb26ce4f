"""Scrub personal data out of error texts and tracebacks before they are stored or logged.

What an exception says is not ours to control: SQLAlchemy appends the bound parameters
(`[parameters: {'email': ...}]`), Postgres quotes the failing row (`DETAIL: Failing row
contains (...)`, `Key (email)=(...)`), a `KeyError` or `ValueError` repeats the value it
choked on, and Stripe's error messages echo request parameters such as an e-mail address.
`scrub` removes all of that and keeps what debugging needs: exception types, our own code
lines and SQL statements, Postgres' reason, and ids (`evt_...`, `cus_...`, `cmd_...`).

Three kinds of data go:

- e-mail addresses, wherever they appear;
- parameter dumps: SQLAlchemy's `[parameters: ...]`, string literals inside `[SQL: ...]`,
  Postgres' `Key (...)=(...)` and `Failing row contains (...)`;
- the `sensitive` strings the caller knows about: the event's payload values or the
  command's parameters (see `payload_strings`), matched case-insensitively as whole tokens
  and also in their `repr` and JSON-escaped spellings, everywhere but in a traceback's
  frame lines (source code, which holds no runtime values).
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import orjson

REDACTED = "[redacted]"
EMAIL_REDACTED = "[email]"
# Shorter values (country codes, "eu", booleans spelled out) identify nobody and, matched
# as tokens, would shred ordinary words in messages and code lines.
MIN_SENSITIVE_LENGTH = 3
# Keys whose values are Stripe enums or our own identifiers, never personal data.
STRUCTURAL_KEYS = frozenset(
    {
        "object",
        "status",
        "currency",
        "interval",
        "type",
        "mode",
        "billing_reason",
        "collection_method",
        "payment_status",
        "usage_type",
        "billing_scheme",
        "tax_behavior",
        "proration_behavior",
        "api_version",
        "tax_exempt",
        "account_ref",
        # command parameters that choose among our own options
        "tier",
        "when",
        "payment_method_types",
    }
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# repr() of the parameters is one line (newlines in values are escaped): up to its last "]".
_PARAMETERS = re.compile(r"\[parameters: [^\n]*\]")
_SQL = re.compile(r"\[SQL: .*?\](?=\n\[|\n\(Background|\s*\Z)", re.DOTALL)
_SQL_LITERAL = re.compile(r"'(?:[^']|'')*'")
_PG_KEY = re.compile(r"(Key \([^)]*\))=\(.*?\)(?= already exists| is not present|\.|$)", re.M)
_PG_ROW = re.compile(r"(Failing row contains )\(.*\)")
# A Stripe or our own id: a lowercase prefix and a random part with a digit or capital.
_ID = re.compile(r"[a-z]+(?:_[a-z]+)*_(?=[A-Za-z0-9]*[0-9A-Z])[A-Za-z0-9]+")
_EDGE = r"(?<![A-Za-z0-9]){}(?![A-Za-z0-9])"


def is_id(value: str) -> bool:
    """True for identifiers like `cus_NffrFeUfNV2Hib`, `evt_1`, `cmd_3f2a...`."""
    return _ID.fullmatch(value) is not None


def payload_strings(doc: Any) -> frozenset[str]:
    """The string values of a JSON document that may be personal (ids and enums excluded)."""
    return frozenset(_strings(doc, None))


def event_strings(raw_body: str | bytes) -> frozenset[str]:
    """`payload_strings` of an event's `data` (its object and previous attributes)."""
    try:
        doc = orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        return frozenset()
    return payload_strings(doc.get("data") if isinstance(doc, dict) else doc)


def _strings(node: Any, key: str | None) -> Iterator[str]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _strings(v, str(k))
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _strings(item, key)
    elif isinstance(node, str):
        value = node.strip()
        if len(value) >= MIN_SENSITIVE_LENGTH and key not in STRUCTURAL_KEYS and not is_id(value):
            yield value


def scrub(text: str, sensitive: Collection[str] = ()) -> str:
    """`text` without e-mail addresses, parameter dumps and any of the `sensitive` strings."""
    if not text:
        return text
    text = _PARAMETERS.sub("[parameters: " + REDACTED + "]", text)
    text = _SQL.sub(lambda m: _SQL_LITERAL.sub("'?'", m.group(0)), text)
    text = _PG_KEY.sub(r"\1=(" + REDACTED + ")", text)
    text = _PG_ROW.sub(r"\1(" + REDACTED + ")", text)
    pattern = _sensitive_pattern(sensitive)
    if pattern is not None:
        text = "".join(line if code else pattern.sub(REDACTED, line) for line, code in _lines(text))
    return _EMAIL.sub(EMAIL_REDACTED, text)


def format_exception(exc: BaseException, sensitive: Collection[str] = ()) -> str:
    """The exception's full traceback (its causes included), scrubbed."""
    return scrub("".join(traceback.format_exception(exc)), sensitive)


def scrub_fields(record: Mapping[str, Any], sensitive: Collection[str] = ()) -> dict[str, Any]:
    """A copy of a flat record (an error object) with every text field scrubbed."""
    return {k: scrub(v, sensitive) if isinstance(v, str) else v for k, v in record.items()}


def _lines(text: str) -> Iterator[tuple[str, bool]]:
    """Each line and whether it is a traceback frame (its `File` line, source and carets).

    Frame lines are source code read from files, never runtime values, so payload values
    are not searched there: a payload value equal to a word of the code ("none", "id")
    must not garble the code lines a traceback is read for.
    """
    in_frame = False
    for line in text.splitlines(keepends=True):
        if line.startswith('  File "'):
            in_frame = True
        elif not line.startswith("    "):
            in_frame = False
        yield line, in_frame


def _sensitive_pattern(values: Collection[str]) -> re.Pattern[str] | None:
    spellings: set[str] = set()
    for value in values:
        if len(value) < MIN_SENSITIVE_LENGTH:
            continue
        spellings.update({value, repr(value)[1:-1], json.dumps(value)[1:-1]})
    if not spellings:
        return None
    # Longest first, so a value is never half-replaced by a shorter one inside it.
    alternatives = "|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))
    return re.compile(_EDGE.format(f"(?:{alternatives})"), re.IGNORECASE)
