"""Pure pieces: retry policy, envelope parsing, settings validation."""

from __future__ import annotations

import itertools
import random

import pytest

from domain.envelope import EnvelopeError, parse_envelope
from domain.retry import RetryPolicy
from domain.settings import SettingsError, load_settings, require_webhook_secrets


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_seconds=5, cap_seconds=3600, max_attempts=8)
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(1, 12)]
    for n, d in enumerate(delays, start=1):
        step = min(3600, 5 * 2 ** (n - 1))
        assert step / 2 <= d <= step
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert max(delays) <= 3600
    # jitter: the same attempt does not always get the same delay
    assert len({round(policy.delay(3, rng), 6) for _ in range(20)}) > 1


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=10, max_attempts=3)
    assert not policy.exhausted(2)
    assert policy.exhausted(3)


def test_envelope_extracts_the_object() -> None:
    env = parse_envelope(
        b'{"id":"evt_1","type":"invoice.paid","created":17,"api_version":"2024-06-20",'
        b'"account":"acct_9","data":{"object":{"id":"in_1","object":"invoice"}}}'
    )
    assert (env.event_id, env.type, env.created, env.api_version) == (
        "evt_1",
        "invoice.paid",
        17,
        "2024-06-20",
    )
    assert (env.account, env.object_type, env.object_id) == ("acct_9", "invoice", "in_1")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "invalid_json"),
        (b"[1,2]", "invalid_event"),
        (b'{"type":"invoice.paid"}', "invalid_event"),
        (b'{"id":"evt_1"}', "invalid_event"),
        (b'{"id":"","type":"x"}', "invalid_event"),
        (b'{"id":5,"type":"x"}', "invalid_event"),
    ],
)
def test_envelope_errors_are_specific(body: bytes, code: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        parse_envelope(body)
    assert info.value.code == code


def test_settings_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "not-a-secret")
    monkeypatch.setenv("RETRY_MAX_ATTEMPTS", "zero")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "STRIPE_WEBHOOK_SECRETS" in message
    assert "RETRY_MAX_ATTEMPTS" in message
    assert "not-a-secret" not in message  # a bad secret is not echoed back
    assert "STRIPE_WEBHOOK_SECRETS: every secret must start with 'whsec_'" in message
    assert "Value error" not in message  # pydantic's wording is not ours


def test_settings_parse_lists_and_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_a, whsec_b")
    monkeypatch.setenv("API_TOKENS", "product:abcdefghijklmnop1234:commands+read")
    s = load_settings()
    assert s.webhook_secrets == [b"whsec_a", b"whsec_b"]
    assert s.tokens[0].name == "product"
    assert s.tokens[0].scopes == {"commands", "read"}
    assert "abcdefghijklmnop1234" not in repr(s)


def test_bad_token_scope_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKENS", "ops:abcdefghijklmnop1234:admin")
    with pytest.raises(SettingsError, match="API_TOKENS"):
        load_settings()


def test_embedded_defaults_and_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "BROKER_URL", "STRIPE_WEBHOOK_SECRETS"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings(data_dir="somewhere")
    assert s.effective_database_url == "sqlite:///somewhere/billing.db"
    assert s.effective_broker_url == "sqla+sqlite:///somewhere/broker.db"
    with pytest.raises(SettingsError, match="STRIPE_WEBHOOK_SECRETS"):
        require_webhook_secrets(s)
