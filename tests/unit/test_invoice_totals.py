"""Invoice line math (INV-8, SPEC "Invoice line math") against figures worked
out by hand: line amount and discount rounded half-up to the currency's ISO
4217 minor unit, tax once per tax on the summed nets (EN 16931 BR-CO-17)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chalicelib.domain.invoices.totals import LineInput, TaxRate, compute_totals, line_figures
from chalicelib.domain.settings.currency import minor_units

VAT19 = TaxRate("vat19", "USt 19 %", D("19"))
VAT7 = TaxRate("vat7", "USt 7 %", D("7"))
PST = TaxRate("pst", "PST 7 %", D("7"))
GST = TaxRate("gst", "GST 5 %", D("5"))


def test_the_api_example_eur() -> None:
    # 3 x 19.99 = 59.97; 10 % = 5.997 -> 6.00; net 53.97; 19 % = 10.2543 -> 10.25; total 64.22
    totals = compute_totals([LineInput(D("3"), D("19.99"), D("10"), [VAT19])], 2)
    assert (totals.subtotal, totals.discount, totals.net) == (D("59.97"), D("6.00"), D("53.97"))
    assert [(t.tax_id, t.base, t.amount) for t in totals.taxes] == [("vat19", D("53.97"), D("10.25"))]
    assert (totals.tax_total, totals.total) == (D("10.25"), D("64.22"))
    assert str(totals.total) == "64.22"


def test_zero_minor_units_jpy() -> None:
    assert minor_units("JPY") == 0
    # 3 x 333.5 = 1000.5 -> 1001 (half-up); 10 % = 100.1 -> 100; net 901; 10 % tax = 90.1 -> 90; total 991
    tax10 = TaxRate("t10", "消費税 10%", D("10"))
    totals = compute_totals([LineInput(D("3"), D("333.5"), D("10"), [tax10])], minor_units("JPY"))
    assert totals.lines[0].amount == D("1001") and totals.lines[0].discount_amount == D("100")
    assert (totals.net, totals.taxes[0].amount, totals.total) == (D("901"), D("90"), D("991"))
    assert str(totals.total) == "991"


def test_three_minor_units_bhd() -> None:
    assert minor_units("BHD") == 3
    # 2 x 1.2345 = 2.469; 5 % = 0.12345 -> 0.123; net 2.346; 10 % = 0.2346 -> 0.235; total 2.581
    tax10 = TaxRate("vat", "VAT 10 %", D("10"))
    totals = compute_totals([LineInput(D("2"), D("1.2345"), D("5"), [tax10])], minor_units("BHD"))
    assert totals.lines[0].discount_amount == D("0.123")
    assert (totals.net, totals.taxes[0].amount, totals.total) == (D("2.346"), D("0.235"), D("2.581"))
    assert str(totals.total) == "2.581"


def test_iso_minor_units_not_cldr_digits() -> None:
    # CLDR (Babel) gives AFN and ALL 0 digits; ISO 4217 gives them 2.
    assert minor_units("AFN") == 2 and minor_units("ALL") == 2
    assert compute_totals([LineInput(D("1"), D("10.555"))], minor_units("ALL")).total == D("10.56")


def test_two_taxes_on_one_line_and_two_rates_across_lines() -> None:
    lines = [
        LineInput(D("1"), D("100.00"), D("0"), [GST, PST]),  # 5 % + 7 % on 100.00
        LineInput(D("2"), D("10.00"), D("0"), [GST]),  # 5 % on 20.00
        LineInput(D("1"), D("33.33"), D("0"), [VAT7]),
    ]
    totals = compute_totals(lines, 2)
    by_tax = {t.tax_id: (t.base, t.amount) for t in totals.taxes}
    assert by_tax == {
        "gst": (D("120.00"), D("6.00")),
        "pst": (D("100.00"), D("7.00")),
        "vat7": (D("33.33"), D("2.33")),  # 2.3331 -> 2.33
    }
    assert [t.tax_id for t in totals.taxes] == ["gst", "pst", "vat7"]  # order of first appearance
    assert totals.net == D("153.33") and totals.tax_total == D("15.33") and totals.total == D("168.66")


def test_discounts_round_per_line_half_up() -> None:
    # 1 x 0.25 with 50 %: 0.125 -> 0.13 (half-up, not banker's 0.12); net 0.12
    figures = line_figures(LineInput(D("1"), D("0.25"), D("50")), 2)
    assert (figures.amount, figures.discount_amount, figures.net) == (D("0.25"), D("0.13"), D("0.12"))
    # 100 % off and quantity 0 are allowed and give nothing
    assert line_figures(LineInput(D("7"), D("3.10"), D("100")), 2).net == D("0.00")
    assert line_figures(LineInput(D("0"), D("3.10"), D("0")), 2).net == D("0.00")
    # a unit price with more decimals than the currency: 3 x 0.3333 = 0.9999 -> 1.00
    assert line_figures(LineInput(D("3"), D("0.3333")), 2).amount == D("1.00")


def test_many_small_lines_tax_once_on_the_sum() -> None:
    # 100 lines of 0.99 at 19 %: per line 0.1881 would round to 0.19 each (19.00 in all);
    # once on the sum: 99.00 x 19 % = 18.81.
    totals = compute_totals([LineInput(D("1"), D("0.99"), D("0"), [VAT19]) for _ in range(100)], 2)
    assert totals.net == D("99.00")
    assert totals.taxes[0].amount == D("18.81")
    assert totals.total == D("117.81")
    per_line = sum((D("0.99") * D("0.19")).quantize(D("0.01"), rounding="ROUND_HALF_UP") for _ in range(100))
    assert per_line == D("19.00")  # the reference's drift, for the record


def test_no_lines_taxes_or_float_anywhere() -> None:
    totals = compute_totals([LineInput(D("1.5"), D("2.00"))], 2)
    assert totals.taxes == [] and totals.total == D("3.00")
    assert all(isinstance(v, D) for v in (totals.subtotal, totals.discount, totals.net, totals.total))


@pytest.mark.parametrize(
    ("quantity", "price", "discount", "amount", "discount_amount"),
    [
        ("1", "0.005", "0", "0.01", "0.00"),  # half-up at the minor unit
        ("1", "0.004999", "0", "0.00", "0.00"),
        ("2.5", "1.99", "33.333", "4.98", "1.66"),  # 4.975 -> 4.98; 4.98 x 33.333 % = 1.65998 -> 1.66
        ("1000000", "0.000001", "0", "1.00", "0.00"),
    ],
)
def test_rounding_points(quantity: str, price: str, discount: str, amount: str, discount_amount: str) -> None:
    figures = line_figures(LineInput(D(quantity), D(price), D(discount)), 2)
    assert (str(figures.amount), str(figures.discount_amount)) == (amount, discount_amount)
