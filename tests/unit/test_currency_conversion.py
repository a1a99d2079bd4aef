"""Conversion with exact decimals (REP-3) and money rounding: no AWS, no HTTP.
The API of currencies and exchange rates is tests/api/test_currency.py."""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.domain.settings.currency import (
    ExchangeRate,
    MissingRates,
    convert,
    convert_all,
    rate_for,
    rate_table,
    round_money,
)

REPO = Path(__file__).resolve().parents[2]


def rates(*triples):
    return [ExchangeRate.model_validate({"from": a, "to": b, "rate": r}) for a, b, r in triples]


def test_convert_uses_the_direct_rate():
    table = rates(("USD", "EUR", "0.92"), ("EUR", "USD", "1.1"))
    assert convert(Decimal("100.00"), "USD", "EUR", table) == Decimal("92.0000")
    assert convert(Decimal("100"), "EUR", "USD", table) == Decimal("110.0"), "the direct rate wins over 1/0.92"


def test_convert_uses_the_inverse_of_the_reverse_rate():
    table = rates(("EUR", "JPY", "160"))
    result = convert(Decimal("8000"), "JPY", "EUR", table)
    assert isinstance(result, Decimal) and result == Decimal("50")
    assert round_money(convert(Decimal("100"), "JPY", "EUR", table), "EUR") == Decimal("0.63")
    assert rate_for("JPY", "EUR", table) == Decimal(1) / Decimal(160)


def test_the_same_currency_needs_no_rate():
    assert convert(Decimal("12.34"), "EUR", "EUR", []) == Decimal("12.34")


def test_a_missing_rate_names_the_pair():
    with pytest.raises(MissingRates) as missing:
        convert(Decimal(1), "GBP", "EUR", rates(("USD", "EUR", "0.92")))
    assert missing.value.pairs == [("GBP", "EUR")]
    assert "GBP -> EUR" in missing.value.detail


def test_converting_a_set_names_every_missing_pair():
    table = rates(("USD", "EUR", "0.92"))
    amounts = [
        (Decimal("10"), "USD"),
        (Decimal("5"), "GBP"),
        (Decimal("7"), "CHF"),
        (Decimal("1"), "GBP"),
        (Decimal("3"), "EUR"),
    ]
    with pytest.raises(MissingRates) as missing:
        convert_all(amounts, "EUR", table)
    assert missing.value.pairs == [("CHF", "EUR"), ("GBP", "EUR")]
    assert {e.field for e in missing.value.errors} == {"rates"} and len(missing.value.errors) == 2
    table += rates(("GBP", "EUR", "1.17"), ("EUR", "CHF", "0.5"))
    assert convert_all(amounts, "EUR", table) == [
        Decimal("9.20"),
        Decimal("5.85"),
        Decimal("14"),
        Decimal("1.17"),
        Decimal("3"),
    ]


def test_money_is_never_float():
    with pytest.raises(TypeError):
        rate_table({("USD", "EUR"): 0.92})
    assert rate_table({("USD", "EUR"): "0.92"}) == {("USD", "EUR"): Decimal("0.92")}
    assert round_money(Decimal("2.675"), "EUR") == Decimal("2.68"), "half-up, not banker's or binary rounding"
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")
    assert round_money(Decimal("1.2345"), "KWD") == Decimal("1.235")


def test_babel_stays_off_the_import_path():
    env = {**os.environ, "CRM_STAGE": "test", "AWS_DEFAULT_REGION": "eu-central-1"}
    result = subprocess.run(
        [sys.executable, "-c", "import app, sys; print('babel' in sys.modules)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"
