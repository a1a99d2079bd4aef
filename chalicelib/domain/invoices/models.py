"""Invoices and what they are made of (INV-1..11, SET-5, SET-6, SET-11).

Decimal figures travel as strings in JSON ("19.99") and are ``Decimal`` in
the domain; never float. Request models forbid unknown fields.

Decisions:
- Taxes (SET-6) are ``{name, rate}`` with ``rate`` a percent string ("19",
  "8.1"); products (SET-5) carry a price in a currency, default taxes and an
  optional stock. A line keeps a snapshot of its taxes (name and rate as they
  were when the line was written): renaming a tax does not change an issued
  invoice; a draft takes the current ones again when its lines change.
- A tax or product counts the invoices that use it (``in_use``, moved in each
  invoice's transaction); one in use cannot be deleted (409 naming how many).
- The status machine (SPEC): draft -> billed, billed -> paid, billed ->
  rejected, rejected -> draft, paid -> billed. Only drafts are editable.
  ``overdue`` is computed: billed and past its due date (in the tenant's
  time zone), never stored.
- When an invoice leaves the draft state the company profile is copied onto
  it (``seller``): what was sent stays what it shows, whatever the profile
  becomes. A draft shows the current profile.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.contacts.details import Address
from chalicelib.domain.settings.currency import CurrencyCode
from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.shared.records import NotNull, Record, omittable

MAX_LINES = 200
MAX_TAXES_PER_LINE = 2
# Each distinct product and tax of an invoice is a counter update in its
# transaction (and, at billing, a stock update): the transaction holds 100.
MAX_PRODUCTS_PER_INVOICE = 40
MAX_TAXES_PER_INVOICE = 10
LANGUAGES = ("en", "de")

Id = Annotated[str, Field(min_length=1, max_length=40)]
Text200 = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=5000)]


def _one_line(value: str) -> str:
    return " ".join(value.split())


def decimal_text(
    *, max_integer: int, max_decimals: int, maximum: Decimal | None = None, what: str = "a number"
) -> AfterValidator:
    """A validator for a non-negative decimal string ("19.99"), checked
    digit by digit so no float ever enters."""
    pattern = re.compile(rf"^\d{{1,{max_integer}}}(\.\d{{1,{max_decimals}}})?$")

    def check(value: Any) -> str:
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(f'must be {what} as a decimal string, e.g. "19.99"')
        text = value.strip()
        if not pattern.match(text):
            raise ValueError(
                f'must be {what} as a non-negative decimal string with at most {max_decimals} decimals (e.g. "19.99")'
            )
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"must be {what}") from None
        if maximum is not None and number > maximum:
            raise ValueError(f"must be at most {maximum}")
        return text

    return AfterValidator(check)


PercentText = Annotated[str, decimal_text(max_integer=3, max_decimals=3, maximum=Decimal(100), what="a percentage")]
PriceText = Annotated[str, decimal_text(max_integer=12, max_decimals=6, what="a price")]
QuantityText = Annotated[str, decimal_text(max_integer=9, max_decimals=4, what="a quantity")]
StockText = Annotated[str, decimal_text(max_integer=12, max_decimals=4, what="a stock level")]


# ---- taxes (SET-6) ----


class NewTax(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_one_line)]
    rate: PercentText = Field(description='Percent as a decimal string: "19", "8.1"', examples=["19"])


class TaxChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, NotNull, Field(min_length=1, max_length=100), AfterValidator(_one_line)] = omittable()
    rate: Annotated[PercentText, NotNull] = omittable(description="Percent as a decimal string")


class Tax(Record):
    tenant_id: str
    name: str
    rate: str
    in_use: int = 0


# ---- products and services (SET-5) ----


class _ProductFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, Field(max_length=64)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    tax_ids: Annotated[list[Id], NotNull, Field(max_length=MAX_TAXES_PER_LINE)] = omittable(
        description="Default taxes of its lines (at most two)"
    )
    track_stock: Annotated[bool, NotNull] = omittable(description="Billing takes stock off, rejecting puts it back")
    stock: StockText | None = Field(default=None, description="Units in stock (a decimal string) when tracked")


class NewProduct(_ProductFields):
    title: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_line)]
    price: PriceText = Field(description="Unit price, a decimal string", examples=["19.99"])
    currency: CurrencyCode | None = Field(default=None, description="Default: the tenant's currency")


class ProductChanges(_ProductFields):
    title: Annotated[str, NotNull, Field(min_length=1, max_length=200), AfterValidator(_one_line)] = omittable()
    price: Annotated[PriceText, NotNull] = omittable()
    currency: Annotated[CurrencyCode, NotNull] = omittable()


class Product(Record):
    tenant_id: str
    title: str
    sku: str | None = None
    description: str | None = None
    price: str
    currency: str
    tax_ids: list[str] = Field(default_factory=list)
    track_stock: bool = False
    stock: Decimal | None = None
    in_use: int = 0


class ProductQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="Title or SKU containing this text (case-insensitive)"
    )


# ---- company profile and numbering (SET-11, INV-1) ----

PREFIX = re.compile(r"^[A-Za-z0-9/_-]{0,12}$")
DEFAULT_PREFIX = "INV"
NUMBER_DIGITS = 7


class Numbering(BaseModel):
    model_config = ConfigDict(extra="forbid")

    automatic: bool = True
    prefix: str = Field(default=DEFAULT_PREFIX, max_length=12, description="Letters, digits, / _ -")
    next_number: int = Field(default=1, ge=1, le=10**12, description="The number the next invoice gets")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not PREFIX.match(value):
            raise ValueError("letters, digits, '/', '_' and '-' only, at most 12")
        return value


def format_number(prefix: str, number: int) -> str:
    """INV-1: prefix plus the number in (at least) seven digits: INV0000001."""
    return f"{prefix}{number:0{NUMBER_DIGITS}d}"


InvoiceNumber = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9/_.\-]+$")]


class InvoiceSettingsUpdate(BaseModel):
    """PUT /v1/settings/invoices: the whole profile (the logo has its own endpoint)."""

    model_config = ConfigDict(extra="forbid")

    company_name: Annotated[str, Field(max_length=200), AfterValidator(_one_line)] = ""
    address: Address | None = None
    vat_id: Annotated[str, Field(max_length=30)] | None = Field(
        default=None, description="EU VAT ID (checked with python-stdnum), e.g. DE136695976"
    )
    iban: Annotated[str, Field(max_length=42)] | None = Field(default=None, description="Checked with schwifty")
    bic: Annotated[str, Field(max_length=11)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=50)] | None = None
    default_terms: LongText = ""
    numbering: Numbering = Field(default_factory=Numbering)


class InvoiceSettings(Record):
    """The tenant's company profile (one versioned item); ``next_number``
    lives in its own counter item and is added on reading."""

    company_name: str = ""
    address: dict[str, str] | None = None
    vat_id: str | None = None
    iban: str | None = None
    bic: str | None = None
    email: str | None = None
    phone: str | None = None
    default_terms: str = ""
    automatic: bool = True
    prefix: str = DEFAULT_PREFIX
    logo: dict[str, Any] | None = None

    def seller(self) -> dict[str, Any]:
        """What an invoice that leaves the draft state keeps of the profile."""
        return {
            "company_name": self.company_name,
            "address": self.address,
            "vat_id": self.vat_id,
            "iban": self.iban,
            "bic": self.bic,
            "email": self.email,
            "phone": self.phone,
            "logo_updated_at": (self.logo or {}).get("updated_at"),
        }


# ---- invoices (INV-2..11) ----


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    BILLED = "billed"
    PAID = "paid"
    REJECTED = "rejected"


TRANSITIONS: dict[InvoiceStatus, tuple[InvoiceStatus, ...]] = {
    InvoiceStatus.DRAFT: (InvoiceStatus.BILLED,),
    InvoiceStatus.BILLED: (InvoiceStatus.PAID, InvoiceStatus.REJECTED),
    InvoiceStatus.PAID: (InvoiceStatus.BILLED,),
    InvoiceStatus.REJECTED: (InvoiceStatus.DRAFT,),
}


class StatusMoveRefused(Conflict):
    def __init__(self, current: InvoiceStatus, wanted: InvoiceStatus):
        allowed = TRANSITIONS[current]
        names = ", ".join(s.value for s in allowed)
        super().__init__(
            f"An invoice cannot go from {current.value} to {wanted.value}; from {current.value} it may go to: {names}."
        )
        self.allowed = allowed


def check_move(current: InvoiceStatus, wanted: InvoiceStatus) -> None:
    """INV-10: raise a 409 naming the allowed moves unless current -> wanted is one."""
    if wanted not in TRANSITIONS[current]:
        raise StatusMoveRefused(current, wanted)


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Id | None = Field(default=None, description="A catalogue item; its title, price and taxes by default")
    title: Annotated[str, Field(max_length=200), AfterValidator(_one_line)] | None = Field(
        default=None, description="Required without product_id"
    )
    description: Annotated[str, Field(max_length=2000)] | None = None
    quantity: QuantityText = "1"
    price: PriceText | None = Field(default=None, description="Unit price; default: the product's")
    discount: PercentText = "0"
    tax_ids: list[Id] | None = Field(
        default=None, max_length=MAX_TAXES_PER_LINE, description="At most two; default: the product's"
    )


class _InvoiceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: InvoiceNumber | None = Field(
        default=None, description="Only when numbering is not automatic (or by admins); else generated"
    )
    issue_date: date | None = Field(default=None, description="Default: today in the tenant's time zone")
    due_date: date | None = Field(default=None, description="Default: the issue date (due on receipt)")
    consignee_id: Id | None = Field(default=None, description="A contact; null: the client")
    billing_address: Address | None = Field(default=None, description="Default: the client's billing address")
    delivery_address: Address | None = Field(default=None, description="Default: the consignee's delivery address")
    deal_id: Id | None = Field(default=None, description="The client must be the deal's contact or a member")
    language: Annotated[str, NotNull] = omittable(description="Of the document: en or de (default en)")
    currency: Annotated[CurrencyCode, NotNull] = omittable(description="Default: the client's, else the tenant's")
    exchange_rate: Annotated[str, decimal_text(max_integer=12, max_decimals=10, what="a rate")] | None = Field(
        default=None, description="Units of the default currency per unit of the invoice's; needed when they differ"
    )
    po_number: Annotated[str, Field(max_length=100)] | None = None
    terms: LongText | None = Field(default=None, description="Default: the tenant's default terms")
    notes: LongText | None = Field(default=None, description="Shown on the invoice and in the mail")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and value not in LANGUAGES:
            raise ValueError("must be one of " + ", ".join(LANGUAGES))
        return value


class NewInvoice(_InvoiceFields):
    client_id: Id
    lines: list[LineRequest] = Field(min_length=1, max_length=MAX_LINES)


class InvoiceChanges(_InvoiceFields):
    """PATCH (drafts only): the fields sent; ``lines`` replaces all lines."""

    client_id: Annotated[Id, NotNull] = omittable()
    lines: Annotated[list[LineRequest], NotNull, Field(min_length=1, max_length=MAX_LINES)] = omittable()


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: InvoiceStatus


class DuplicateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: InvoiceNumber | None = Field(default=None, description="Only when numbering is not automatic")


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="Default: 'Invoice <number>' in the invoice's language"
    )


class LineTax(BaseModel):
    tax_id: str
    name: str
    rate: str


class InvoiceLine(BaseModel):
    product_id: str | None = None
    title: str
    description: str = ""
    quantity: str
    price: str
    discount: str = "0"
    taxes: list[LineTax] = Field(default_factory=list)

    @property
    def tax_ids(self) -> list[str]:
        return [t.tax_id for t in self.taxes]


class Invoice(Record):
    tenant_id: str
    number: str
    status: InvoiceStatus = InvoiceStatus.DRAFT
    issue_date: date
    due_date: date
    client_id: str
    client_name: str = ""
    consignee_id: str | None = None
    consignee_name: str | None = None
    billing_address: dict[str, str] | None = None
    delivery_address: dict[str, str] | None = None
    deal_id: str | None = None
    language: str = "en"
    currency: str
    exchange_rate: str | None = None
    # The tenant's default currency that ``exchange_rate`` converts into.
    exchange_currency: str | None = None
    po_number: str = ""
    terms: str = ""
    notes: str = ""
    lines: list[InvoiceLine]
    # The company profile as it was when the invoice left the draft state.
    seller: dict[str, Any] | None = None
    billed_at: datetime | None = None
    # product id -> quantity taken off its stock at billing (given back on rejection)
    stock_taken: dict[str, str] = Field(default_factory=dict)
    sent_at: datetime | None = None
    sent_to: str | None = None
    # Contacts whose personal data was erased from it (GDPR; domain/invoices/erasure.py).
    erased_contact_ids: list[str] = Field(default_factory=list)

    @property
    def contact_ids(self) -> list[str]:
        """The contacts it names (client, consignee): each once."""
        return list(dict.fromkeys(c for c in (self.client_id, self.consignee_id) if c))

    @property
    def product_ids(self) -> list[str]:
        return list(dict.fromkeys(line.product_id for line in self.lines if line.product_id))

    @property
    def tax_ids(self) -> list[str]:
        return list(dict.fromkeys(t.tax_id for line in self.lines for t in line.taxes))

    def overdue(self, today: date) -> bool:
        return self.status == InvoiceStatus.BILLED and self.due_date < today


class InvoiceQuery(BaseModel):
    """GET /v1/invoices filters."""

    model_config = ConfigDict(extra="forbid")

    status: InvoiceStatus | None = None
    client_id: Id | None = Field(default=None, description="Invoices naming this contact as client or consignee")
    deal_id: Id | None = None
    currency: CurrencyCode | None = None
    overdue: bool | None = Field(default=None, description="true: billed and past due; false: the others")
    issue_from: date | None = None
    issue_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    created_by: Id | None = None

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def entry_matches(entry: dict[str, Any], query: InvoiceQuery, today: date) -> bool:
    """Does an index entry (which carries the filterable attributes) pass the
    filters its partition and sort-key range did not already apply?"""
    if query.status and entry.get("status") != query.status.value:
        return False
    if query.client_id and query.client_id not in (entry.get("contact_ids") or []):
        return False
    if query.deal_id and entry.get("deal_id") != query.deal_id:
        return False
    if query.currency and entry.get("currency") != query.currency:
        return False
    if query.created_by and entry.get("created_by") != query.created_by:
        return False
    issue, due = entry.get("issue_date") or "", entry.get("due_date") or ""
    if query.issue_from and issue < query.issue_from.isoformat():
        return False
    if query.issue_to and issue > query.issue_to.isoformat():
        return False
    if query.due_from and due < query.due_from.isoformat():
        return False
    if query.due_to and due > query.due_to.isoformat():
        return False
    if query.overdue is not None:
        overdue = entry.get("status") == InvoiceStatus.BILLED.value and due < today.isoformat()
        if overdue != query.overdue:
            return False
    return True
