"""API_TOKENS: each entry has its own name and its own token, or start-up stops naming it."""

from __future__ import annotations

import pytest

from domain.settings import SettingsError, load_settings

A = "alpha-token-0123456789"
B = "bravo-token-0123456789"


def _refused(tokens: str) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings(api_tokens=tokens)
    return str(info.value)


def test_distinct_names_and_tokens_are_accepted() -> None:
    settings = load_settings(api_tokens=f"product:{A}:commands+read,oncall:{B}:ops")
    assert [(t.name, sorted(t.scopes)) for t in settings.tokens] == [
        ("product", ["commands", "read"]),
        ("oncall", ["ops"]),
    ]


def test_a_duplicate_name_is_refused_naming_both_entries() -> None:
    message = _refused(f"product:{A}:read,oncall:{B}:ops,product:other-token-0123456789:ops")
    assert "API_TOKENS" in message and "entry 3 ('product')" in message
    assert "entry 1" in message and "name" in message
    for token in (A, B, "other-token-0123456789"):
        assert token not in message


def test_a_duplicate_token_is_refused_without_echoing_it() -> None:
    # The last entry's scopes would silently win for that token: refuse instead.
    message = _refused(f"product:{A}:read,oncall:{B}:ops,admin:{A}:ops")
    assert "API_TOKENS" in message and "entry 3 ('admin')" in message
    assert "entry 1 ('product')" in message and "token" in message
    assert A not in message and B not in message


def test_a_malformed_entry_is_named_by_its_position_only() -> None:
    message = _refused(f"product:{A}:read,{B}")
    assert "entry 2:" in message and B not in message
    # Name and token swapped: the "name" is the secret, so it is not shown either.
    message = _refused(f"product:{A}:read,{B}:oncall:ops")
    assert "entry 2:" in message and B not in message and "oncall" not in message
