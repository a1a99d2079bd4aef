"""In-memory twins of the invoice ports (domain/invoices/ports.py) for unit
tests: the same rules as the DynamoDB adapters (storage/invoices/*), held to
the same contract tests (tests/contract/test_invoice_stores.py).

One ``InvoiceDb`` holds everything an invoice's transaction touches (the
invoice, its number's marker, the counter, tax and product counters, stock,
mails, history events) behind one lock, so each write is all or nothing and
the stores are safe to call from many threads at once (the numbering test
does). Conditions are checked before anything changes, like a transaction.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.invoices.erasure import scrubbed_changes
from chalicelib.domain.invoices.models import Invoice, InvoiceSettings, Product, Tax
from chalicelib.domain.invoices.ports import Attachment, CounterMoved, InvoiceWrite, NumberTaken
from chalicelib.domain.records.changelog import ChangeEntry, FieldChange, change_entry
from chalicelib.domain.records.history import HistoryEvent
from chalicelib.domain.shared.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice

Entry = dict[str, Any]


@dataclass
class InvoiceDb:
    lock: threading.RLock = field(default_factory=threading.RLock)
    invoices: dict[tuple[str, str], Invoice] = field(default_factory=dict)
    markers: dict[tuple[str, str], str] = field(default_factory=dict)  # (tenant, number) -> invoice id
    counters: dict[str, int] = field(default_factory=dict)
    taxes: dict[tuple[str, str], Tax] = field(default_factory=dict)
    products: dict[tuple[str, str], Product] = field(default_factory=dict)
    mails: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    history: list[HistoryEvent] = field(default_factory=list)
    changes: list[ChangeEntry] = field(default_factory=list)
    # (tenant, contact id) -> {(invoice id, role)}: invoices that named it and no longer do
    formerly_naming: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=dict)
    settings: dict[str, InvoiceSettings] = field(default_factory=dict)
    # (tenant, contact id) -> exists; None: every contact exists
    contact_exists: Callable[[str, str], bool] | None = None


def _entry(invoice: Invoice) -> Entry:
    return {
        "rid": invoice.id,
        "number": invoice.number,
        "status": invoice.status.value,
        "created_by": invoice.created_by,
        "client_id": invoice.client_id,
        "contact_ids": invoice.contact_ids,
        "deal_id": invoice.deal_id,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "erased_contact_ids": invoice.erased_contact_ids,
    }


def _facets(invoice: Invoice) -> list[str]:
    names = ["all", f"status#{invoice.status.value}", f"currency#{invoice.currency}"]
    names += [f"contact#{c}" for c in invoice.contact_ids]
    if invoice.deal_id:
        names.append(f"deal#{invoice.deal_id}")
    return names


class MemoryInvoiceStore:
    def __init__(self, db: InvoiceDb | None = None):
        self.db = db or InvoiceDb()

    def get(self, tenant_id: str, invoice_id: str) -> Invoice | None:
        with self.db.lock:
            found = self.db.invoices.get((tenant_id, invoice_id))
            return found.model_copy(deep=True) if found else None

    # ---- writes: check every condition, then change everything ----

    def _check(self, before: Invoice | None, after: Invoice, write: InvoiceWrite | None) -> None:
        db, tenant = self.db, after.tenant_id
        if write is not None and write.claim is not None:
            if (tenant, write.claim.number) in db.markers:
                raise NumberTaken(write.claim.number)
            if write.claim.counter_from is not None and db.counters.get(tenant, 1) != write.claim.counter_from:
                raise CounterMoved()
        known = set(before.contact_ids) if before else set()
        for contact_id in after.contact_ids:
            if contact_id not in known and db.contact_exists and not db.contact_exists(tenant, contact_id):
                raise ValidationFailed(
                    "The contact does not exist.", errors=[FieldError("client_id", "no such contact")]
                )
        for kind, ids, table in (("tax", after.tax_ids, db.taxes), ("product", after.product_ids, db.products)):
            old = set((before.tax_ids if kind == "tax" else before.product_ids) if before else [])
            for item_id in ids:
                if item_id not in old and (tenant, item_id) not in table:
                    raise ValidationFailed(
                        f"The {kind} no longer exists.", errors=[FieldError("lines", f"no such {kind} {item_id}")]
                    )

    def _apply(
        self, before: Invoice | None, after: Invoice | None, write: InvoiceWrite | None, by: str | None, at: datetime
    ) -> None:
        db = self.db
        invoice = after or before
        assert invoice is not None
        tenant = invoice.tenant_id
        if write is not None:
            if write.claim is not None:
                db.markers[(tenant, write.claim.number)] = invoice.id
                if write.claim.counter_from is not None:
                    db.counters[tenant] = write.claim.counter_from + 1
            for product_id, delta in write.stock.items():
                product = db.products.get((tenant, product_id))
                if product is not None and delta:
                    db.products[(tenant, product_id)] = product.model_copy(
                        update={"stock": (product.stock or Decimal(0)) + delta}
                    )
            if write.mail is not None:
                db.mails[(tenant, invoice.id, write.mail["id"])] = dict(write.mail)
            if write.history is not None:
                db.history.append(write.history)
        for kind, table in (("tax", db.taxes), ("product", db.products)):
            old = set((before.tax_ids if kind == "tax" else before.product_ids) if before else [])
            new = set((after.tax_ids if kind == "tax" else after.product_ids) if after else [])
            for item_id, delta in [(i, 1) for i in new - old] + [(i, -1) for i in old - new]:
                item = table.get((tenant, item_id))
                if item is not None:
                    table[(tenant, item_id)] = item.model_copy(update={"in_use": item.in_use + delta})  # type: ignore[index]
        logged = [i.model_dump(mode="json", exclude={"tenant_id"}) if i else None for i in (before, after)]
        if write is not None and write.change is not None:
            entry: ChangeEntry | None = write.change
        else:
            entry = change_entry("invoice", invoice.id, logged[0], logged[1], by=by, at=at)
        if entry is not None:
            db.changes.append(entry)
        if before is not None:
            still = set(after.contact_ids) if after is not None else set()
            for role, contact_id in (("client", before.client_id), ("consignee", before.consignee_id)):
                if contact_id and contact_id not in still:
                    db.formerly_naming.setdefault((tenant, contact_id), set()).add((before.id, role))
        if after is None:
            db.invoices.pop((tenant, invoice.id), None)
        else:
            db.invoices[(tenant, invoice.id)] = after

    def create(self, invoice: Invoice, *, by: str, write: InvoiceWrite) -> Invoice:
        with self.db.lock:
            if (invoice.tenant_id, invoice.id) in self.db.invoices:
                raise Conflict("The invoice already exists.")
            self._check(None, invoice, write)
            self._apply(None, invoice, write, by, invoice.updated_at)
        return invoice.model_copy(deep=True)

    def update(self, before: Invoice, after: Invoice, *, by: str, write: InvoiceWrite | None = None) -> Invoice:
        with self.db.lock:
            current = self.db.invoices.get((before.tenant_id, before.id))
            if current is None or current.version != before.version:
                raise PreconditionFailed("The invoice changed since it was read; reload it and apply the change again.")
            self._check(before, after, write)
            saved = after.model_copy(update={"version": before.version + 1})
            self._apply(before, saved, write, by, after.updated_at)
        return saved.model_copy(deep=True)

    def delete(self, invoice: Invoice, *, by: str, at: datetime, write: InvoiceWrite | None = None) -> None:
        with self.db.lock:
            current = self.db.invoices.get((invoice.tenant_id, invoice.id))
            if current is None or current.version != invoice.version:
                raise PreconditionFailed("The invoice changed since it was read; reload it and apply the change again.")
            self._apply(invoice, None, write, by, at)

    # ---- reading lists ----

    def _all_entries(self, tenant_id: str, facet: str) -> list[Entry]:
        """Newest first by the facet's sort key: the due date for ``due``, else the issue date."""
        by = "due_date" if facet == "due" else "issue_date"
        with self.db.lock:
            found = [
                i
                for (t, _), i in self.db.invoices.items()
                if t == tenant_id and (facet == "due" or facet in _facets(i))
            ]
        entries = [{**_entry(i), "sk": f"{getattr(i, by).isoformat()}#{i.id}"} for i in found]
        return sorted(entries, key=lambda e: e["sk"], reverse=True)

    def query(
        self,
        tenant_id: str,
        facet: str,
        page: PageRequest,
        *,
        sort_range: tuple[str, str] | None,
        visible: Callable[[Entry], bool],
    ) -> Slice[Invoice]:
        low, high = sort_range or ("0", "9999-12-31#~")
        low = low or "0"  # DynamoDB refuses an empty key value; every date sorts after "0"
        entries = [e for e in self._all_entries(tenant_id, facet) if low <= e["sk"] <= high]
        start = 0
        if page.after:
            start = next((n for n, e in enumerate(entries) if e["sk"] < page.after["sk"]), len(entries))
        chosen: list[Entry] = []
        position = start
        for position in range(start, len(entries)):
            if visible(entries[position]):
                chosen.append(entries[position])
                if len(chosen) == page.limit:
                    break
        more = len(chosen) == page.limit and position < len(entries) - 1
        after = {"sk": chosen[-1]["sk"]} if more and chosen else None
        invoices = [self.get(tenant_id, e["rid"]) for e in chosen]
        return Slice([i for i in invoices if i is not None], after)

    def entries(self, tenant_id: str, facet: str) -> list[Entry]:
        return self._all_entries(tenant_id, facet)

    # ---- mails ----

    def mail(self, tenant_id: str, invoice_id: str, mail_id: str) -> dict[str, Any] | None:
        with self.db.lock:
            found = self.db.mails.get((tenant_id, invoice_id, mail_id))
            return dict(found) if found else None

    def mail_sent(self, tenant_id: str, invoice_id: str, mail_id: str, *, at: datetime, history: HistoryEvent) -> bool:
        with self.db.lock:
            mail = self.db.mails.get((tenant_id, invoice_id, mail_id))
            if mail is None or mail.get("status") != "queued":
                return False
            mail.update({"status": "sent", "sent_at": at.isoformat(), "history_event_id": history.id})
            self.db.history.append(history)
            return True

    # ---- erasure (GDPR) ----

    def scrub(self, tenant_id: str, invoice_id: str, values: Mapping[str, Any], *, mail_to: str | None) -> int:
        rewritten = 0
        with self.db.lock:
            for index, entry in enumerate(self.db.changes):
                if entry.entity != "invoice" or entry.record_id != invoice_id:
                    continue
                changes = scrubbed_changes([c.model_dump(mode="json") for c in entry.changes], values)
                if changes is not None:
                    self.db.changes[index] = entry.model_copy(
                        update={"changes": [FieldChange.model_validate(c) for c in changes]}
                    )
                    rewritten += 1
            for (tenant, invoice, _), mail in self.db.mails.items():
                if (tenant, invoice) == (tenant_id, invoice_id) and mail_to is not None and mail.get("to") != mail_to:
                    mail["to"] = mail_to
                    rewritten += 1
        return rewritten

    def formerly_naming(self, tenant_id: str, contact_id: str) -> list[Entry]:
        with self.db.lock:
            found = sorted(self.db.formerly_naming.get((tenant_id, contact_id), set()))
        return [{"rid": rid, "role": role} for rid, role in found]

    # ---- the change log (the ChangeLogStore port) ----

    def list_changes(self, tenant_id: str, entity: str, record_id: str, page: PageRequest) -> Slice[ChangeEntry]:
        with self.db.lock:
            found = [c for c in self.db.changes if c.entity == entity and c.record_id == record_id]
        return Slice(list(reversed(found))[: page.limit], None)


class MemoryTaxStore:
    def __init__(self, db: InvoiceDb):
        self.db = db

    def list(self, tenant_id: str) -> list[Tax]:
        with self.db.lock:
            return [t for (tenant, _), t in self.db.taxes.items() if tenant == tenant_id]

    def get(self, tenant_id: str, tax_id: str) -> Tax | None:
        with self.db.lock:
            return self.db.taxes.get((tenant_id, tax_id))

    def get_many(self, tenant_id: str, tax_ids: list[str]) -> list[Tax]:
        return [t for t in (self.get(tenant_id, i) for i in tax_ids) if t is not None]

    def create(self, tax: Tax) -> Tax:
        with self.db.lock:
            self.db.taxes[(tax.tenant_id, tax.id)] = tax
        return tax

    def update(self, before: Tax, after: Tax) -> Tax:
        with self.db.lock:
            current = self.db.taxes.get((before.tenant_id, before.id))
            if current is None or current.version != before.version:
                raise PreconditionFailed("The tax changed since it was read; reload it.")
            saved = after.model_copy(update={"version": before.version + 1, "in_use": current.in_use})
            self.db.taxes[(before.tenant_id, before.id)] = saved
        return saved

    def delete(self, tax: Tax) -> None:
        with self.db.lock:
            current = self.db.taxes.get((tax.tenant_id, tax.id))
            if current is None:
                return
            if current.in_use > 0:
                raise Conflict(f"The tax is used by {current.in_use} invoice(s); it cannot be deleted.")
            del self.db.taxes[(tax.tenant_id, tax.id)]


class MemoryProductStore:
    def __init__(self, db: InvoiceDb):
        self.db = db

    def list(
        self, tenant_id: str, page: PageRequest, *, visible: Callable[[Product], bool] | None = None
    ) -> Slice[Product]:
        with self.db.lock:
            found = sorted((p for (t, _), p in self.db.products.items() if t == tenant_id), key=lambda p: p.id)
        if page.after:
            found = [p for p in found if p.id > page.after["id"]]
        chosen = [p for p in found if visible is None or visible(p)]
        more = len(chosen) > page.limit
        chosen = chosen[: page.limit]
        return Slice(chosen, {"id": chosen[-1].id} if more else None)

    def get(self, tenant_id: str, product_id: str) -> Product | None:
        with self.db.lock:
            return self.db.products.get((tenant_id, product_id))

    def get_many(self, tenant_id: str, product_ids: list[str]) -> list[Product]:
        return [p for p in (self.get(tenant_id, i) for i in product_ids) if p is not None]

    def create(self, product: Product) -> Product:
        with self.db.lock:
            self.db.products[(product.tenant_id, product.id)] = product
        return product

    def update(self, before: Product, changes: Mapping[str, Any], *, at: datetime, by: str) -> Product:
        with self.db.lock:
            current = self.db.products.get((before.tenant_id, before.id))
            if current is None or current.version != before.version:
                raise PreconditionFailed("The product changed since it was read; reload it.")
            values = {k: (Decimal(v) if k == "stock" and v is not None else v) for k, v in changes.items()}
            saved = current.model_copy(
                update={**values, "version": current.version + 1, "updated_at": at, "updated_by": by}
            )
            self.db.products[(before.tenant_id, before.id)] = saved
        return saved

    def delete(self, product: Product) -> None:
        with self.db.lock:
            current = self.db.products.get((product.tenant_id, product.id))
            if current is None:
                return
            if current.in_use > 0:
                raise Conflict(f"The product is used by {current.in_use} invoice(s); it cannot be deleted.")
            del self.db.products[(product.tenant_id, product.id)]


class MemoryInvoiceSettingsStore:
    def __init__(self, db: InvoiceDb):
        self.db = db

    def get(self, tenant_id: str) -> InvoiceSettings | None:
        with self.db.lock:
            return self.db.settings.get(tenant_id)

    def save(self, tenant_id: str, settings: InvoiceSettings, *, expected_version: int | None) -> InvoiceSettings:
        with self.db.lock:
            current = self.db.settings.get(tenant_id)
            if (current.version if current else None) != expected_version:
                raise PreconditionFailed("The invoice settings changed since they were read; reload them.")
            saved = settings.model_copy(update={"version": (expected_version or 0) + 1})
            self.db.settings[tenant_id] = saved
        return saved

    def next_number(self, tenant_id: str) -> int:
        with self.db.lock:
            return self.db.counters.get(tenant_id, 1)

    def set_next_number(self, tenant_id: str, number: int) -> None:
        with self.db.lock:
            self.db.counters[tenant_id] = number

    def skip_number(self, tenant_id: str, number: int) -> None:
        with self.db.lock:
            if self.db.counters.get(tenant_id, 1) == number:
                self.db.counters[tenant_id] = number + 1


class MemoryDocumentStore:
    def __init__(self, db: InvoiceDb | None = None):
        self.db = db or InvoiceDb()
        self.states: dict[tuple[str, str], dict[str, Any]] = {}
        self.objects: dict[str, bytes] = {}

    def state(self, tenant_id: str, invoice_id: str) -> dict[str, Any] | None:
        found = self.states.get((tenant_id, invoice_id))
        return dict(found) if found else None

    def request(self, tenant_id: str, invoice_id: str, digest: str, at: datetime) -> None:
        state = self.states.setdefault((tenant_id, invoice_id), {})
        state.update({"requested_digest": digest, "requested_at": at.isoformat()})

    def save(self, tenant_id: str, invoice_id: str, digest: str, pdf: bytes, *, at: datetime, e_invoice: bool) -> None:
        with self.db.lock:
            if (tenant_id, invoice_id) not in self.db.invoices:
                raise NotFound("The invoice does not exist.")
            key = f"t/{tenant_id}/invoices/{invoice_id}/{digest[:32]}.pdf"
            old = (self.states.get((tenant_id, invoice_id)) or {}).get("object_key")
            self.objects[key] = pdf
            state = self.states.setdefault((tenant_id, invoice_id), {})
            state.update({"digest": digest, "object_key": key, "e_invoice": e_invoice, "rendered_at": at.isoformat()})
            if old and old != key:
                self.objects.pop(old, None)

    def pdf(self, tenant_id: str, invoice_id: str) -> bytes:
        state = self.states.get((tenant_id, invoice_id)) or {}
        if "object_key" not in state:
            raise NotFound("The invoice has no PDF yet.")
        return self.objects[state["object_key"]]

    def download_url(self, tenant_id: str, invoice_id: str, *, filename: str, seconds: int) -> str:
        state = self.states.get((tenant_id, invoice_id)) or {}
        if "object_key" not in state:
            raise NotFound("The invoice has no PDF yet.")
        return f"memory://{state['object_key']}?filename={filename}&expires={seconds}"

    def forget(self, tenant_id: str, invoice_id: str) -> None:
        state = self.states.pop((tenant_id, invoice_id), None) or {}
        self.objects.pop(state.get("object_key", ""), None)


class MemoryLogoBlobs:
    def __init__(self) -> None:
        self.logos: dict[str, tuple[bytes, str]] = {}

    def put(self, tenant_id: str, data: bytes, content_type: str) -> None:
        self.logos[tenant_id] = (data, content_type)

    def get(self, tenant_id: str) -> tuple[bytes, str]:
        if tenant_id not in self.logos:
            raise NotFound("The file does not exist.")
        return self.logos[tenant_id]

    def delete(self, tenant_id: str) -> None:
        self.logos.pop(tenant_id, None)

    def download_url(self, tenant_id: str, seconds: int) -> str:
        return f"memory://logo/{tenant_id}?expires={seconds}"


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None:
        self.messages.append(copy.deepcopy(dict(message)))

    def send_many(self, messages: Any) -> None:
        for message in messages:
            self.send(message)


@dataclass
class SentMail:
    to: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...]


class MemoryMailer:
    def __init__(self) -> None:
        self.sent: list[SentMail] = []

    def send(self, *, to: str, subject: str, text: str, attachments: tuple[Attachment, ...] = ()) -> None:
        self.sent.append(SentMail(to, subject, text, tuple(attachments)))
