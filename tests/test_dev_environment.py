"""`billing dev`'s environment: its generated token can use every route a newcomer tries."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.settings import SCOPES, load_settings
from workers.dev import embedded_environment


def test_the_dev_token_has_every_scope(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_TOKENS", raising=False)
    env, generated = embedded_environment(tmp_path)
    settings = load_settings(api_tokens=env["API_TOKENS"])
    [token] = settings.tokens
    assert token.token.get_secret_value() == generated["api_token"]
    assert token.scopes == SCOPES  # every scope there is, `usage` included
