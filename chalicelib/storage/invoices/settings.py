"""The invoice settings item (company profile, SET-11) and the invoice
number counter (INV-1) in the single table.

The counter is its own item (``T#t#INVCOUNTER``) holding ``next``: the
invoice's transaction moves it from the value read to one past it
(``claim_ops``), next to the number's marker, so the counter moves exactly
when an invoice with that number is written.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.invoices.models import InvoiceSettings
from chalicelib.domain.invoices.ports import CounterMoved, NumberClaim, NumberTaken
from chalicelib.domain.shared.errors import Conflict, PreconditionFailed
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Put, Table, Update


def claim_ops(tenant_id: str, invoice_id: str, claim: NumberClaim) -> list[Any]:
    """The number's marker and, for an automatic number, the counter move."""
    ops: list[Any] = [
        Put(
            {**keys.invoice_number_marker(tenant_id, claim.number), "invoice_id": invoice_id, "number": claim.number},
            on_conflict=NumberTaken(claim.number),
        )
    ]
    if claim.counter_from is not None:
        ops.append(counter_op(tenant_id, claim.counter_from))
    return ops


def counter_op(tenant_id: str, start: int) -> Update:
    """The counter from ``start`` to ``start + 1``; CounterMoved when it is elsewhere."""
    return Update(
        keys.invoice_counter(tenant_id),
        set={"next": start + 1},
        bump_version=False,
        require=("next", "=", start),
        on_conflict=CounterMoved(),
    )


class InvoiceSettingsStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def get(self, tenant_id: str) -> InvoiceSettings | None:
        item = self._table.get(keys.invoice_settings(tenant_id), consistent=True)
        return InvoiceSettings.model_validate(item) if item else None

    def save(self, tenant_id: str, settings: InvoiceSettings, *, expected_version: int | None) -> InvoiceSettings:
        item = {**settings.model_dump(mode="json", exclude={"version"}), **keys.invoice_settings(tenant_id)}
        stale = PreconditionFailed("The invoice settings changed since they were read; reload them.")
        if expected_version is None:
            self._table.transact([Put({**item, "version": 1}, on_conflict=stale)])
            return settings.model_copy(update={"version": 1})
        changes = {k: v for k, v in item.items() if k not in ("pk", "sk")}
        changes.update({k: None for k in InvoiceSettings.model_fields if k not in changes and k != "version"})
        self._table.transact(
            [
                Update(
                    keys.invoice_settings(tenant_id),
                    set=changes,
                    expected_version=expected_version,
                    on_conflict=stale,
                )
            ]
        )
        return settings.model_copy(update={"version": expected_version + 1})

    def next_number(self, tenant_id: str) -> int:
        item = self._table.get(keys.invoice_counter(tenant_id), consistent=True)
        if item is not None:
            return int(item["next"])
        # A tenant's first number: the counter item is created at 1 (once; a
        # racing creator finds it), so every claim can be conditioned on its value.
        try:
            self._table.create({**keys.invoice_counter(tenant_id), "next": 1})
        except Conflict:
            pass
        return self.next_number(tenant_id)

    def set_next_number(self, tenant_id: str, number: int) -> None:
        self._table.update(keys.invoice_counter(tenant_id), set={"next": number}, bump_version=False, must_exist=False)

    def skip_number(self, tenant_id: str, number: int) -> None:
        try:
            self._table.transact([counter_op(tenant_id, number)])
        except CounterMoved:
            pass  # moved meanwhile: past the number already
