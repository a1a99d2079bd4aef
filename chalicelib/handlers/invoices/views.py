"""The pydantic models of the invoices API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from chalicelib.domain.invoices.models import (
    Invoice,
    InvoiceSettings,
    InvoiceStatus,
    Numbering,
    Product,
    Tax,
)
from chalicelib.domain.invoices.service import totals_of
from chalicelib.domain.shared.model import Model
from chalicelib.handlers.identity.views import RecordView


class TaxView(RecordView):
    name: str
    rate: str = Field(description='Percent as a decimal string ("19")')
    in_use: int = Field(description="Invoices using it; it cannot be deleted while this is above 0")

    @classmethod
    def of(cls, tax: Tax) -> "TaxView":
        return cls.model_validate(tax.model_dump(exclude={"tenant_id"}))


class TaxList(Model):
    items: list[TaxView]
    next_cursor: str | None = Field(default=None, description="Always null: the list is answered whole.")


class ProductView(RecordView):
    title: str
    sku: str | None
    description: str | None
    price: str
    currency: str
    tax_ids: list[str]
    track_stock: bool
    stock: str | None = Field(description="A decimal string; billing takes off, rejecting puts back")
    in_use: int

    @classmethod
    def of(cls, product: Product) -> "ProductView":
        data = product.model_dump(exclude={"tenant_id", "stock"})
        text = None if product.stock is None else format(product.stock.normalize(), "f")
        return cls.model_validate({**data, "stock": text})


class AddressView(Model):
    street: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""


class LineTaxView(Model):
    tax_id: str
    name: str
    rate: str


class LineView(Model):
    product_id: str | None
    title: str
    description: str
    quantity: str
    price: str
    discount: str = Field(description="Percent")
    tax_ids: list[str]
    taxes: list[LineTaxView] = Field(description="Name and rate as the line was written")
    amount: str = Field(description="price x quantity, rounded to the currency's minor unit")
    discount_amount: str
    net: str = Field(description="amount - discount_amount")


class TaxTotalView(Model):
    tax_id: str
    name: str
    rate: str
    base: str = Field(description="The sum of the nets of the lines carrying this tax")
    amount: str = Field(description="base x rate, rounded once (EN 16931 BR-CO-17)")


class TotalsView(Model):
    subtotal: str
    discount: str
    net: str
    taxes: list[TaxTotalView]
    tax_total: str
    total: str


class InvoiceView(RecordView):
    number: str
    status: InvoiceStatus
    overdue: bool = Field(description="Billed and past its due date (computed)")
    issue_date: date
    due_date: date
    client_id: str
    client_name: str
    consignee_id: str | None
    consignee_name: str | None
    billing_address: AddressView | None
    delivery_address: AddressView | None
    deal_id: str | None
    language: str
    currency: str
    exchange_rate: str | None
    exchange_currency: str | None
    po_number: str
    terms: str
    notes: str
    lines: list[LineView]
    totals: TotalsView
    billed_at: datetime | None
    sent_at: datetime | None
    sent_to: str | None

    @classmethod
    def of(cls, invoice: Invoice, today: date) -> "InvoiceView":
        totals = totals_of(invoice)
        lines = [
            LineView(
                **line.model_dump(),
                tax_ids=line.tax_ids,
                amount=str(figures.amount),
                discount_amount=str(figures.discount_amount),
                net=str(figures.net),
            )
            for line, figures in zip(invoice.lines, totals.lines, strict=True)
        ]
        return cls(
            **invoice.model_dump(exclude={"tenant_id", "lines", "seller", "stock_taken"}),
            overdue=invoice.overdue(today),
            lines=lines,
            totals=TotalsView(
                subtotal=str(totals.subtotal),
                discount=str(totals.discount),
                net=str(totals.net),
                taxes=[
                    TaxTotalView(tax_id=t.tax_id, name=t.name, rate=str(t.rate), base=str(t.base), amount=str(t.amount))
                    for t in totals.taxes
                ],
                tax_total=str(totals.tax_total),
                total=str(totals.total),
            ),
        )


class Rendering(Model):
    status: str = "rendering"
    retry_after: int


class LogoView(Model):
    content_type: str
    width: int
    height: int
    size: int
    updated_at: datetime


class InvoiceSettingsView(Model):
    version: int
    company_name: str
    address: AddressView | None
    vat_id: str | None
    iban: str | None
    bic: str | None
    email: str | None
    phone: str | None
    default_terms: str
    numbering: Numbering
    logo: LogoView | None
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def of(cls, settings: InvoiceSettings, next_number: int) -> "InvoiceSettingsView":
        return cls(
            **settings.model_dump(
                include={
                    "version",
                    "company_name",
                    "address",
                    "vat_id",
                    "iban",
                    "bic",
                    "email",
                    "phone",
                    "default_terms",
                    "logo",
                    "updated_by",
                }
            ),
            updated_at=settings.updated_at if settings.version else None,
            numbering=Numbering(automatic=settings.automatic, prefix=settings.prefix, next_number=next_number),
        )
