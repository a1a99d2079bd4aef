"""What the invoice services need from storage and the outside world.
storage/invoices/* implements these on DynamoDB, S3, SQS and SES;
storage/memory/invoices.py keeps them in memory for unit tests. Both are held
to the same contract tests (tests/contract/)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.shared.pagination import PageRequest, Slice

if TYPE_CHECKING:
    from chalicelib.domain.invoices.models import Invoice, InvoiceSettings, Product, Tax
    from chalicelib.domain.records.changelog import ChangeEntry
    from chalicelib.domain.records.history import HistoryEvent

Entry = dict[str, Any]


@dataclass(frozen=True)
class NumberClaim:
    """How an invoice gets its number, checked in its own transaction: a
    uniqueness marker (never reused, not even after a delete) and, for an
    automatic number, the counter moving from ``counter_from`` to one past it."""

    number: str
    counter_from: int | None = None  # None: a number typed by hand


@dataclass(frozen=True)
class InvoiceWrite:
    """What an invoice's transaction carries besides the invoice itself."""

    claim: NumberClaim | None = None  # a new number (create, or a changed manual one)
    # product id -> change of its stock (billing takes off, rejecting puts back)
    stock: Mapping[str, Decimal] = field(default_factory=dict)
    history: HistoryEvent | None = None  # e.g. the mail of an invoice (HIS-2)
    mail: Mapping[str, Any] | None = None  # a queued mail delivery (see InvoiceStore.mail)
    # Logged instead of the diff of the write: an erasure, whose diff would carry the erased values.
    change: ChangeEntry | None = None


class NumberTaken(Conflict):
    """The invoice number's marker exists: another invoice has (or had) it."""

    def __init__(self, number: str = ""):
        super().__init__(
            f"The invoice number {number} is taken: numbers are unique and never reused.".replace("  ", " ")
        )
        self.number = number


class CounterMoved(Conflict):
    """The counter is not where it was read: another invoice took that number."""

    def __init__(self) -> None:
        super().__init__("Another invoice took that number meanwhile.")


class TaxStore(Protocol):
    def list(self, tenant_id: str) -> builtins.list[Tax]: ...

    def get(self, tenant_id: str, tax_id: str) -> Tax | None: ...

    def get_many(self, tenant_id: str, tax_ids: builtins.list[str]) -> builtins.list[Tax]: ...

    def create(self, tax: Tax) -> Tax: ...

    def update(self, before: Tax, after: Tax) -> Tax:
        """Conditioned on ``before.version``; PreconditionFailed when it moved."""
        ...

    def delete(self, tax: Tax) -> None:
        """Only while no invoice uses it: Conflict otherwise."""
        ...


class ProductStore(Protocol):
    def list(
        self, tenant_id: str, page: PageRequest, *, visible: Callable[[Product], bool] | None = None
    ) -> Slice[Product]: ...

    def get(self, tenant_id: str, product_id: str) -> Product | None: ...

    def get_many(self, tenant_id: str, product_ids: builtins.list[str]) -> builtins.list[Product]: ...

    def create(self, product: Product) -> Product: ...

    def update(self, before: Product, changes: Mapping[str, Any], *, at: datetime, by: str) -> Product:
        """Writes only ``changes`` (stock moves by billing are never
        overwritten by a change of another field), conditioned on the version."""
        ...

    def delete(self, product: Product) -> None:
        """Only while no invoice uses it: Conflict otherwise."""
        ...


class InvoiceSettingsStore(Protocol):
    def get(self, tenant_id: str) -> InvoiceSettings | None: ...

    def save(self, tenant_id: str, settings: InvoiceSettings, *, expected_version: int | None) -> InvoiceSettings:
        """Create (expected_version None and none stored) or replace at that version."""
        ...

    def next_number(self, tenant_id: str) -> int:
        """The counter (strongly consistent): the number the next automatic invoice gets."""
        ...

    def set_next_number(self, tenant_id: str, number: int) -> None: ...

    def skip_number(self, tenant_id: str, number: int) -> None:
        """Move the counter from ``number`` to one past it, unless it moved
        already (that number was typed by hand on an earlier invoice)."""
        ...


class InvoiceStore(Protocol):
    def get(self, tenant_id: str, invoice_id: str) -> Invoice | None:
        """Strongly consistent."""
        ...

    def create(self, invoice: Invoice, *, by: str, write: InvoiceWrite) -> Invoice:
        """The invoice, its number's marker (NumberTaken), the counter
        (CounterMoved), its index entries, change log and the use counters of
        its taxes and products, all in one transaction. The client and
        consignee must still exist (ValidationFailed)."""
        ...

    def update(self, before: Invoice, after: Invoice, *, by: str, write: InvoiceWrite | None = None) -> Invoice:
        """Conditioned on ``before.version`` (PreconditionFailed)."""
        ...

    def delete(self, invoice: Invoice, *, by: str, at: datetime, write: InvoiceWrite | None = None) -> None:
        """Conditioned on the version read. The number's marker stays."""
        ...

    def query(
        self,
        tenant_id: str,
        facet: str,
        page: PageRequest,
        *,
        sort_range: tuple[str, str] | None,
        visible: Callable[[Entry], bool],
    ) -> Slice[Invoice]:
        """Newest first by the facet's date: the due date for ``due``, else the
        issue date; ``facet`` is all, status#<s>, contact#<id>, deal#<id>,
        currency#<code> or due; ``sort_range`` bounds that date (``<date>#<id>``)."""
        ...

    def entries(self, tenant_id: str, facet: str) -> list[Entry]:
        """Every index entry of a facet (delete guards, cascades)."""
        ...

    def mail(self, tenant_id: str, invoice_id: str, mail_id: str) -> dict[str, Any] | None: ...

    def mail_sent(self, tenant_id: str, invoice_id: str, mail_id: str, *, at: datetime, history: HistoryEvent) -> bool:
        """Mark a queued mail sent and add its history event, in one
        transaction; False when it was marked already (a redelivery)."""
        ...

    # ---- erasure of a contact's personal data (GDPR, issue 18) ----

    def scrub(self, tenant_id: str, invoice_id: str, values: Mapping[str, Any], *, mail_to: str | None) -> int:
        """Replace, in the invoice's change-log entries (live or deleted
        invoice), every value that is set of the fields named in ``values``
        (old and new) by the value given; with ``mail_to``, its mails'
        recipient too. Idempotent; the number of items rewritten."""
        ...

    def formerly_naming(self, tenant_id: str, contact_id: str) -> builtins.list[Entry]:
        """Invoices that named the contact and no longer do (deleted, or their
        client or consignee changed): their change logs still name it.
        ``{"rid": <invoice id>, "role": "client"|"consignee"}``, one per role."""
        ...


class DocumentStore(Protocol):
    """The rendered PDFs (S3) and what was rendered for which content."""

    def state(self, tenant_id: str, invoice_id: str) -> dict[str, Any] | None: ...

    def request(self, tenant_id: str, invoice_id: str, digest: str, at: datetime) -> None:
        """Note that a rendering of ``digest`` is queued."""
        ...

    def save(self, tenant_id: str, invoice_id: str, digest: str, pdf: bytes, *, at: datetime, e_invoice: bool) -> None:
        """Store the PDF and record it as the rendering of ``digest``; the
        previous one goes."""
        ...

    def pdf(self, tenant_id: str, invoice_id: str) -> bytes: ...

    def download_url(self, tenant_id: str, invoice_id: str, *, filename: str, seconds: int) -> str: ...

    def forget(self, tenant_id: str, invoice_id: str) -> None:
        """An invoice deleted: its PDFs and state go (idempotent)."""
        ...


class LogoBlobs(Protocol):
    def put(self, tenant_id: str, data: bytes, content_type: str) -> None: ...

    def get(self, tenant_id: str) -> tuple[bytes, str]: ...

    def delete(self, tenant_id: str) -> None: ...

    def download_url(self, tenant_id: str, seconds: int) -> str: ...


class DocumentQueue(Protocol):
    """The documents queue: rendering and sending, consumed by the documents function."""

    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None: ...


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, text: str, attachments: tuple[Attachment, ...] = ()) -> None: ...


class Renderer(Protocol):
    """chalicelib/documents/invoices.py: the PDF and the print view."""

    def pdf(self, document: Mapping[str, Any], logo: tuple[bytes, str] | None) -> tuple[bytes, bool]:
        """(PDF/A-3 bytes, whether the Factur-X XML is embedded)."""
        ...

    def html(self, document: Mapping[str, Any], logo_url: str | None) -> str: ...

    def mail(self, document: Mapping[str, Any]) -> tuple[str, str]:
        """(subject, text) of the mail that carries the PDF, in the invoice's language."""
        ...


class ContactDirectory(Protocol):
    """The contacts service: ``get(principal, id)`` with its access check."""

    def get(self, principal: Any, contact_id: str) -> Any: ...


class DealDirectory(Protocol):
    def get(self, principal: Any, deal_id: str) -> Any: ...
