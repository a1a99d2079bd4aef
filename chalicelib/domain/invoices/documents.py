"""An invoice's documents (INV-9, INV-11): the PDF, the print view and the
mail that carries the PDF.

The content of a document is plain data (``document``): the invoice, its
figures, the seller (the company profile: the current one for a draft, the
one kept on the invoice once it left the draft state) and the EPC payment
code's data. Its SHA-256 (``digest``) names a rendering: ``GET .../pdf``
answers 302 to the PDF rendered for the current digest, or queues a
rendering on the documents queue and answers 202 until it is there. So a
changed draft (or a changed profile, for a draft) is rendered again on the
next request, and a billed invoice keeps its PDF.

Rendering runs in the documents function (a container with pango:
chalicelib/handlers/background/documents.py). Sending is two steps: the
documents function makes sure the PDF is rendered (``prepare_mail``), then
the jobs worker, the one function allowed to send e-mail, sends it
(``deliver``). Each step is idempotent: a rendering of a digest already
rendered does nothing, a mail already marked sent is not sent again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ConfigDict

from chalicelib.domain.invoices.limits import PDF_URL_SECONDS
from chalicelib.domain.invoices.models import Invoice, InvoiceSettings, InvoiceStatus
from chalicelib.domain.invoices.ports import Attachment, DocumentQueue, DocumentStore, InvoiceStore, Mailer, Renderer
from chalicelib.domain.invoices.service import Invoices, totals_of
from chalicelib.domain.invoices.settings import InvoiceSettingsService
from chalicelib.domain.settings.currency import minor_units
from chalicelib.domain.shared.clock import Clock, utc_now
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal

# Part of every digest: a change of the template or the renderer renders again.
RENDERER_VERSION = "1"
# A queued rendering not done by then is queued again (its message was lost or dead-lettered).
RENDER_PATIENCE = timedelta(minutes=2)


class RenderInvoice(Model):
    """Documents-queue message: render the invoice's current document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["invoices.render"] = "invoices.render"
    tenant_id: str
    invoice_id: str
    digest: str | None = None


class SendInvoice(Model):
    """Documents-queue message: make sure the PDF of a queued mail is there,
    then hand the mail to the jobs queue (``MailInvoice``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["invoices.send"] = "invoices.send"
    tenant_id: str
    invoice_id: str
    mail_id: str


class MailInvoice(Model):
    """Jobs-queue message: send one queued mail with the rendered PDF (the
    jobs worker is the one function allowed to send e-mail)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["invoices.mail"] = "invoices.mail"
    tenant_id: str
    invoice_id: str
    mail_id: str


def seller_of(invoice: Invoice, settings: InvoiceSettings) -> dict[str, Any]:
    if invoice.status != InvoiceStatus.DRAFT and invoice.seller is not None:
        return dict(invoice.seller)
    return settings.seller()


def document(invoice: Invoice, settings: InvoiceSettings) -> dict[str, Any]:
    """Everything a document of the invoice shows, as JSON values (amounts as
    strings in the currency's minor unit)."""
    totals = totals_of(invoice)
    seller = seller_of(invoice, settings)
    digits = minor_units(invoice.currency)
    epc = None
    if invoice.currency == "EUR" and seller.get("iban") and totals.total > 0:
        epc = {
            "name": seller.get("company_name") or "",
            "iban": seller["iban"],
            "bic": seller.get("bic") or "",
            "amount": str(totals.total),
            "text": f"{invoice.number}",
        }
    return {
        "renderer": RENDERER_VERSION,
        "number": invoice.number,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "language": invoice.language,
        "currency": invoice.currency,
        "minor_units": digits,
        "exchange_rate": invoice.exchange_rate,
        "exchange_currency": invoice.exchange_currency,
        "po_number": invoice.po_number,
        "terms": invoice.terms,
        "notes": invoice.notes,
        "seller": seller,
        "client": {"id": invoice.client_id, "name": invoice.client_name, "address": invoice.billing_address},
        "consignee": (
            {"id": invoice.consignee_id, "name": invoice.consignee_name, "address": invoice.delivery_address}
            if invoice.consignee_id or invoice.delivery_address
            else None
        ),
        "lines": [
            {
                "title": line.title,
                "description": line.description,
                "quantity": line.quantity,
                "price": line.price,
                "discount": line.discount,
                "taxes": [t.model_dump() for t in line.taxes],
                "amount": str(figures.amount),
                "discount_amount": str(figures.discount_amount),
                "net": str(figures.net),
            }
            for line, figures in zip(invoice.lines, totals.lines, strict=True)
        ],
        "totals": {
            "subtotal": str(totals.subtotal),
            "discount": str(totals.discount),
            "net": str(totals.net),
            "taxes": [
                {"tax_id": t.tax_id, "name": t.name, "rate": str(t.rate), "base": str(t.base), "amount": str(t.amount)}
                for t in totals.taxes
            ],
            "tax_total": str(totals.tax_total),
            "total": str(totals.total),
        },
        "epc": epc,
    }


def digest(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def pdf_filename(invoice: Invoice) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in invoice.number)
    return f"{safe or 'invoice'}.pdf"


class InvoiceDocuments:
    def __init__(
        self,
        invoices: Invoices,
        store: InvoiceStore,
        settings: InvoiceSettingsService,
        documents: DocumentStore,
        queue: DocumentQueue,
        renderer: Callable[[], Renderer],
        mailer: Mailer,
        jobs: DocumentQueue,
        clock: Clock = utc_now,
    ):
        self._invoices = invoices
        self._store = store
        self._settings = settings
        self._documents = documents
        self._queue = queue
        # A factory: the renderer's libraries load in the documents function only.
        self._renderer = renderer
        self._mailer = mailer
        self._jobs = jobs
        self._clock = clock

    def content(self, invoice: Invoice) -> dict[str, Any]:
        return document(invoice, self._settings.current(invoice.tenant_id))

    # ---- the API side ----

    def pdf_url(self, principal: Principal, invoice_id: str) -> str | None:
        """A presigned URL of the PDF of the invoice as it is now, or None
        while it is being rendered (a rendering is queued when none is)."""
        invoice = self._invoices.get(principal, invoice_id)
        wanted = digest(self.content(invoice))
        state = self._documents.state(invoice.tenant_id, invoice.id) or {}
        if state.get("digest") == wanted:
            return self._documents.download_url(
                invoice.tenant_id, invoice.id, filename=pdf_filename(invoice), seconds=PDF_URL_SECONDS
            )
        now = self._clock()
        requested_at = state.get("requested_at")
        fresh = (
            state.get("requested_digest") == wanted
            and requested_at is not None
            and now - datetime.fromisoformat(requested_at) < RENDER_PATIENCE
        )
        if not fresh:
            self._documents.request(invoice.tenant_id, invoice.id, wanted, now)
            self._queue.send(
                RenderInvoice(tenant_id=invoice.tenant_id, invoice_id=invoice.id, digest=wanted).model_dump()
            )
        return None

    def html(self, principal: Principal, invoice_id: str) -> str:
        """The print view: the same template as the PDF, the logo by URL."""
        invoice = self._invoices.get(principal, invoice_id)
        settings = self._settings.current(invoice.tenant_id)
        logo_url = self._settings.logo_url(principal) if settings.logo else None
        return self._renderer().html(document(invoice, settings), logo_url)

    # ---- the documents function ----

    def render(self, job: RenderInvoice) -> bool:
        """Render the invoice's current document unless it is rendered; True when it rendered."""
        invoice = self._store.get(job.tenant_id, job.invoice_id)
        if invoice is None:
            return False
        return self._ensure_pdf(invoice)[1]

    def _ensure_pdf(self, invoice: Invoice) -> tuple[bytes | None, bool]:
        content = self.content(invoice)
        wanted = digest(content)
        state = self._documents.state(invoice.tenant_id, invoice.id) or {}
        if state.get("digest") == wanted:
            return None, False
        pdf, e_invoice = self._renderer().pdf(content, self._settings.logo(invoice.tenant_id))
        self._documents.save(invoice.tenant_id, invoice.id, wanted, pdf, at=self._clock(), e_invoice=e_invoice)
        return pdf, True

    def prepare_mail(self, job: SendInvoice) -> bool:
        """The documents function's part of sending: render the PDF if it is
        not (it is the invoice as billed), then queue the mail for the jobs
        worker. False when the mail is gone or sent already."""
        mail = self._store.mail(job.tenant_id, job.invoice_id, job.mail_id)
        invoice = self._store.get(job.tenant_id, job.invoice_id)
        if mail is None or mail.get("status") != "queued" or invoice is None:
            return False
        self._ensure_pdf(invoice)
        self._jobs.send(
            MailInvoice(tenant_id=job.tenant_id, invoice_id=job.invoice_id, mail_id=job.mail_id).model_dump()
        )
        return True

    def deliver(self, job: MailInvoice) -> bool:
        """Send one queued mail with the PDF attached and the notes in the
        body; mark it sent with its history event on the client (HIS-2) in
        one transaction. A mail marked sent is not sent again; False then."""
        mail = self._store.mail(job.tenant_id, job.invoice_id, job.mail_id)
        invoice = self._store.get(job.tenant_id, job.invoice_id)
        if mail is None or mail.get("status") != "queued" or invoice is None:
            return False
        content = self.content(invoice)
        state = self._documents.state(invoice.tenant_id, invoice.id) or {}
        if state.get("digest") != digest(content):
            # Not rendered as it is now (rare: changed since): back to the documents function.
            self._queue.send(SendInvoice(**job.model_dump(exclude={"kind"})).model_dump())
            return False
        pdf = self._documents.pdf(invoice.tenant_id, invoice.id)
        subject, text = self._renderer_mail(content)
        self._mailer.send(
            to=mail["to"],
            subject=mail.get("subject") or subject,
            text=text,
            attachments=(Attachment(pdf_filename(invoice), "application/pdf", pdf),),
        )
        now = self._clock()
        event = self._invoices.mail_history_event(invoice, mail, now)
        return self._store.mail_sent(job.tenant_id, job.invoice_id, job.mail_id, at=now, history=event)

    def _renderer_mail(self, content: dict[str, Any]) -> tuple[str, str]:
        return self._renderer().mail(content)
