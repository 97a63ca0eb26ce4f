"""domain.redact: error texts and tracebacks lose personal data and keep what debugging needs."""

from __future__ import annotations

import json
import subprocess
import sys
import traceback

import pytest

from domain.logs import scrub_texts
from domain.redact import event_strings, is_id, payload_strings, scrub

SQLALCHEMY_ERROR = (
    "(psycopg.errors.StringDataRightTruncation) value too long for type character varying(64)\n"
    "[SQL: UPDATE billing_accounts SET email=%(email)s, address_line1=%(address_line1)s"
    " WHERE billing_accounts.id = %(id_1)s]\n"
    "[parameters: {'email': 'ann@example.com', 'address_line1': 'Damrak 1', 'id_1': 7}]\n"
    "(Background on this error at: https://sqlalche.me/e/21/9h9h)"
)


def test_sqlalchemy_parameter_dump_goes_and_the_statement_stays() -> None:
    out = scrub(SQLALCHEMY_ERROR)
    assert "ann@example.com" not in out and "Damrak" not in out
    assert "[parameters: [redacted]]" in out
    assert "value too long for type character varying(64)" in out
    assert "UPDATE billing_accounts SET email=%(email)s" in out
    assert "https://sqlalche.me/e/21/9h9h" in out


def test_literals_inside_sql_are_blanked() -> None:
    text = "boom\n[SQL: SELECT * FROM t WHERE name = 'Ann O''Neil' AND id = 3]\n(Background"
    out = scrub(text)
    assert "Ann" not in out and "O''Neil" not in out
    assert "[SQL: SELECT * FROM t WHERE name = '?' AND id = 3]" in out


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            'duplicate key value violates unique constraint "t_email_key"\n'
            "DETAIL:  Key (email)=(dup@example.com) already exists.",
            "DETAIL:  Key (email)=([redacted]) already exists.",
        ),
        (
            'null value in column "n" of relation "t" violates not-null constraint\n'
            "DETAIL:  Failing row contains (y@example.com, Ann Smith, null).",
            "DETAIL:  Failing row contains ([redacted]).",
        ),
    ],
)
def test_postgres_details_lose_their_values(text: str, kept: str) -> None:
    out = scrub(text)
    assert kept in out
    assert "example.com" not in out and "Ann Smith" not in out


def test_email_addresses_go_anywhere() -> None:
    out = scrub("Invalid email address: bad.one+tag@sub.example.co.uk (param email)")
    assert out == "Invalid email address: [email] (param email)"


def test_payload_values_go_in_any_spelling_and_ids_stay() -> None:
    payload = {
        "id": "cus_NffrFeUfNV2Hib",
        "object": "customer",
        "name": "Zoë d'Arc",
        "address": {"line1": "Damrak 1", "country": "NL", "postal_code": "1012 LG"},
        "metadata": {"account_ref": "acct_1", "note": "line\nbreak"},
        "status": "active",
    }
    values = payload_strings(payload)
    assert values == {"Zoë d'Arc", "Damrak 1", "1012 LG", "line\nbreak"}
    text = (
        "KeyError: 'Damrak 1'\nValueError: bad name \"Zoë d'Arc\" for cus_NffrFeUfNV2Hib\n"
        "repr: 'line\\nbreak' json: \"line\\nbreak\" upper: DAMRAK 1, status active"
    )
    out = scrub(text, values)
    for gone in ("Damrak", "DAMRAK", "Zoë", "line\\nbreak"):
        assert gone not in out, out
    assert "KeyError: '[redacted]'" in out
    assert "cus_NffrFeUfNV2Hib" in out and "status active" in out


def test_values_match_whole_tokens_only() -> None:
    # A value equal to a word of our code must not eat identifiers that merely contain it.
    out = scrub("in apply_customer_event: names = parse(Ann)", {"names", "Ann"})
    assert out == "in apply_customer_event: [redacted] = parse([redacted])"
    assert scrub("Annotated Annie", {"Ann"}) == "Annotated Annie"


def test_a_real_traceback_keeps_types_and_code_lines() -> None:
    def handler(row: dict[str, str]) -> None:
        raise KeyError(row["postal_code"])

    postal = "".join(["9999", " ", "ZZ"])  # a runtime value, not in this file's source
    try:
        handler({"postal_code": postal, "email": "x@example.com"})
    except KeyError as exc:
        formatted = "".join(traceback.format_exception(exc))
    out = scrub(formatted, {postal, "row", "none"})
    assert postal not in out
    assert "KeyError: '[redacted]'" in out
    # Frame lines are source code: payload values equal to words of it leave them alone.
    assert 'raise KeyError(row["postal_code"])' in out
    assert "test_redact.py" in out


def test_ids_are_recognised() -> None:
    for value in ("cus_NffrFeUfNV2Hib", "evt_1", "cmd_3f2a9c", "price_1MowQULkdIwHu7ix"):
        assert is_id(value), value
    for value in ("past_due", "Ann", "charge_automatically", "line one"):
        assert not is_id(value), value


def test_empty_and_clean_text_pass_through() -> None:
    assert scrub("") == ""
    clean = "RuntimeError: handler failed on purpose for evt_123"
    assert scrub(clean, {"something else"}) == clean


def test_the_log_processor_scrubs_every_text_value() -> None:
    event = {
        "event": "sweeper.failed",
        "error": SQLALCHEMY_ERROR,
        "exception": "Traceback ...\nValueError: no account for ann@example.com",
        "event_id": "evt_123",
        "attempt": 2,
    }
    out = scrub_texts(None, "error", dict(event))
    assert "ann@example.com" not in str(out) and "Damrak" not in str(out)
    assert out["exception"].endswith("ValueError: no account for [email]")
    assert (out["event"], out["event_id"], out["attempt"]) == ("sweeper.failed", "evt_123", 2)


def test_event_strings_read_the_events_data_only() -> None:
    body = (
        '{"id": "evt_1", "type": "customer.updated", "request": {"idempotency_key": "key-123"},'
        ' "data": {"object": {"id": "cus_9Zz", "name": "Ann Smith"},'
        ' "previous_attributes": {"name": "Ann Jones"}}}'
    )
    assert event_strings(body) == {"Ann Smith", "Ann Jones"}
    assert event_strings("not json") == frozenset()


def test_stdlib_log_records_with_tracebacks_are_scrubbed() -> None:
    # configure_logging is once per process: run it in a fresh one, as a worker would.
    script = (
        "import logging\n"
        "from domain.logs import configure_logging\n"
        "configure_logging('json')\n"
        "try:\n"
        "    raise ValueError('no account for ' + 'ann' + '@example.com')\n"
        "except ValueError:\n"
        "    logging.getLogger('celery.app.trace').exception('Task failed')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["event"] == "Task failed" and line["logger"] == "celery.app.trace"
    assert "ann@example.com" not in done.stderr
    assert "Traceback" in line["exception"]
    assert "ValueError: no account for [email]" in line["exception"]
