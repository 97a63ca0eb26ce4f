"""Schemathesis against the live app, for every token scope (and no token): whatever it
generates from the OpenAPI document (valid and invalid input), no answer is a 500 and every
answer matches the document (a declared status code, the declared schema).

The document is the one `GET /openapi.json` serves (built without a server at import, since
schemathesis' fixture-based lazy schemas do not work with pytest 9; a test checks that the
live server serves the same document). Requests go over HTTP to a real uvicorn process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from ingest.openapi import build_document
from tests.fuzz.conftest import TOKENS

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

DOCUMENT = build_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Per operation and scope: bounded for CI (a few seconds per scope); raise it for a deeper run.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))


def test_the_fuzzed_document_is_the_one_served(fuzz_server: tuple[str, Path]) -> None:
    url, _ = fuzz_server
    assert httpx.get(f"{url}/openapi.json").json() == DOCUMENT


def _fuzz_with(scope: str | None) -> Callable[..., None]:
    """Every operation, sending one scope's token (each token has only that scope) or none."""
    headers = {"Authorization": f"Bearer {TOKENS[scope]}"} if scope else {}

    @pytest.mark.timeout(600)
    @schema.parametrize()
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def test(case: schemathesis.Case, fuzz_server: tuple[str, Path]) -> None:
        url, _ = fuzz_server
        response = case.call(base_url=url, headers=headers, timeout=10)
        case.validate_response(response, checks=CHECKS, headers=headers)

    return test


test_without_a_token = _fuzz_with(None)
test_with_the_commands_scope = _fuzz_with("commands")
test_with_the_read_scope = _fuzz_with("read")
test_with_the_ops_scope = _fuzz_with("ops")
