"""Use cases on invoices (INV-1..11): create, read, change (drafts), move
along the status machine, duplicate, delete, send, list (also from a
contact's and a deal's side), the change log and the contact delete guard.

Access is the policy's (domain/shared/access.py, ``InvoiceAccess``): the
creator does everything, whoever can read the client reads, admins do
everything; hidden invoices are 404. Whether an invoice may change in its
status is an invoice rule (only drafts; deleting: drafts, or admins).

Numbers (INV-1): automatic numbers come from a counter that the invoice's
own transaction moves from the value read to one past it, next to a
uniqueness marker of the number. Two creations that read the same counter
value cannot both commit (the loser re-reads and tries the next number); a
creation that fails for any reason moves nothing, so no number is skipped
or repeated. A number typed by hand (numbering off, or an admin) only puts
its marker; an automatic number that meets such a marker moves the counter
past it. Markers outlive their invoices: numbers are never reused.
"""

from __future__ import annotations

import builtins
import random
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.domain.contacts.details import DetailType
from chalicelib.domain.deals.service import today_in
from chalicelib.domain.invoices.catalogue import Catalogue
from chalicelib.domain.invoices.erasure import Erasure, InvoiceErasureResult, erase, erased_values, erasure_entry
from chalicelib.domain.invoices.models import (
    MAX_PRODUCTS_PER_INVOICE,
    MAX_TAXES_PER_INVOICE,
    DuplicateRequest,
    Invoice,
    InvoiceChanges,
    InvoiceLine,
    InvoiceQuery,
    InvoiceStatus,
    LineRequest,
    LineTax,
    NewInvoice,
    SendRequest,
    check_move,
    entry_matches,
    format_number,
)
from chalicelib.domain.invoices.ports import (
    ContactDirectory,
    DealDirectory,
    DocumentQueue,
    DocumentStore,
    Entry,
    InvoiceStore,
    InvoiceWrite,
    NumberClaim,
    NumberTaken,
)
from chalicelib.domain.invoices.settings import InvoiceSettingsService
from chalicelib.domain.invoices.totals import LineInput, TaxRate, Totals, compute_totals
from chalicelib.domain.records.history import HistoryKind, system_event
from chalicelib.domain.records.parents import Parents
from chalicelib.domain.settings.currency import minor_units
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import InvoiceAccess, Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from chalicelib.domain.shared.events import RecordDeleted
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.ports import EventPublisher
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.shared.records import require_version

# Creations racing for the counter retry with the next number; this many
# times is far beyond what a tenant's users do at once.
MAX_NUMBER_ATTEMPTS = 50
GUARD_LISTED = 10


def totals_of(invoice: Invoice) -> Totals:
    """Every figure of the invoice (INV-8), from its lines."""
    return compute_totals(
        [
            LineInput(
                quantity=Decimal(line.quantity),
                price=Decimal(line.price),
                discount=Decimal(line.discount),
                taxes=[TaxRate(t.tax_id, t.name, Decimal(t.rate)) for t in line.taxes],
            )
            for line in invoice.lines
        ],
        minor_units(invoice.currency),
    )


def _system(tenant_id: str, user_id: str = "system") -> Principal:
    return Principal(tenant_id=tenant_id, user_id=user_id, role=Role.ADMIN)


def _invalid(field: str, message: str, detail: str | None = None) -> ValidationFailed:
    return ValidationFailed(detail or message[0].upper() + message[1:] + ".", errors=[FieldError(field, message)])


def _address(contact: Any, categories: tuple[str, ...]) -> dict[str, str] | None:
    """The contact's address of the first category found, else its primary one, else its first."""
    addresses = [d for d in contact.details if d.get("type") == DetailType.ADDRESS.value]
    for category in categories:
        found = next((d for d in addresses if d.get("category") == category), None)
        if found:
            return dict(found["value"])
    primary = next((d for d in addresses if d.get("primary")), None) or (addresses[0] if addresses else None)
    return dict(primary["value"]) if primary else None


def _date_range(low: date | None, high: date | None) -> tuple[str, str] | None:
    """Sort-key bounds (``<yyyy-mm-dd>#<id>``) of the dates low .. high, inclusive."""
    if low is None and high is None:
        return None
    return (low.isoformat() if low else "0"), (high.isoformat() if high else "9999-12-31") + "#~"


def primary_email(contact: Any) -> str | None:
    emails = [d for d in contact.details if d.get("type") == DetailType.EMAIL.value]
    chosen = next((d for d in emails if d.get("primary")), None) or (emails[0] if emails else None)
    return str(chosen["value"]) if chosen else None


class ClientReadability:
    """Per request: may the caller read an invoice's client? Each contact resolved once."""

    def __init__(self, parents: Parents, principal: Principal):
        self._parents = parents
        self._principal = principal
        self._known: dict[str, bool] = {}

    def __call__(self, contact_id: str) -> bool:
        if contact_id not in self._known:
            try:
                self._parents.resolve(self._principal, "contact", contact_id)
                self._known[contact_id] = True
            except NotFound:
                self._known[contact_id] = False
        return self._known[contact_id]


class Invoices:
    def __init__(
        self,
        store: InvoiceStore,
        settings: InvoiceSettingsService,
        catalogue: Catalogue,
        contacts: ContactDirectory,
        deals: DealDirectory,
        parents: Parents,
        money: Any,
        changes: Any,
        documents: DocumentQueue,
        events: EventPublisher,
        clock: Clock = utc_now,
        pause: Callable[[float], None] = time.sleep,
        pdfs: DocumentStore | None = None,
    ):
        self._store = store
        self._settings = settings
        self._catalogue = catalogue
        self._contacts = contacts
        self._deals = deals
        self._parents = parents
        # the currency settings service (default currency)
        self._money = money
        # the change-log store (list_changes)
        self._changes = changes
        self._documents = documents
        self._events = events
        self._clock = clock
        self._pause = pause
        # The rendered PDFs: an erasure drops those that carry the erased data.
        self._pdfs = pdfs

    # ---- reading ----

    def today(self, tenant: Any) -> date:
        return today_in(getattr(tenant, "time_zone", "UTC"), self._clock())

    def get(self, principal: Principal, invoice_id: str, operation: Operation = Operation.READ) -> Invoice:
        invoice = self._store.get(principal.tenant_id, invoice_id)
        if invoice is None:
            raise NotFound("The invoice does not exist.")
        access.require(principal, operation, self._access(principal, invoice), what="invoice")
        return invoice

    def list(self, principal: Principal, tenant: Any, query: InvoiceQuery, page: PageRequest) -> Slice[Invoice]:
        today = self.today(tenant)
        client_readable = ClientReadability(self._parents, principal)
        readable = access.readable(principal)

        def visible(entry: Entry) -> bool:
            if not entry_matches(entry, query, today):
                return False
            creator = entry.get("created_by") or ""
            if principal.is_admin or principal.user_id == creator:
                return True
            return readable(InvoiceAccess(creator, client_readable(entry.get("client_id") or "")))

        # The most selective facet answers; the entries' attributes filter the rest.
        facet, sort_range = "all", _date_range(query.issue_from, query.issue_to)
        if query.client_id:
            facet = f"contact#{query.client_id}"
        elif query.deal_id:
            facet = f"deal#{query.deal_id}"
        elif (query.due_from or query.due_to) and sort_range is None:
            facet, sort_range = "due", _date_range(query.due_from, query.due_to)
        elif query.status:
            facet = f"status#{query.status.value}"
        elif query.overdue:
            facet = f"status#{InvoiceStatus.BILLED.value}"
        elif query.currency:
            facet = f"currency#{query.currency}"
        return self._store.query(principal.tenant_id, facet, page, sort_range=sort_range, visible=visible)

    def for_contact(self, principal: Principal, tenant: Any, contact_id: str, page: PageRequest) -> Slice[Invoice]:
        """A contact's invoices (as client or consignee); 404 for a hidden contact."""
        self._parents.resolve(principal, "contact", contact_id)
        return self.list(principal, tenant, InvoiceQuery(client_id=contact_id), page)

    def for_deal(self, principal: Principal, tenant: Any, deal_id: str, page: PageRequest) -> Slice[Invoice]:
        self._parents.resolve(principal, "deal", deal_id)
        return self.list(principal, tenant, InvoiceQuery(deal_id=deal_id), page)

    def changes(self, principal: Principal, invoice_id: str, page: PageRequest) -> Slice[Any]:
        invoice = self.get(principal, invoice_id)
        return self._changes.list_changes(principal.tenant_id, "invoice", invoice.id, page)  # type: ignore[no-any-return]

    # ---- creating ----

    def create(self, principal: Principal, tenant: Any, request: NewInvoice) -> Invoice:
        fields = request.model_dump(exclude_unset=True)
        now = self._clock()
        today = self.today(tenant)
        draft = Invoice(
            id=new_id(),
            tenant_id=principal.tenant_id,
            number="-",
            issue_date=fields.get("issue_date") or today,
            due_date=fields.get("due_date") or fields.get("issue_date") or today,
            client_id=request.client_id,
            currency="EUR",
            lines=[],
            terms=self._settings.current(principal.tenant_id).default_terms,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        invoice = self._apply(principal, draft, None, fields)
        return self._create_numbered(principal, invoice, fields.get("number"))

    def duplicate(self, principal: Principal, tenant: Any, invoice_id: str, request: DuplicateRequest) -> Invoice:
        """A new draft with a new number: the same client, lines and texts,
        issued today with the same payment period."""
        source = self.get(principal, invoice_id)
        self._visible_contact(principal, source.client_id, "client_id")
        now = self._clock()
        today = self.today(tenant)
        copy = source.model_copy(
            update={
                "id": new_id(),
                "version": 1,
                "number": "-",
                "status": InvoiceStatus.DRAFT,
                "issue_date": today,
                "due_date": today + (source.due_date - source.issue_date),
                "seller": None,
                "billed_at": None,
                "stock_taken": {},
                "sent_at": None,
                "sent_to": None,
                "created_at": now,
                "created_by": principal.user_id,
                "updated_at": now,
                "updated_by": principal.user_id,
            }
        )
        return self._create_numbered(principal, copy, request.number)

    def _create_numbered(self, principal: Principal, invoice: Invoice, number: str | None) -> Invoice:
        numbering = self._settings.numbering(principal.tenant_id)
        if number is not None:
            if numbering.automatic and not principal.is_admin:
                raise _invalid(
                    "number",
                    "is generated: numbering is automatic (only admins may type one)",
                    "Invoice numbers are generated; leave number out.",
                )
            return self._store.create(
                invoice.model_copy(update={"number": number}),
                by=principal.user_id,
                write=InvoiceWrite(claim=NumberClaim(number)),
            )
        if not numbering.automatic:
            raise _invalid("number", "required: automatic numbering is off", "Type the invoice number.")
        for attempt in range(MAX_NUMBER_ATTEMPTS):
            counter = self._settings.next_number(principal.tenant_id)
            wanted = format_number(numbering.prefix, counter)
            try:
                return self._store.create(
                    invoice.model_copy(update={"number": wanted}),
                    by=principal.user_id,
                    write=InvoiceWrite(claim=NumberClaim(wanted, counter_from=counter)),
                )
            except NumberTaken:
                # Typed by hand on an earlier invoice: that number is used, the counter moves past it.
                self._settings.skip_number(principal.tenant_id, counter)
            except Conflict:
                # CounterMoved, or DynamoDB cancelled two transactions on the counter at once:
                # another invoice took the number; read the counter again.
                self._pause(random.uniform(0, 0.002 * (attempt + 1)))
        raise Conflict("Many invoices are being created at this moment; please send the request again.")

    # ---- changing ----

    def update(
        self, principal: Principal, invoice_id: str, changes: InvoiceChanges, *, expected_version: int
    ) -> Invoice:
        before = self.get(principal, invoice_id, Operation.WRITE)
        require_version(before, expected_version, "invoice")
        self._require_draft(before, "changed")
        fields = changes.model_dump(exclude_unset=True)
        after = self._apply(principal, before, before, fields)
        claim = None
        if "number" in fields and fields["number"] is not None and fields["number"] != before.number:
            numbering = self._settings.numbering(principal.tenant_id)
            if numbering.automatic and not principal.is_admin:
                raise _invalid("number", "is generated: numbering is automatic (only admins may change it)")
            after = after.model_copy(update={"number": fields["number"]})
            claim = NumberClaim(fields["number"])
        after = after.model_copy(update={"updated_at": self._clock(), "updated_by": principal.user_id})
        return self._store.update(before, after, by=principal.user_id, write=InvoiceWrite(claim=claim))

    def change_status(
        self, principal: Principal, invoice_id: str, status: InvoiceStatus, *, expected_version: int
    ) -> Invoice:
        before = self.get(principal, invoice_id, Operation.WRITE)
        require_version(before, expected_version, "invoice")
        check_move(before.status, status)
        after, stock = self._moved(before, status, principal)
        saved = self._store.update(before, after, by=principal.user_id, write=InvoiceWrite(stock=stock))
        if status == InvoiceStatus.BILLED:
            self._queue_render(saved)
        return saved

    def _moved(
        self, before: Invoice, status: InvoiceStatus, principal: Principal
    ) -> tuple[Invoice, dict[str, Decimal]]:
        """The invoice in ``status``, and the stock it moves: billing a draft
        takes tracked stock off (and keeps the company profile on the
        invoice), rejecting gives back what billing took."""
        now = self._clock()
        update: dict[str, Any] = {"status": status, "updated_at": now, "updated_by": principal.user_id}
        stock: dict[str, Decimal] = {}
        if before.status == InvoiceStatus.DRAFT and status == InvoiceStatus.BILLED:
            taken = self._stock_to_take(principal, before)
            stock = {pid: -qty for pid, qty in taken.items()}
            update |= {
                "stock_taken": {pid: str(qty) for pid, qty in taken.items()},
                "seller": self._settings.current(before.tenant_id).seller(),
                "billed_at": now,
            }
        elif status == InvoiceStatus.REJECTED:
            stock = {pid: Decimal(qty) for pid, qty in before.stock_taken.items()}
            update["stock_taken"] = {}
        elif status == InvoiceStatus.DRAFT:
            update |= {"seller": None, "billed_at": None}
        return before.model_copy(update=update), stock

    def _stock_to_take(self, principal: Principal, invoice: Invoice) -> dict[str, Decimal]:
        products = self._catalogue.products_by_id(principal, invoice.product_ids)
        taken: dict[str, Decimal] = {}
        for line in invoice.lines:
            product = products.get(line.product_id or "")
            if product is not None and product.track_stock:
                taken[product.id] = taken.get(product.id, Decimal(0)) + Decimal(line.quantity)
        return {pid: qty for pid, qty in taken.items() if qty}

    def delete(self, principal: Principal, invoice_id: str, *, expected_version: int | None) -> Invoice:
        """The creator or an admin; only drafts, except for admins (a billed
        invoice's stock is given back). Its number stays used."""
        invoice = self.get(principal, invoice_id, Operation.DELETE)
        require_version(invoice, expected_version, "invoice")
        if invoice.status != InvoiceStatus.DRAFT and not principal.is_admin:
            raise Conflict(
                f"Only drafts can be deleted; this invoice is {invoice.status.value} (admins may delete it)."
            )
        stock = {pid: Decimal(qty) for pid, qty in invoice.stock_taken.items()}
        self._store.delete(invoice, by=principal.user_id, at=self._clock(), write=InvoiceWrite(stock=stock))
        # Its PDFs and their state go in the background (bootstrap/events.py).
        self._events.publish(RecordDeleted(tenant_id=principal.tenant_id, record_kind="invoice", record_id=invoice.id))
        return invoice

    # ---- sending (INV-11, HIS-2) ----

    def send(self, principal: Principal, invoice_id: str, request: SendRequest) -> Invoice:
        """Queue the mail with the PDF to the client's primary e-mail; a draft
        becomes billed in the same transaction. The mail goes out from the
        documents queue, which adds the history event to the client."""
        before = self.get(principal, invoice_id, Operation.WRITE)
        if before.status not in (InvoiceStatus.DRAFT, InvoiceStatus.BILLED):
            raise Conflict(f"Only drafts and billed invoices are sent; this one is {before.status.value}.")
        client = self._visible_contact(principal, before.client_id, "client_id")
        to = primary_email(client)
        if not to:
            raise _invalid("client_id", "the client has no e-mail address", "The client has no e-mail address.")
        now = self._clock()
        after, stock = before, dict[str, Decimal]()
        if before.status == InvoiceStatus.DRAFT:
            after, stock = self._moved(before, InvoiceStatus.BILLED, principal)
        after = after.model_copy(
            update={"sent_at": now, "sent_to": to, "updated_at": now, "updated_by": principal.user_id}
        )
        mail = {
            "id": new_id(),
            "to": to,
            "subject": request.subject,
            "status": "queued",
            "requested_at": now.isoformat(),
            "requested_by": principal.user_id,
        }
        saved = self._store.update(before, after, by=principal.user_id, write=InvoiceWrite(stock=stock, mail=mail))
        self._documents.send(
            {"kind": "invoices.send", "tenant_id": principal.tenant_id, "invoice_id": saved.id, "mail_id": mail["id"]}
        )
        return saved

    def mail_history_event(self, invoice: Invoice, mail: dict[str, Any], at: Any) -> Any:
        """HIS-2: the client's history records the mail."""
        text = f"Invoice {invoice.number} sent by e-mail to {mail['to']}"
        author = _system(invoice.tenant_id, str(mail.get("requested_by") or "system"))
        return system_event(author, "contact", invoice.client_id, text, kind=HistoryKind.EMAIL, at=at)

    # ---- hooks: the contact delete guard, a deleted deal ----

    def delete_guard(self, principal: Principal, kind: str, record_id: str) -> builtins.list[str]:
        """A contact an invoice names (client or consignee) cannot be deleted;
        the reason lists the invoices (those the caller cannot read are counted)."""
        if kind != "contact":
            return []
        entries = self._store.entries(principal.tenant_id, f"contact#{record_id}")
        if not entries:
            return []
        # Invoices the contact was erased from no longer need it (the erasure deletes it next).
        entries = [e for e in entries if record_id not in (e.get("erased_contact_ids") or [])]
        if not entries:
            return []
        client_readable = ClientReadability(self._parents, principal)

        def readable(entry: Entry) -> bool:
            creator = entry.get("created_by") or ""
            if principal.is_admin or principal.user_id == creator:
                return True
            return client_readable(entry.get("client_id") or "")

        numbers = sorted(str(e.get("number")) for e in entries if readable(e))
        hidden = len(entries) - len(numbers)
        listed = ", ".join(numbers[:GUARD_LISTED])
        more = len(numbers) - GUARD_LISTED
        parts = [listed] if listed else []
        if more > 0:
            parts.append(f"{more} more")
        if hidden:
            parts.append(f"{hidden} you cannot see")
        return [f"{len(entries)} invoice(s) name it ({'; '.join(parts)})"]

    def unlink_deal(self, tenant_id: str, deal_id: str) -> int:
        """Cascade of a deleted deal: its invoices stay, without the link. Idempotent."""
        moved = 0
        for entry in self._store.entries(tenant_id, f"deal#{deal_id}"):
            invoice = self._store.get(tenant_id, entry["rid"])
            if invoice is None or invoice.deal_id != deal_id:
                continue
            after = invoice.model_copy(update={"deal_id": None, "updated_at": self._clock(), "updated_by": "system"})
            self._store.update(invoice, after, by="system")
            moved += 1
        return moved

    # ---- erasure of a contact's personal data (GDPR, issue 18) ----

    def anonymise_contact(self, principal_or_tenant: Principal | str, contact_id: str) -> InvoiceErasureResult:
        """Keep the contact's invoices (kept by law) but replace its personal
        data on them (domain/invoices/erasure.py), in their change logs (also
        of deleted invoices) and mails; drop their rendered PDFs (the next
        ``GET .../pdf`` renders the anonymised one). Each invoice's write is
        logged as an erasure without the erased values. Admins (a Principal)
        or the system (a tenant id); idempotent: run it again after a failure.
        Call it before deleting the contact: the delete guard then lets it go."""
        if isinstance(principal_or_tenant, Principal):
            if not principal_or_tenant.is_admin:
                raise Forbidden("Only owners and admins erase a contact's personal data.")
            tenant_id, by = principal_or_tenant.tenant_id, principal_or_tenant.user_id
        else:
            tenant_id, by = principal_or_tenant, "system"
        result = InvoiceErasureResult()
        for entry in self._store.entries(tenant_id, f"contact#{contact_id}"):
            invoice_id = str(entry["rid"])
            found = self._erase_one(tenant_id, invoice_id, contact_id, by)
            if found is None:
                continue
            erasure, written = found
            (result.anonymised if written else result.already).append(invoice_id)
            self._store.scrub(tenant_id, invoice_id, erasure.values, mail_to=erasure.mail_to)
            if self._pdfs is not None:
                self._pdfs.forget(tenant_id, invoice_id)
                result.documents_dropped += 1
        # Invoices that named it once (deleted, or re-pointed while drafts): their change logs still do.
        for entry in self._store.formerly_naming(tenant_id, contact_id):
            values, mail_to = erased_values([str(entry["role"])])
            self._store.scrub(tenant_id, str(entry["rid"]), values, mail_to=mail_to)
            if entry["rid"] not in result.formerly:
                result.formerly.append(str(entry["rid"]))
        return result

    def _erase_one(self, tenant_id: str, invoice_id: str, contact_id: str, by: str) -> tuple[Erasure, bool] | None:
        """The erasure and whether it was written now (False: erased before),
        or None: the invoice is gone or names the contact no more."""
        for _ in range(MAX_NUMBER_ATTEMPTS):
            invoice = self._store.get(tenant_id, invoice_id)
            if invoice is None or contact_id not in invoice.contact_ids:
                return None
            now = self._clock()
            erasure = erase(invoice, contact_id, by=by, at=now)
            if contact_id in invoice.erased_contact_ids:
                return erasure, False
            change = erasure_entry(invoice, erasure, by=by, at=now)
            try:
                self._store.update(invoice, erasure.after, by=by, write=InvoiceWrite(change=change))
            except PreconditionFailed:
                continue  # changed meanwhile: erase from what it is now
            return erasure, True
        raise Conflict("The invoice keeps changing; please erase again.")

    # ---- rules ----

    def _access(self, principal: Principal, invoice: Invoice) -> InvoiceAccess:
        if principal.is_admin or principal.user_id == invoice.created_by:
            return InvoiceAccess(invoice.created_by or "", False)
        return InvoiceAccess(invoice.created_by or "", ClientReadability(self._parents, principal)(invoice.client_id))

    @staticmethod
    def _require_draft(invoice: Invoice, verb: str) -> None:
        if invoice.status != InvoiceStatus.DRAFT:
            raise Conflict(
                f"Only drafts can be {verb}; this invoice is {invoice.status.value} "
                "(PUT .../status moves it; rejected -> draft makes it editable again)."
            )

    def _queue_render(self, invoice: Invoice) -> None:
        self._documents.send({"kind": "invoices.render", "tenant_id": invoice.tenant_id, "invoice_id": invoice.id})

    def _visible_contact(self, principal: Principal, contact_id: str, field: str) -> Any:
        try:
            return self._contacts.get(principal, contact_id)
        except NotFound:
            raise _invalid(field, f"no such contact {contact_id}", "The contact does not exist.") from None

    def _apply(self, principal: Principal, invoice: Invoice, before: Invoice | None, fields: dict[str, Any]) -> Invoice:
        """The invoice with ``fields`` applied, every value checked; addresses
        default from the contacts, the currency from the client or the tenant."""
        update: dict[str, Any] = {}
        for name in ("issue_date", "due_date", "po_number", "terms", "notes", "language"):
            if name in fields:
                update[name] = fields[name] if fields[name] is not None else ("" if name != "language" else "en")
        for name in ("issue_date", "due_date"):
            if name in update and update[name] is None:
                raise _invalid(name, "may not be null")
        client_changed = before is None or ("client_id" in fields and fields["client_id"] != before.client_id)
        client = None
        if client_changed:
            client = self._visible_contact(principal, fields.get("client_id") or invoice.client_id, "client_id")
            update |= {"client_id": client.id, "client_name": client.display_name}
            if "billing_address" not in fields:
                update["billing_address"] = _address(client, ("billing", "work", "postal"))
        if "billing_address" in fields:
            update["billing_address"] = fields["billing_address"]
        consignee_id = fields.get("consignee_id", invoice.consignee_id)
        client_id = update.get("client_id", invoice.client_id)
        if consignee_id == client_id:
            consignee_id = None
        if "consignee_id" in fields or (before is None and consignee_id):
            if consignee_id and (before is None or consignee_id != before.consignee_id):
                consignee = self._visible_contact(principal, consignee_id, "consignee_id")
                update |= {"consignee_id": consignee.id, "consignee_name": consignee.display_name}
                if "delivery_address" not in fields:
                    update["delivery_address"] = _address(consignee, ("delivery", "work", "postal"))
            elif not consignee_id:
                update |= {"consignee_id": None, "consignee_name": None}
                if "delivery_address" not in fields:
                    update["delivery_address"] = None
        if "delivery_address" in fields:
            update["delivery_address"] = fields["delivery_address"]
        deal_id = fields.get("deal_id", invoice.deal_id)
        if deal_id and ("deal_id" in fields or client_changed):
            self._check_deal(principal, deal_id, client_id, before)
        if "deal_id" in fields:
            update["deal_id"] = fields["deal_id"]
        # Currency: the one sent, else (new invoices) the client's, else the tenant's.
        default_currency = self._money.get(principal).currency
        if "currency" in fields:
            update["currency"] = fields["currency"]
        elif before is None:
            update["currency"] = (client.currency if client is not None else None) or default_currency
        currency = update.get("currency", invoice.currency)
        rate = fields["exchange_rate"] if "exchange_rate" in fields else invoice.exchange_rate
        if currency == default_currency:
            if fields.get("exchange_rate"):
                raise _invalid("exchange_rate", f"only for a currency other than the default ({default_currency})")
            rate = None
        elif not rate:
            raise _invalid(
                "exchange_rate",
                f"required: {currency} is not the default currency ({default_currency}); "
                f"give the {default_currency} per 1 {currency}",
            )
        update |= {"exchange_rate": rate, "exchange_currency": default_currency if rate else None}
        if "lines" in fields or before is None:
            requests = [LineRequest.model_validate(line) for line in fields.get("lines") or []]
            update["lines"] = self._lines(principal, requests, currency)
        elif currency != invoice.currency:
            self._check_prices(update.get("lines", invoice.lines), currency)
        result = invoice.model_copy(update=update)
        if result.due_date < result.issue_date:
            raise _invalid("due_date", "must not be before the issue date")
        return result

    def _check_deal(self, principal: Principal, deal_id: str, client_id: str, before: Invoice | None) -> None:
        try:
            deal = self._deals.get(principal, deal_id)
        except NotFound:
            raise _invalid("deal_id", f"no such deal {deal_id}", "The deal does not exist.") from None
        if client_id not in deal.contact_ids:
            raise _invalid("deal_id", "the client is not the deal's contact or a member of it")

    def _lines(
        self, principal: Principal, requests: builtins.list[LineRequest], currency: str
    ) -> builtins.list[InvoiceLine]:
        product_ids = list(dict.fromkeys(r.product_id for r in requests if r.product_id))
        if len(product_ids) > MAX_PRODUCTS_PER_INVOICE:
            raise _invalid("lines", f"at most {MAX_PRODUCTS_PER_INVOICE} different products per invoice")
        products = self._catalogue.products_by_id(principal, product_ids)
        errors: builtins.list[FieldError] = []
        wanted_taxes: builtins.list[str] = []
        for index, request in enumerate(requests):
            product = products.get(request.product_id or "")
            if request.product_id and product is None:
                errors.append(FieldError(f"lines.{index}.product_id", f"no such product {request.product_id}"))
                continue
            if product is None and not request.title:
                errors.append(FieldError(f"lines.{index}.title", "required for a line without a product"))
            if product is None and request.price is None:
                errors.append(FieldError(f"lines.{index}.price", "required for a line without a product"))
            if product is not None and request.price is None and product.currency != currency:
                errors.append(
                    FieldError(
                        f"lines.{index}.price",
                        f"required: the product's price is in {product.currency}, not {currency}",
                    )
                )
            tax_ids = request.tax_ids if request.tax_ids is not None else (product.tax_ids if product else [])
            if len(set(tax_ids)) != len(tax_ids):
                errors.append(FieldError(f"lines.{index}.tax_ids", "names a tax twice"))
            wanted_taxes += tax_ids
        distinct_taxes = list(dict.fromkeys(wanted_taxes))
        if len(distinct_taxes) > MAX_TAXES_PER_INVOICE:
            errors.append(FieldError("lines", f"at most {MAX_TAXES_PER_INVOICE} different taxes per invoice"))
        taxes = self._catalogue.taxes_by_id(principal, distinct_taxes)
        errors += [FieldError("lines", f"no such tax {t}") for t in distinct_taxes if t not in taxes]
        if errors:
            raise ValidationFailed("Some invoice lines are invalid.", errors=errors)
        lines = []
        for request in requests:
            product = products.get(request.product_id or "")
            tax_ids = request.tax_ids if request.tax_ids is not None else (product.tax_ids if product else [])
            lines.append(
                InvoiceLine(
                    product_id=product.id if product else None,
                    title=request.title or (product.title if product else ""),
                    description=request.description
                    if request.description is not None
                    else ((product.description or "") if product else ""),
                    quantity=request.quantity,
                    price=request.price if request.price is not None else (product.price if product else "0"),
                    discount=request.discount,
                    taxes=[LineTax(tax_id=t, name=taxes[t].name, rate=taxes[t].rate) for t in tax_ids],
                )
            )
        self._check_prices(lines, currency)
        return lines

    @staticmethod
    def _check_prices(lines: builtins.list[InvoiceLine], currency: str) -> None:
        """Every figure must stay within what DynamoDB and the documents hold."""
        totals = compute_totals(
            [LineInput(Decimal(line.quantity), Decimal(line.price), Decimal(line.discount)) for line in lines],
            minor_units(currency),
        )
        if totals.net >= Decimal(10) ** 15:
            raise _invalid("lines", "the invoice total is too large")
