"""The EU VAT number check of billing details: pure, no database."""

from __future__ import annotations

import pytest

from domain.commands.vat import normalise_vat, vat_problem


@pytest.mark.parametrize("value", ["NL 8123.45.678.B01", "de-123456789", "ATU12345678"])
def test_well_formed_numbers_pass(value: str) -> None:
    assert vat_problem(normalise_vat(value)) is None


@pytest.mark.parametrize(
    "value",
    [
        "NL\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669B01",  # Arabic-Indic digits
        "DE\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",  # full-width digits
        "NL123456789B0",
        "US123456789",  # not an EU prefix
    ],
)
def test_malformed_numbers_are_refused(value: str) -> None:
    assert vat_problem(normalise_vat(value)) is not None


def test_the_problem_does_not_repeat_the_input() -> None:
    problem = vat_problem(normalise_vat("QQ12345"))
    assert problem is not None and "QQ" not in problem
