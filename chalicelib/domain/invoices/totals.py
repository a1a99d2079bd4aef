"""Invoice line math (INV-8, SPEC "Invoice line math"): exact decimals,
rounded where SPEC says and nowhere else.

- a line's amount = price x quantity and its discount = amount x discount %
  are each rounded half-up to the currency's ISO 4217 minor unit
  (``currency.minor_units``: JPY 0, EUR 2, BHD 3); its net = amount - discount;
- the tax of each tax is computed ONCE on the sum of the nets of the lines
  that carry it, rounded half-up (EN 16931 BR-CO-17: the VAT breakdown is
  base x rate, which e-invoice validators check); never per line, which
  drifts by cents over many small lines (what the reference does);
- total = sum of nets + sum of taxes.

Pure functions over ``Decimal``; no float anywhere, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class TaxRate:
    """A tax as a line carries it (a snapshot of the catalogue's tax)."""

    tax_id: str
    name: str
    rate: Decimal  # percent: Decimal("19"), Decimal("8.1")


@dataclass(frozen=True)
class LineInput:
    quantity: Decimal
    price: Decimal
    discount: Decimal = Decimal(0)  # percent, 0..100
    taxes: Sequence[TaxRate] = ()


@dataclass(frozen=True)
class LineFigures:
    amount: Decimal  # price x quantity, rounded
    discount_amount: Decimal  # amount x discount %, rounded
    net: Decimal  # amount - discount_amount


@dataclass(frozen=True)
class TaxFigures:
    tax_id: str
    name: str
    rate: Decimal
    base: Decimal  # the sum of the nets of the lines that carry this tax
    amount: Decimal  # base x rate, rounded once


@dataclass(frozen=True)
class Totals:
    lines: list[LineFigures]
    subtotal: Decimal  # sum of line amounts
    discount: Decimal  # sum of line discounts
    net: Decimal  # sum of line nets
    taxes: list[TaxFigures] = field(default_factory=list)
    tax_total: Decimal = Decimal(0)
    total: Decimal = Decimal(0)


def quantum(minor_units: int) -> Decimal:
    return Decimal(1).scaleb(-minor_units)


def round_half_up(amount: Decimal, minor_units: int) -> Decimal:
    return amount.quantize(quantum(minor_units), rounding=ROUND_HALF_UP)


def line_figures(line: LineInput, minor_units: int) -> LineFigures:
    # 34 digits: products of a 15-digit price and a 12-digit quantity are exact.
    with localcontext() as context:
        context.prec = 34
        amount = round_half_up(line.price * line.quantity, minor_units)
        discount = round_half_up(amount * line.discount / HUNDRED, minor_units)
        return LineFigures(amount=amount, discount_amount=discount, net=amount - discount)


def compute_totals(lines: Sequence[LineInput], minor_units: int) -> Totals:
    """Every figure of an invoice, in the currency with ``minor_units`` digits.
    Taxes come in the order they first appear on the lines."""
    with localcontext() as context:
        context.prec = 34
        zero = quantum(minor_units) * 0
        figures = [line_figures(line, minor_units) for line in lines]
        bases: dict[str, Decimal] = {}
        known: dict[str, TaxRate] = {}
        for line, figure in zip(lines, figures, strict=True):
            for tax in line.taxes:
                known.setdefault(tax.tax_id, tax)
                bases[tax.tax_id] = bases.get(tax.tax_id, zero) + figure.net
        taxes = [
            TaxFigures(
                tax_id=tax_id,
                name=known[tax_id].name,
                rate=known[tax_id].rate,
                base=base,
                amount=round_half_up(base * known[tax_id].rate / HUNDRED, minor_units),
            )
            for tax_id, base in bases.items()
        ]
        subtotal = sum((f.amount for f in figures), zero)
        discount = sum((f.discount_amount for f in figures), zero)
        net = sum((f.net for f in figures), zero)
        tax_total = sum((t.amount for t in taxes), zero)
        return Totals(
            lines=figures,
            subtotal=subtotal,
            discount=discount,
            net=net,
            taxes=taxes,
            tax_total=tax_total,
            total=net + tax_total,
        )
