"""Invoices in the single table: the indexed store (storage/dynamo/indexed_store.py).

An invoice is ``T#t#INVOICE#<id>`` / ``META``; its PDF state and mails share
its item collection. Index entries: ``T#t#IX#<facet>`` with sk ``<issue
date>#<id>`` (newest first, issue_from/issue_to a key range on any facet) for
the facets all, status#<s>, contact#<id> (client and consignee: a contact's
invoices, and the contact delete guard), deal#<id> and currency#<code>; and
``due`` with sk ``<due date>#<id>`` (due_from/due_to a key range). Each
entry carries what the filters and the access policy read (created_by,
client_id, status, dates, currency, deal, number).

One transaction per write holds: the invoice, its entries, its change-log
entry, the use counters of its taxes and products, and as the write needs:
its number's marker and the counter move (INV-1), stock moves, a queued mail,
a history event (HIS-2), and a check that the contacts it names still exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from chalicelib.domain.invoices.erasure import scrubbed_changes
from chalicelib.domain.invoices.models import Invoice
from chalicelib.domain.invoices.ports import InvoiceWrite
from chalicelib.domain.records.changelog import ChangeEntry
from chalicelib.domain.records.history import HistoryEvent
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import FieldError, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.dynamo.table import Check, Put, SortKey, Update
from chalicelib.storage.invoices.catalogue import stock_ops, usage_ops
from chalicelib.storage.invoices.settings import claim_ops
from chalicelib.storage.records.changelog import change_entry_op, change_ops
from chalicelib.storage.records.history import event_op


def facets(invoice: Invoice) -> list[str]:
    names = ["all", f"status#{invoice.status.value}", f"currency#{invoice.currency}"]
    names += [f"contact#{c}" for c in invoice.contact_ids]
    if invoice.deal_id:
        names.append(f"deal#{invoice.deal_id}")
    return names


def merge_counter_updates(ops: list[Any]) -> list[Any]:
    """Counter updates (ADD only, unversioned) of the same item as one update."""
    merged: list[Any] = []
    seen: dict[tuple[str, str], Update] = {}
    for op in ops:
        if isinstance(op, Update) and not op.set and not op.bump_version and op.require is None:
            key = (op.key["pk"], op.key["sk"])
            if key in seen:
                first = seen[key]
                first.add = {**first.add, **op.add}
                first.must_exist = first.must_exist or op.must_exist
                first.on_conflict = first.on_conflict or op.on_conflict
                continue
            seen[key] = op
        merged.append(op)
    return merged


def _logged(invoice: Invoice | None) -> dict[str, Any] | None:
    return invoice.model_dump(mode="json", exclude={"tenant_id"}) if invoice else None


# The change-log entry of the write under way instead of its diff (an
# erasure's diff would log the erased values); per thread, as side_ops
# runs inside IndexedStore.update.
_CHANGE_INSTEAD: ContextVar[ChangeEntry | None] = ContextVar("invoice_change_instead", default=None)
# Items per transaction when an erasure rewrites change-log entries and mails.
SCRUB_BATCH = 25


class InvoiceStore(IndexedStore[Invoice]):
    kind = "invoice"
    model = Invoice

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.invoice(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.invoice_facet(tenant_id, name)

    def index_entries(self, invoice: Invoice) -> dict[EntryKey, Item]:
        attributes: Item = {
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
        sk = keys.invoice_by_issue(invoice.issue_date.isoformat(), invoice.id)
        entries: dict[EntryKey, Item] = {}
        for name in facets(invoice):
            pk = self.facet(invoice.tenant_id, name)
            entries[(pk, sk)] = {"pk": pk, "sk": sk, **attributes}
        # due_from/due_to: a key range on the facet sorted by due date.
        pk, sk = self.facet(invoice.tenant_id, "due"), keys.invoice_by_issue(invoice.due_date.isoformat(), invoice.id)
        entries[(pk, sk)] = {"pk": pk, "sk": sk, **attributes}
        return entries

    def side_ops(self, before: Invoice | None, after: Invoice | None, *, by: str | None, at: Any) -> list[Any]:
        invoice = after or before
        assert invoice is not None
        tenant = invoice.tenant_id
        instead = _CHANGE_INSTEAD.get()
        logged = (
            [change_entry_op(tenant, instead)]
            if instead is not None
            else change_ops(tenant, "invoice", invoice.id, _logged(before), _logged(after), by=by, at=at)
        )
        formerly = []
        if before is not None:
            still = set(after.contact_ids) if after is not None else set()
            roles = {"client": before.client_id, "consignee": before.consignee_id}
            for role, contact_id in roles.items():
                if contact_id and contact_id not in still:
                    # Its change log still names the contact: an erasure must find it (keys.py).
                    pk, sk = (
                        keys.invoice_formerly_naming(tenant, contact_id),
                        keys.invoice_formerly_entry(before.id, role),
                    )
                    formerly.append(Put({"pk": pk, "sk": sk, "rid": before.id, "role": role}, must_not_exist=False))
        return [
            *logged,
            *formerly,
            *usage_ops(tenant, "tax", before.tax_ids if before else [], after.tax_ids if after else []),
            *usage_ops(tenant, "product", before.product_ids if before else [], after.product_ids if after else []),
        ]

    def _write_ops(self, before: Invoice | None, after: Invoice, write: InvoiceWrite | None) -> list[Any]:
        ops: list[Any] = []
        if write is None:
            return ops
        if write.claim is not None:
            ops += claim_ops(after.tenant_id, after.id, write.claim)
        ops += stock_ops(after.tenant_id, write.stock)
        if write.mail is not None:
            ops.append(Put({**dict(write.mail), **keys.invoice_mail(after.tenant_id, after.id, write.mail["id"])}))
        if write.history is not None:
            ops.append(event_op(write.history))
        return ops

    def _contact_checks(self, before: Invoice | None, after: Invoice) -> list[Check]:
        """Contacts newly named must still exist (a contact deleted meanwhile)."""
        known = set(before.contact_ids) if before else set()
        return [
            Check(
                keys.contact(after.tenant_id, contact_id),
                "attribute_exists(pk)",
                on_conflict=ValidationFailed(
                    "The contact does not exist.",
                    errors=[
                        FieldError("client_id" if contact_id == after.client_id else "consignee_id", "no such contact")
                    ],
                ),
            )
            for contact_id in after.contact_ids
            if contact_id not in known
        ]

    def create(self, record: Invoice, *, by: str | None, extra: Any = (), write: InvoiceWrite | None = None) -> Invoice:  # type: ignore[override]
        ops = [*self._write_ops(None, record, write), *self._contact_checks(None, record), *extra]
        return super().create(record, by=by, extra=ops)

    def update(  # type: ignore[override]
        self, before: Invoice, after: Invoice, *, by: str | None, extra: Any = (), write: InvoiceWrite | None = None
    ) -> Invoice:
        ops = [*self._write_ops(before, after, write), *self._contact_checks(before, after), *extra]
        token = _CHANGE_INSTEAD.set(write.change if write is not None else None)
        try:
            return super().update(before, after, by=by, extra=ops)
        finally:
            _CHANGE_INSTEAD.reset(token)

    def delete(  # type: ignore[override]
        self, record: Invoice, *, by: str | None, at: Any, extra: Any = (), write: InvoiceWrite | None = None
    ) -> None:
        self._stock_on_delete = dict(write.stock) if write else {}
        try:
            super().delete(record, by=by, at=at, extra=extra)
        finally:
            self._stock_on_delete = {}

    _stock_on_delete: dict[str, Any] = {}

    def _record_ops(self, before: Invoice | None, after: Invoice | None, by: str | None, at: Any) -> list[Any]:
        ops = super()._record_ops(before, after, by, at)
        if after is None and self._stock_on_delete:
            # A deleted invoice gives its products' stock back and stops using them:
            # one update per product (a transaction touches an item once).
            ops = merge_counter_updates([*ops, *stock_ops(before.tenant_id, self._stock_on_delete)])  # type: ignore[union-attr]
        return ops

    def query(  # type: ignore[override]
        self,
        tenant_id: str,
        facet: str,
        page: PageRequest,
        *,
        sort_range: tuple[str, str] | None = None,
        visible: Callable[[Item], bool],
    ) -> Slice[Invoice]:
        low, high = sort_range or ("0", "9999-12-31#~")
        low = low or "0"  # DynamoDB refuses an empty key value; every date sorts after "0"
        return super().query(
            tenant_id, facet, page, sort=SortKey.between(low, high), newest_first=True, visible=visible
        )

    def mail(self, tenant_id: str, invoice_id: str, mail_id: str) -> dict[str, Any] | None:
        return self._table.get(keys.invoice_mail(tenant_id, invoice_id, mail_id), consistent=True)

    def mail_sent(self, tenant_id: str, invoice_id: str, mail_id: str, *, at: datetime, history: HistoryEvent) -> bool:
        from chalicelib.domain.shared.errors import Conflict

        try:
            self._table.transact(
                [
                    Update(
                        keys.invoice_mail(tenant_id, invoice_id, mail_id),
                        set={"status": "sent", "sent_at": iso(at), "history_event_id": history.id},
                        bump_version=False,
                        require=("status", "=", "queued"),
                        on_conflict=Conflict("The mail was sent already."),
                    ),
                    event_op(history),
                ]
            )
        except Conflict:
            return False
        return True

    # ---- erasure (GDPR) ----

    def scrub(self, tenant_id: str, invoice_id: str, values: Mapping[str, Any], *, mail_to: str | None) -> int:
        puts: list[Any] = []
        for item in self._all(keys.change_log(tenant_id, "invoice", invoice_id), keys.CHANGE_PREFIX):
            changes = scrubbed_changes(json.loads(item.get("changes") or "[]"), values)
            if changes is not None:
                text = json.dumps(changes, separators=(",", ":"), ensure_ascii=False)
                puts.append(Put({**item, "changes": text}, must_not_exist=False))
        if mail_to is not None:
            for item in self._all(keys.invoice(tenant_id, invoice_id)["pk"], keys.MAIL_PREFIX):
                if item.get("to") != mail_to:
                    puts.append(Put({**item, "to": mail_to}, must_not_exist=False))
        for start in range(0, len(puts), SCRUB_BATCH):
            self._table.transact(puts[start : start + SCRUB_BATCH])
        return len(puts)

    def formerly_naming(self, tenant_id: str, contact_id: str) -> list[dict[str, Any]]:
        found = self._all(keys.invoice_formerly_naming(tenant_id, contact_id), keys.FORMERLY_PREFIX)
        return [{"rid": e["rid"], "role": e["role"]} for e in found]

    def _all(self, partition: str, prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = None
        while True:
            page = self._table.query(
                partition, sort=SortKey.begins_with(prefix), page=PageRequest(limit=200, after=after), consistent=True
            )
            found += page.items
            if page.after is None:
                return found
            after = page.after
