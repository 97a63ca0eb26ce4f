"""Constrained types for every value that reaches a query: the database's limits, stated once.

Postgres refuses NUL in text (`\\x00` fails the statement: a 500 if it got that far), an
`integer` column holds 32 bits and a `bigint` 64, and `String(n)` columns hold n characters.
Request models, query models and path ids are built from these types, so a value the
database would refuse is a validation error at the edge instead.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

INT32_MAX = 2**31 - 1  # `Integer` columns: dead_letters.id, replay_audit.id
INT64_MAX = 2**63 - 1  # `BigInteger` columns: commands.seq, notifications.id
ID_LENGTH = 255  # `String(255)`: event ids, account refs, object ids
COMMAND_ID_LENGTH = 40  # commands.id


def refuse_nul(value: str) -> str:
    """The value, unless it holds a NUL character (which no text column can store)."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


NoNul = AfterValidator(refuse_nul)
# Any text stored or compared in the database. Bounds go before the validator, so their
# errors read "at most N characters": `Annotated[str, Field(max_length=N), NoNul]`.
SafeStr = Annotated[str, NoNul]
# An id or exact-match filter compared with a String(255) column.
Ident = Annotated[str, StringConstraints(min_length=1, max_length=ID_LENGTH), NoNul]
# Keyset cursors and ids of Integer / BigInteger columns.
Int32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
Int64 = Annotated[int, Field(ge=0, le=INT64_MAX)]


def is_ident(value: str, max_length: int = ID_LENGTH) -> bool:
    """Whether `value` could be stored in a String(max_length) id column at all."""
    return 0 < len(value) <= max_length and "\x00" not in value


def ascii_int(value: str, maximum: int) -> int | None:
    """`value` as an int when it is ASCII digits within 0..maximum, else None.

    `str.isdigit()` is true for superscripts and other unicode digits that `int()` refuses,
    and `int()` refuses more than 4,300 digits: check the characters and the length first.
    """
    if not value or len(value) > len(str(maximum)) or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= maximum else None
