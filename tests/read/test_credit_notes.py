"""The read API for the invoices group: credit notes listed, invoices showing their
credited amount, deleted drafts gone from the invoice listing (also under `?status=`)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_invoices as fi
from tests.read.support import AUTH, Pipeline

T0 = 1_735_000_000
ACCT, CUS, SUB = "org_credit", "cus_credit", "sub_credit"
PAID, OPEN, DRAFT, GONE, OTHER = "in_cr_paid", "in_cr_open", "in_cr_draft", "in_cr_gone", "in_x"
CREDIT_NOTES = 23


def ids(body: dict[str, object]) -> list[str]:
    return [row["id"] for row in body["data"]]  # type: ignore[attr-defined,index]


def seed(pipe: Pipeline, shape: ApiShape = ApiShape.CURRENT) -> None:
    """A paid invoice with credit notes (one void), an open one known only from
    invoice.updated, a draft, and a deleted draft; another customer's credit note."""

    def inv(inv_id: str, status: str, hour: int) -> dict[str, object]:
        return fi.invoice(inv_id, CUS, SUB, status, shape=shape, created=T0 + hour * 3600)

    pipe.deliver(
        f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        f.event("invoice.paid", inv(PAID, "paid", 1), T0 + 3600, shape=shape),
        f.event("invoice.updated", inv(OPEN, "open", 2), T0 + 7200, shape=shape),
        f.event("invoice.created", inv(DRAFT, "draft", 3), T0 + 3 * 3600, shape=shape),
        f.event("invoice.created", inv(GONE, "draft", 4), T0 + 4 * 3600, shape=shape),
        f.event("invoice.deleted", inv(GONE, "deleted", 4), T0 + 4 * 3600 + 60, shape=shape),
        f.event(
            "credit_note.created",
            fi.credit_note("cn_x", "cus_other", OTHER, shape=shape, total=99_999),
            T0,
            shape=shape,
        ),
    )
    for n in range(CREDIT_NOTES):
        # Credit notes of the paid invoice, every fourth voided; one on the open invoice.
        inv_id = OPEN if n == 0 else PAID
        status = "void" if n % 4 == 3 else "issued"
        event_type = "credit_note.voided" if status == "void" else "credit_note.created"
        note = fi.credit_note(
            f"cn_{n:02d}", CUS, inv_id, status, shape=shape, total=100 + n, created=T0 + n * 60
        )
        pipe.deliver(f.event(event_type, note, T0 + n * 60 + 5, shape=shape))


def credited() -> dict[str, int]:
    """What the seeded credit notes credit per invoice: non-void ones only."""
    totals: dict[str, int] = {}
    for n in range(CREDIT_NOTES):
        if n % 4 != 3:
            inv_id = OPEN if n == 0 else PAID
            totals[inv_id] = totals.get(inv_id, 0) + 100 + n
    return totals


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_invoices_show_the_credited_amount_and_never_deleted_drafts(
    pipe: Pipeline, shape: ApiShape
) -> None:
    seed(pipe, shape)
    body = pipe.get(f"/v1/accounts/{ACCT}/invoices")
    assert ids(body) == [DRAFT, OPEN, PAID]  # newest first; the deleted draft is gone
    shown = {row["id"]: row for row in body["data"]}
    expected = credited()
    assert expected[PAID] > 0 and expected[OPEN] == 100
    assert {i: row["amount_credited"] for i, row in shown.items()} == {
        PAID: expected[PAID],
        OPEN: expected[OPEN],
        DRAFT: 0,
    }
    assert shown[OPEN]["status"] == "open"  # known only from invoice.updated
    drafts = pipe.get(f"/v1/accounts/{ACCT}/invoices", status="draft")
    assert ids(drafts) == [DRAFT]
    assert ids(pipe.get(f"/v1/accounts/{ACCT}/invoices", limit=1, status="draft")) == [DRAFT]
    answer = pipe.client.get(
        f"/v1/accounts/{ACCT}/invoices", params={"status": "deleted"}, headers=AUTH
    )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["fields"]] == ["status"]


def test_credit_notes_paginate_newest_first_with_status_filter(pipe: Pipeline) -> None:
    seed(pipe)
    first = pipe.get(f"/v1/accounts/{ACCT}/credit-notes")
    assert len(first["data"]) == 20 and first["has_more"] is True
    second = pipe.get(f"/v1/accounts/{ACCT}/credit-notes", cursor=first["next_cursor"])
    assert (len(second["data"]), second["has_more"], second["next_cursor"]) == (3, False, None)
    assert ids(first) + ids(second) == [f"cn_{n:02d}" for n in reversed(range(CREDIT_NOTES))]
    newest = first["data"][0]
    assert newest == {
        "id": "cn_22",
        "invoice_id": PAID,
        "number": "CN-cn_22",
        "status": "issued",
        "type": "post_payment",
        "reason": "order_change",
        "currency": "eur",
        "amount": 122,
        "subtotal": 122 - 122 // 6,
        "total": 122,
        "tax": 122 // 6,
        "pre_payment_amount": 0,
        "post_payment_amount": 122,
        "out_of_band_amount": None,
        "amount_refunded": 0,
        "pdf": "https://pay.stripe.com/credit_notes/cn_22/pdf",
        "effective_at": newest["effective_at"],
        "voided_at": None,
        "created": newest["created"],
    }
    assert newest["created"] is not None and "memo" not in newest and "Jan" not in str(first)
    void = pipe.get(f"/v1/accounts/{ACCT}/credit-notes", status="void")
    assert ids(void) == [f"cn_{n:02d}" for n in reversed(range(CREDIT_NOTES)) if n % 4 == 3]
    assert all(row["voided_at"] is not None for row in void["data"])


@pytest.mark.parametrize("path", ["/credit-notes", "/invoices"])
def test_unknown_account_is_404(client: TestClient, path: str) -> None:
    answer = client.get(f"/v1/accounts/org_missing{path}", headers=AUTH)
    assert answer.status_code == 404 and answer.json()["error"] == "account_not_found"


def test_openapi_documents_credit_notes_and_the_credited_amount(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/accounts/{account_ref}/credit-notes"]["get"]
    assert op["security"] == [{"bearer": ["read"]}]
    assert {p["name"] for p in op["parameters"]} == {"account_ref", "status", "limit", "cursor"}
    schemas = doc["components"]["schemas"]
    assert "memo" not in schemas["CreditNoteOut"]["properties"]
    assert "raw" not in schemas["CreditNoteOut"]["properties"]
    credited_field = schemas["InvoiceOut"]["properties"]["amount_credited"]
    assert credited_field["type"] == "integer" and "not void" in credited_field["description"]
