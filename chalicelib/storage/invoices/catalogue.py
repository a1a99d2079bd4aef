"""Taxes (SET-6) and products (SET-5) in the single table.

A tenant's taxes are one partition (``T#t#TAXES``, small: read whole), its
products another (``T#t#PRODUCTS``, paged by creation). Each carries
``in_use``: the invoices using it, moved in every invoice's transaction
(``usage_ops``); a delete is conditioned on it being 0, so an invoice that
starts using a tax while it is being deleted makes one of the two fail.
A product's ``stock`` is a DynamoDB number moved by ADD at billing and
rejection (``stock_ops``); a change of the product writes only the fields
it changes, so it never overwrites such a move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.invoices.models import Product, Tax
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict, FieldError, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import SortKey, Table, Update

_ALL = PageRequest(limit=200)


def usage_ops(tenant_id: str, kind: str, old: list[str], new: list[str]) -> list[Update]:
    """The use counters of the taxes (``kind`` "tax") or products an
    invoice stops and starts using; a newly used one must still exist."""
    key = keys.tax if kind == "tax" else keys.product
    gone, came = set(old) - set(new), [i for i in new if i not in set(old)]
    ops = [
        Update(
            key(tenant_id, item_id),
            add={"in_use": 1},
            bump_version=False,
            on_conflict=ValidationFailed(
                f"The {kind} no longer exists.", errors=[FieldError("lines", f"no such {kind} {item_id}")]
            ),
        )
        for item_id in came
    ]
    ops += [
        Update(
            key(tenant_id, item_id),
            add={"in_use": -1},
            bump_version=False,
            on_conflict=Conflict(f"The {kind} {item_id} no longer exists."),
        )
        for item_id in sorted(gone)
    ]
    return ops


def stock_ops(tenant_id: str, moves: Mapping[str, Decimal]) -> list[Update]:
    """Stock moves of products that still exist (a deleted product has no stock to move)."""
    return [
        Update(keys.product(tenant_id, product_id), add={"stock": delta}, bump_version=False, must_exist=False)
        for product_id, delta in sorted(moves.items())
        if delta
    ]


def _tax(item: Mapping[str, Any]) -> Tax:
    return Tax.model_validate(item)


class TaxStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def list(self, tenant_id: str) -> list[Tax]:
        found, after = [], None
        while True:
            page = self._table.query(
                keys.taxes(tenant_id),
                sort=SortKey.begins_with(keys.TAX_PREFIX),
                page=PageRequest(limit=200, after=after),
                consistent=True,
            )
            found += [_tax(i) for i in page.items]
            if page.after is None:
                return found
            after = page.after

    def get(self, tenant_id: str, tax_id: str) -> Tax | None:
        item = self._table.get(keys.tax(tenant_id, tax_id), consistent=True)
        return _tax(item) if item else None

    def get_many(self, tenant_id: str, tax_ids: list[str]) -> list[Tax]:
        return [_tax(i) for i in self._table.get_many((keys.tax(tenant_id, t) for t in tax_ids), consistent=True)]

    def create(self, tax: Tax) -> Tax:
        self._table.create({**tax.model_dump(mode="json"), **keys.tax(tax.tenant_id, tax.id)})
        return tax

    def update(self, before: Tax, after: Tax) -> Tax:
        self._table.transact(
            [
                Update(
                    keys.tax(after.tenant_id, after.id),
                    set={
                        "name": after.name,
                        "rate": after.rate,
                        "updated_at": iso(after.updated_at),
                        "updated_by": after.updated_by,
                    },
                    expected_version=before.version,
                    on_conflict=PreconditionFailed("The tax changed since it was read; reload it."),
                )
            ]
        )
        return after.model_copy(update={"version": before.version + 1})

    def delete(self, tax: Tax) -> None:
        deleted = self._table.delete_if(keys.tax(tax.tenant_id, tax.id), "in_use", "<=", 0)
        if not deleted:
            current = self.get(tax.tenant_id, tax.id)
            if current is None:
                return
            raise Conflict(f"The tax is used by {current.in_use} invoice(s); it cannot be deleted.")


def _product(item: Mapping[str, Any]) -> Product:
    return Product.model_validate(item)


class ProductStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def _item(self, product: Product) -> dict[str, Any]:
        item = product.model_dump(mode="json")
        item["stock"] = product.stock  # a number: billing moves it with ADD
        return {**item, **keys.product(product.tenant_id, product.id)}

    def list(
        self, tenant_id: str, page: PageRequest, *, visible: Callable[[Product], bool] | None = None
    ) -> Slice[Product]:
        found = self._table.query(
            keys.products(tenant_id),
            sort=SortKey.begins_with(keys.PRODUCT_PREFIX),
            page=page,
            consistent=True,
            visible=(lambda item: visible(_product(item))) if visible else None,
        )
        return Slice([_product(i) for i in found.items], found.after)

    def get(self, tenant_id: str, product_id: str) -> Product | None:
        item = self._table.get(keys.product(tenant_id, product_id), consistent=True)
        return _product(item) if item else None

    def get_many(self, tenant_id: str, product_ids: list[str]) -> list[Product]:
        items = self._table.get_many((keys.product(tenant_id, p) for p in product_ids), consistent=True)
        return [_product(i) for i in items]

    def create(self, product: Product) -> Product:
        self._table.create(self._item(product))
        return product

    def update(self, before: Product, changes: Mapping[str, Any], *, at: datetime, by: str) -> Product:
        values = {k: (Decimal(v) if k == "stock" and v is not None else v) for k, v in changes.items()}
        self._table.transact(
            [
                Update(
                    keys.product(before.tenant_id, before.id),
                    set={**values, "updated_at": iso(at), "updated_by": by},
                    expected_version=before.version,
                    on_conflict=PreconditionFailed("The product changed since it was read; reload it."),
                )
            ]
        )
        after = self.get(before.tenant_id, before.id)
        assert after is not None
        return after

    def delete(self, product: Product) -> None:
        deleted = self._table.delete_if(keys.product(product.tenant_id, product.id), "in_use", "<=", 0)
        if not deleted:
            current = self.get(product.tenant_id, product.id)
            if current is None:
                return
            raise Conflict(f"The product is used by {current.in_use} invoice(s); it cannot be deleted.")
