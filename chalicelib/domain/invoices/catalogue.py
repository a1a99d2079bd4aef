"""The catalogue (SET-5: products and services) and taxes (SET-6).

Admins (owner, admin) write; every CRM user reads. A tax or product that an
invoice uses cannot be deleted: 409 naming how many invoices use it (each
invoice's transaction moves the counters, so the check is the delete's own
condition, not a read before it).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.invoices.models import NewProduct, NewTax, Product, ProductChanges, ProductQuery, Tax, TaxChanges
from chalicelib.domain.invoices.ports import ProductStore, TaxStore
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import require_version

MAX_TAXES = 100


def _require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"Only owners and admins change the {what}.")


class Catalogue:
    def __init__(self, taxes: TaxStore, products: ProductStore, money: Any, clock: Clock = utc_now):
        self._taxes = taxes
        self._products = products
        # the currency settings service: the tenant's default currency
        self._money = money
        self._clock = clock

    # ---- taxes ----

    def list_taxes(self, principal: Principal) -> list[Tax]:
        return sorted(self._taxes.list(principal.tenant_id), key=lambda t: (t.name.casefold(), t.id))

    def get_tax(self, principal: Principal, tax_id: str) -> Tax:
        tax = self._taxes.get(principal.tenant_id, tax_id)
        if tax is None:
            raise NotFound("The tax does not exist.")
        return tax

    def create_tax(self, principal: Principal, request: NewTax) -> Tax:
        _require_admin(principal, "taxes")
        if len(self._taxes.list(principal.tenant_id)) >= MAX_TAXES:
            raise ValidationFailed("Too many taxes.", errors=[FieldError("body", f"at most {MAX_TAXES}")])
        now = self._clock()
        tax = Tax(
            id=new_id(),
            tenant_id=principal.tenant_id,
            name=request.name,
            rate=request.rate,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        return self._taxes.create(tax)

    def update_tax(self, principal: Principal, tax_id: str, changes: TaxChanges, *, expected_version: int) -> Tax:
        _require_admin(principal, "taxes")
        before = self.get_tax(principal, tax_id)
        require_version(before, expected_version, "tax")
        fields = changes.model_dump(exclude_unset=True)
        after = before.model_copy(update={**fields, "updated_at": self._clock(), "updated_by": principal.user_id})
        return self._taxes.update(before, after)

    def delete_tax(self, principal: Principal, tax_id: str, *, expected_version: int | None) -> None:
        _require_admin(principal, "taxes")
        tax = self.get_tax(principal, tax_id)
        require_version(tax, expected_version, "tax")
        self._taxes.delete(tax)

    def taxes_by_id(self, principal: Principal, tax_ids: list[str]) -> dict[str, Tax]:
        return {t.id: t for t in self._taxes.get_many(principal.tenant_id, tax_ids)} if tax_ids else {}

    # ---- products and services ----

    def list_products(self, principal: Principal, query: ProductQuery, page: PageRequest) -> Slice[Product]:
        needle = query.q.casefold() if query.q else None

        def visible(product: Product) -> bool:
            return needle is None or needle in product.title.casefold() or needle in (product.sku or "").casefold()

        return self._products.list(principal.tenant_id, page, visible=visible if needle else None)

    def get_product(self, principal: Principal, product_id: str) -> Product:
        product = self._products.get(principal.tenant_id, product_id)
        if product is None:
            raise NotFound("The product does not exist.")
        return product

    def products_by_id(self, principal: Principal, product_ids: list[str]) -> dict[str, Product]:
        if not product_ids:
            return {}
        return {p.id: p for p in self._products.get_many(principal.tenant_id, product_ids)}

    def create_product(self, principal: Principal, request: NewProduct) -> Product:
        _require_admin(principal, "catalogue")
        fields = request.model_dump(exclude_unset=True)
        self._check_taxes(principal, fields.get("tax_ids") or [])
        now = self._clock()
        product = Product(
            id=new_id(),
            tenant_id=principal.tenant_id,
            title=request.title,
            price=request.price,
            currency=request.currency or self._money.get(principal).currency,
            sku=fields.get("sku"),
            description=fields.get("description"),
            tax_ids=list(dict.fromkeys(fields.get("tax_ids") or [])),
            track_stock=bool(fields.get("track_stock")),
            stock=_stock(fields),
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        return self._products.create(product)

    def update_product(
        self, principal: Principal, product_id: str, changes: ProductChanges, *, expected_version: int
    ) -> Product:
        _require_admin(principal, "catalogue")
        before = self.get_product(principal, product_id)
        require_version(before, expected_version, "product")
        fields = changes.model_dump(exclude_unset=True)
        if "tax_ids" in fields:
            fields["tax_ids"] = list(dict.fromkeys(fields["tax_ids"]))
            self._check_taxes(principal, fields["tax_ids"])
        if "stock" in fields:
            fields["stock"] = _stock(fields)
        return self._products.update(before, fields, at=self._clock(), by=principal.user_id)

    def delete_product(self, principal: Principal, product_id: str, *, expected_version: int | None) -> None:
        _require_admin(principal, "catalogue")
        product = self.get_product(principal, product_id)
        require_version(product, expected_version, "product")
        self._products.delete(product)

    def _check_taxes(self, principal: Principal, tax_ids: list[str]) -> None:
        found = self.taxes_by_id(principal, tax_ids)
        missing = [t for t in tax_ids if t not in found]
        if missing:
            raise ValidationFailed(
                "Unknown taxes.", errors=[FieldError("tax_ids", f"no such tax {t}") for t in missing]
            )


def _stock(fields: dict[str, Any]) -> Any:
    from decimal import Decimal

    value = fields.get("stock")
    return Decimal(value) if value is not None else None
