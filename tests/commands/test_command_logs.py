"""Invariant 8 for commands: no e-mail address or Stripe body reaches a log line."""

from __future__ import annotations

import logging

import pytest

from tests.commands.conftest import Commands

EMAIL = "jane.private@example.com"


class _Grab(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()}")


def test_no_email_in_logs_even_at_debug(
    commands: Commands, capfd: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    grab, level = _Grab(), root.level
    root.addHandler(grab)
    root.setLevel(logging.DEBUG)
    try:
        view = commands.run("customer.ensure", email=EMAIL, name="Jane")
        update = commands.run("customer.update_billing_details", email=f"x{EMAIL}")
    finally:
        root.removeHandler(grab)
        root.setLevel(level)
    assert view["status"] == "succeeded" and update["status"] == "succeeded"
    assert any(line.startswith("httpx ") for line in grab.lines)  # DEBUG really was on
    out, err = capfd.readouterr()
    for text in (*grab.lines, out, err):
        assert EMAIL not in text
