"""Hostile input on every authenticated route: always a JSON 4xx in the one error shape.

NUL characters (Postgres text refuses them), integers past their column's range, times past
datetime's range, unicode digits, 5,000-digit ids and wrong JSON types must each be refused
at the edge with `404` (a path id that cannot name any row) or `422` with `fields`, never
reach the database as a 500.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.support.env import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
NUL = "\x00"
HUGE_ID = "9" * 5000


def cursor(*parts: Any) -> str:
    """An ops event cursor as the API encodes them (base64 of a JSON pair)."""
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode()


@pytest.fixture
def client(api_client: TestClient) -> TestClient:
    return api_client


def assert_error(answer: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.text[:500])
    body = answer.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str), body
    if code is not None:
        assert body["error"] == code, body
    return body


def assert_fields(body: dict[str, Any], *names: str) -> None:
    """A validation error: `fields` names exactly these fields, echoing no input value."""
    assert set(body) <= {"error", "message", "fields"}, body
    assert [f["field"] for f in body["fields"]] == list(names), body
    for entry in body["fields"]:
        assert set(entry) == {"field", "message"} and entry["message"], entry
        assert NUL not in entry["message"] and HUGE_ID not in entry["message"], entry
    assert NUL not in body["message"], body


NOT_FOUND_PATHS = [
    # (method, path): a path id with NUL, over its column's length, or a unicode digit
    ("GET", "/v1/accounts/%00"),
    ("GET", "/v1/accounts/a%00b/subscriptions"),
    ("GET", "/v1/accounts/a%00b/invoices"),
    ("GET", "/v1/accounts/a%00b/payment-methods"),
    ("GET", f"/v1/accounts/{'a' * 300}"),
    ("GET", "/v1/commands/%00"),
    ("GET", f"/v1/commands/cmd_{'a' * 100}"),
    ("GET", "/v1/ops/commands/%00"),
    ("POST", "/v1/ops/commands/a%00b/retry"),
    ("GET", "/v1/ops/events/%00"),
    ("POST", "/v1/ops/events/a%00b/replay"),
    ("GET", "/v1/ops/dead-letters/%00"),
    ("POST", "/v1/ops/dead-letters/a%00b/replay"),
    ("GET", "/v1/ops/dead-letters/%C2%B2"),
    ("POST", "/v1/ops/dead-letters/%C2%B2/replay"),
    ("GET", f"/v1/ops/dead-letters/{HUGE_ID}"),
    ("POST", f"/v1/ops/dead-letters/{HUGE_ID}/replay"),
    ("GET", "/v1/ops/dead-letters/2147483648"),
    ("POST", "/v1/ops/dead-letters/2147483648/replay"),
    ("GET", "/v1/ops/dead-letters/9223372036854775808"),
]


@pytest.mark.parametrize(("method", "path"), NOT_FOUND_PATHS)
def test_a_path_id_that_cannot_name_a_row_is_404(
    client: TestClient, method: str, path: str
) -> None:
    body = assert_error(client.request(method, path, headers=AUTH), 404)
    assert body["error"] in {"not_found", "account_not_found"}
    assert NUL not in body["message"] and HUGE_ID not in body["message"]


BAD_QUERIES = [
    # (path, params, field)
    ("/v1/notifications", {"account_ref": f"a{NUL}b"}, "account_ref"),
    ("/v1/notifications", {"after": "9223372036854775808"}, "after"),
    ("/v1/notifications", {"after": HUGE_ID}, "after"),
    ("/v1/accounts/org_1/invoices", {"cursor": cursor(1, f"in_{NUL}")}, "cursor"),
    ("/v1/accounts/org_1/subscriptions", {"cursor": cursor(2**62, "sub_1")}, "cursor"),
    ("/v1/commands/cmd_1", {"wait": "nan"}, "wait"),
    ("/v1/ops/events", {"type": NUL}, "type"),
    ("/v1/ops/events", {"source": f"a{NUL}"}, "source"),
    ("/v1/ops/events", {"type": "x" * 300}, "type"),
    ("/v1/ops/events", {"since": "999999999d"}, "since"),
    ("/v1/ops/events", {"since": f"{HUGE_ID}d"}, "since"),
    ("/v1/ops/events", {"since": "9999-12-31T23:59:59-14:00"}, "since"),
    ("/v1/ops/events", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ("/v1/ops/events", {"cursor": cursor("2026-01-01T00:00:00", "evt_1")}, "cursor"),
    ("/v1/ops/events", {"cursor": cursor("9999-12-31T23:59:59-14:00", "evt_1")}, "cursor"),
    ("/v1/ops/events", {"cursor": cursor("2026-01-01T00:00:00+00:00", f"evt{NUL}")}, "cursor"),
    ("/v1/ops/events", {"cursor": "not-base64!"}, "cursor"),
    ("/v1/ops/events", {"status": "zombie"}, "status"),
    ("/v1/ops/dead-letters", {"type": NUL}, "type"),
    ("/v1/ops/dead-letters", {"error": f"Key{NUL}Error"}, "error"),
    ("/v1/ops/dead-letters", {"since": "9999-12-31T23:59:59-14:00"}, "since"),
    ("/v1/ops/dead-letters", {"before": "2147483648"}, "before"),
    ("/v1/ops/dead-letters", {"before": "²"}, "before"),
    ("/v1/ops/dead-letters", {"include_replayed": "perhaps"}, "include_replayed"),
    ("/v1/ops/commands", {"type": NUL}, "type"),
    ("/v1/ops/commands", {"since": "999999999w"}, "since"),
    ("/v1/ops/commands", {"before": "9223372036854775808"}, "before"),
    ("/v1/ops/commands", {"limit": "501"}, "limit"),
]


@pytest.mark.parametrize(("path", "params", "field"), BAD_QUERIES)
def test_a_bad_query_parameter_is_422_naming_it(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    body = assert_error(client.get(path, params=params, headers=AUTH), 422, "invalid_request")
    assert_fields(body, field)


BAD_OPS_BODIES = [
    # (path, body, field)
    ("/v1/ops/dead-letters/1/replay", {"reason": f"hot{NUL}fix"}, "reason"),
    ("/v1/ops/dead-letters/1/replay", {"dry_run": "sometimes"}, "dry_run"),
    ("/v1/ops/dead-letters/replay", {"ids": [f"evt{NUL}"]}, "ids.0"),
    ("/v1/ops/dead-letters/replay", {"ids": [HUGE_ID]}, "ids.0"),
    ("/v1/ops/dead-letters/replay", {"type": f"a{NUL}"}, "type"),
    ("/v1/ops/dead-letters/replay", {"error": f"a{NUL}"}, "error"),
    ("/v1/ops/dead-letters/replay", {"since": "999999999d"}, "since"),
    ("/v1/ops/dead-letters/replay", {"since": "9999-12-31T23:59:59-14:00"}, "since"),
    ("/v1/ops/dead-letters/replay", {"all": True, "reason": f"x{NUL}"}, "reason"),
    ("/v1/ops/dead-letters/replay", {"ids": "evt_1"}, "ids"),
    # A filter named `type` is a field like any other (not a union's tag).
    ("/v1/ops/dead-letters/replay", {"type": "ids", "ids": "evt_1"}, "ids"),
    ("/v1/ops/events/evt_1/replay", {"reason": f"x{NUL}"}, "reason"),
    ("/v1/ops/events/evt_1/replay", {"force": [1]}, "force"),
    ("/v1/ops/backfill", {"since": "999999999d"}, "since"),
    ("/v1/ops/backfill", {"since": "9999-12-31T23:59:59-14:00"}, "since"),
    ("/v1/ops/backfill", {"since": "2h", "reason": f"x{NUL}"}, "reason"),
    ("/v1/ops/backfill", {"since": "2h", "types": [f"invoice.{NUL}"]}, "types.0"),
    ("/v1/ops/backfill", {"since": "2h", "max_pages": 10**30}, "max_pages"),
    ("/v1/ops/commands/cmd_1/retry", {"reason": f"x{NUL}"}, "reason"),
    ("/v1/ops/reconcile", {"since": "999999999d"}, "since"),
    ("/v1/ops/reconcile", {"objects": [f"invoices{NUL}"]}, "objects.0"),
    ("/v1/ops/reconcile", {"repair": True, "reason": f"x{NUL}"}, "reason"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_OPS_BODIES)
def test_a_bad_ops_body_field_is_422_naming_it(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    answer = client.post(path, json=body, headers=AUTH)
    assert_fields(assert_error(answer, 422, "invalid_request"), field)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/ops/dead-letters/replay", []),
        ("/v1/ops/dead-letters/replay", "all"),
        ("/v1/ops/backfill", None),
    ],
)
def test_an_ops_body_that_is_not_an_object_is_422(client: TestClient, path: str, body: Any) -> None:
    answer = client.post(path, content=orjson.dumps(body), headers=AUTH)
    assert_fields(assert_error(answer, 422), "body")


def test_an_ops_body_that_is_not_json_is_400(client: TestClient) -> None:
    answer = client.post("/v1/ops/dead-letters/replay", content=b"{all", headers=AUTH)
    assert_error(answer, 400, "invalid_json")


BAD_COMMANDS = [
    # (params of customer.ensure / update_billing_details, field)
    ("customer.ensure", {"name": f"a{NUL}b"}, "params.name"),
    ("customer.ensure", {"email": f"a{NUL}@example.com"}, "params.email"),
    (
        "customer.update_billing_details",
        {"address": {"line1": f"x{NUL}", "postal_code": "1012", "city": "A", "country": "NL"}},
        "params.address.line1",
    ),
    ("customer.update_billing_details", {"company_name": f"ACME{NUL}"}, "params.company_name"),
    ("customer.update_billing_details", {"vat_number": f"NL{NUL}"}, "params.vat_number"),
]


@pytest.mark.parametrize(("command_type", "params", "field"), BAD_COMMANDS)
def test_nul_in_a_command_param_is_422_naming_it(
    client: TestClient, command_type: str, params: dict[str, Any], field: str
) -> None:
    body = {"type": command_type, "account_ref": "org_1", "params": params}
    answer = client.post("/v1/commands", json=body, headers={**AUTH, "Idempotency-Key": "k1"})
    assert_fields(assert_error(answer, 422, "invalid_command"), field)


def test_an_unknown_command_type_names_type_without_echoing_it(client: TestClient) -> None:
    body = {"type": f"customer{NUL}.ensure", "account_ref": "org_1"}
    answer = client.post("/v1/commands", json=body, headers={**AUTH, "Idempotency-Key": "k2"})
    assert_fields(assert_error(answer, 422, "invalid_command"), "type")


def test_nul_in_the_idempotency_key_is_400(client: TestClient) -> None:
    body = {"type": "customer.ensure", "account_ref": "org_1"}
    answer = client.post("/v1/commands", json=body, headers={**AUTH, "Idempotency-Key": "k\x00"})
    assert_error(answer, 400, "idempotency_key_invalid")


# A quick property-based sweep over every query parameter of every GET route: whatever the
# value, the answer is a JSON 4xx or a 200, never a 500.
QUERIES = {
    "/v1/accounts/org_1": (),
    "/v1/accounts/org_1/subscriptions": ("status", "limit", "cursor"),
    "/v1/accounts/org_1/invoices": ("status", "limit", "cursor"),
    "/v1/accounts/org_1/payment-methods": ("status",),
    "/v1/notifications": ("after", "limit", "account_ref"),
    "/v1/commands/cmd_1": ("wait",),
    "/v1/plans": (),
    "/v1/ops/dead-letters": ("type", "since", "error", "limit", "before", "include_replayed"),
    "/v1/ops/events": ("status", "type", "since", "source", "limit", "cursor"),
    "/v1/ops/commands": ("status", "type", "since", "limit", "before"),
    "/v1/ops/stats": (),
}
NASTY = (
    *(NUL, HUGE_ID, "²", "-1", "2147483648", "9223372036854775808", "1e308", "nan", "inf"),
    *("999999999d", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "[]", ""),
    *(cursor("2026-01-01T00:00:00", "e"), cursor(None, None), cursor(2**63 - 1, "a")),
)
HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(NASTY),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
PATH_IDS = st.one_of(
    st.text(st.characters(exclude_characters="/\\"), min_size=1, max_size=30)
    .filter(lambda s: s.strip(". ") != "")
    .map(lambda s: quote(s, safe="")),
    st.sampled_from(["%00", "%C2%B2", HUGE_ID, "2147483648", "%FF", "%ED%A0%80"]),
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(sorted(QUERIES)),
    name=st.sampled_from(sorted({n for ns in QUERIES.values() for n in ns} | {"x"})),
    value=HOSTILE,
)
def test_no_query_value_makes_a_get_route_answer_500(
    client: TestClient, path: str, name: str, value: str
) -> None:
    answer = client.get(path, params={name: value}, headers=AUTH)
    assert answer.status_code < 500, (path, name, value, answer.text[:300])
    if answer.status_code >= 400:
        assert_error(answer, answer.status_code)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    template=st.sampled_from(
        [
            ("GET", "/v1/accounts/{}"),
            ("GET", "/v1/accounts/{}/invoices"),
            ("GET", "/v1/commands/{}"),
            ("GET", "/v1/ops/commands/{}"),
            ("POST", "/v1/ops/commands/{}/retry"),
            ("GET", "/v1/ops/events/{}"),
            ("POST", "/v1/ops/events/{}/replay"),
            ("GET", "/v1/ops/dead-letters/{}"),
            ("POST", "/v1/ops/dead-letters/{}/replay"),
        ]
    ),
    ref=PATH_IDS,
    body=st.one_of(
        st.none(),
        st.dictionaries(
            st.sampled_from(["reason", "dry_run", "force", "x"]),
            st.one_of(st.text(max_size=20), st.booleans(), st.integers(), st.none()),
            max_size=3,
        ),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_no_path_id_or_body_makes_a_detail_route_answer_500(
    client: TestClient, template: tuple[str, str], ref: str, body: Any
) -> None:
    method, path = template
    kwargs: dict[str, Any] = {"json": body} if method == "POST" else {}
    answer = client.request(method, path.format(ref), headers=AUTH, **kwargs)
    assert answer.status_code < 500, (method, path, ref, body, answer.text[:300])
    if answer.status_code >= 400:
        assert_error(answer, answer.status_code)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/accounts/jane.doe@example.com"),
        ("GET", "/v1/accounts/jane.doe@example.com/invoices"),
        ("GET", "/v1/commands/cmd_jane.doe@example.com"),
        ("GET", "/v1/ops/commands/cmd_jane.doe@example.com"),
        ("POST", "/v1/ops/commands/cmd_jane.doe@example.com/retry"),
        ("GET", "/v1/ops/events/jane.doe@example.com"),
        ("POST", "/v1/ops/events/jane.doe@example.com/replay"),
        ("GET", "/v1/ops/dead-letters/jane.doe@example.com"),
        ("POST", "/v1/ops/dead-letters/jane.doe@example.com/replay"),
    ],
)
def test_a_404_does_not_repeat_the_id_it_was_given(
    client: TestClient, method: str, path: str
) -> None:
    """An account ref is the product's own id and may well be an e-mail address."""
    body = assert_error(client.request(method, path, headers=AUTH), 404)
    assert "jane" not in body["message"]
