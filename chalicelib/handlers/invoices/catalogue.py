"""The catalogue (SET-5) and taxes (SET-6): every CRM user reads, owners and
admins write; a tax or product an invoice uses cannot be deleted (409)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.invoices.models import NewProduct, NewTax, ProductChanges, ProductQuery, TaxChanges
    from chalicelib.handlers.invoices.views import ProductView, TaxList, TaxView


bp = Blueprint(__name__)
TAG = "Catalogue and taxes"


@route(bp, "/v1/taxes", "GET", summary="The taxes (SET-6)", tag=TAG, response=TaxList)
def list_taxes(call: Call) -> TaxList:
    return TaxList(items=[TaxView.of(t) for t in container().catalogue.list_taxes(call.caller)])


@route(
    bp,
    "/v1/taxes",
    "POST",
    summary="Add a tax (admins)",
    tag=TAG,
    body=NewTax,
    response=TaxView,
    status=201,
    errors=(403,),
)
def create_tax(call: Call) -> TaxView:
    return TaxView.of(container().catalogue.create_tax(call.caller, call.body))


@route(bp, "/v1/taxes/{tax_id}", "GET", summary="One tax", tag=TAG, response=TaxView, errors=(404,))
def get_tax(tax_id: str, call: Call) -> TaxView:
    return TaxView.of(container().catalogue.get_tax(call.caller, tax_id))


@route(
    bp,
    "/v1/taxes/{tax_id}",
    "PATCH",
    summary="Rename a tax or change its rate (admins)",
    tag=TAG,
    body=TaxChanges,
    response=TaxView,
    if_match=True,
    errors=(403, 404),
    description="Issued invoices keep the name and rate their lines were written with.",
)
def update_tax(tax_id: str, call: Call) -> TaxView:
    return TaxView.of(
        container().catalogue.update_tax(call.caller, tax_id, call.body, expected_version=call.expected_version())
    )


@route(
    bp,
    "/v1/taxes/{tax_id}",
    "DELETE",
    summary="Delete a tax no invoice uses (admins)",
    tag=TAG,
    status=204,
    errors=(403, 404, 409, 412),
)
def delete_tax(tax_id: str, call: Call) -> None:
    container().catalogue.delete_tax(call.caller, tax_id, expected_version=call.optional_version())


@route(
    bp,
    "/v1/products",
    "GET",
    summary="The catalogue: products and services (SET-5)",
    tag=TAG,
    query=ProductQuery,
    response=ProductView,
    paged=True,
)
def list_products(call: Call) -> Page[ProductView]:
    page = call.page_request("products.list", **call.query.model_dump(exclude_none=True))
    return call.page(container().catalogue.list_products(call.caller, call.query, page), ProductView.of)


@route(
    bp,
    "/v1/products",
    "POST",
    summary="Add a product or service (admins)",
    tag=TAG,
    body=NewProduct,
    response=ProductView,
    status=201,
    errors=(403,),
)
def create_product(call: Call) -> ProductView:
    return ProductView.of(container().catalogue.create_product(call.caller, call.body))


@route(
    bp,
    "/v1/products/{product_id}",
    "GET",
    summary="One product or service",
    tag=TAG,
    response=ProductView,
    errors=(404,),
)
def get_product(product_id: str, call: Call) -> ProductView:
    return ProductView.of(container().catalogue.get_product(call.caller, product_id))


@route(
    bp,
    "/v1/products/{product_id}",
    "PATCH",
    summary="Change a product (admins)",
    tag=TAG,
    body=ProductChanges,
    response=ProductView,
    if_match=True,
    errors=(403, 404),
)
def update_product(product_id: str, call: Call) -> ProductView:
    return ProductView.of(
        container().catalogue.update_product(
            call.caller, product_id, call.body, expected_version=call.expected_version()
        )
    )


@route(
    bp,
    "/v1/products/{product_id}",
    "DELETE",
    summary="Delete a product no invoice uses (admins)",
    tag=TAG,
    status=204,
    errors=(403, 404, 409, 412),
)
def delete_product(product_id: str, call: Call) -> None:
    container().catalogue.delete_product(call.caller, product_id, expected_version=call.optional_version())
