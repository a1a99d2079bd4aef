"""Invoices (INV-1..11): CRUD, the status machine, documents (PDF, print
view), sending, duplicating, the change log, and the lists from a contact's
and a deal's side."""

from __future__ import annotations

import json
from collections.abc import Callable

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.invoices.limits import (
    PDF_URL_SECONDS,
    RETRY_AFTER_SECONDS,
)
from chalicelib.domain.shared.pagination import Page, PageRequest
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.invoices.models import (
        DuplicateRequest,
        Invoice,
        InvoiceChanges,
        InvoiceQuery,
        NewInvoice,
        SendRequest,
        StatusChange,
    )
    from chalicelib.handlers.invoices.views import InvoiceView, Rendering
    from chalicelib.handlers.records.views import ChangeEntryView


bp = Blueprint(__name__)
TAG = "Invoices"


def _view(call: Call) -> Callable[[Invoice], InvoiceView]:
    today = container().invoices.today(call.tenant)
    return lambda invoice: InvoiceView.of(invoice, today)


@route(
    bp,
    "/v1/invoices",
    "GET",
    summary="List and filter invoices",
    tag=TAG,
    query=InvoiceQuery,
    response=InvoiceView,
    paged=True,
    description="Newest issue date first; only invoices you may read.",
)
def list_invoices(call: Call) -> Page[InvoiceView]:
    page = call.page_request("invoices.list", **call.query.filters())
    return call.page(container().invoices.list(call.caller, call.tenant, call.query, page), _view(call))


@route(
    bp,
    "/v1/invoices",
    "POST",
    summary="Create an invoice (a draft with the next number)",
    tag=TAG,
    body=NewInvoice,
    response=InvoiceView,
    status=201,
    errors=(409, 422),
)
def create_invoice(call: Call) -> InvoiceView:
    return _view(call)(container().invoices.create(call.caller, call.tenant, call.body))


@route(bp, "/v1/invoices/{invoice_id}", "GET", summary="One invoice", tag=TAG, response=InvoiceView, errors=(404,))
def get_invoice(invoice_id: str, call: Call) -> InvoiceView:
    return _view(call)(container().invoices.get(call.caller, invoice_id))


@route(
    bp,
    "/v1/invoices/{invoice_id}",
    "PATCH",
    summary="Change a draft (only the fields sent)",
    tag=TAG,
    body=InvoiceChanges,
    response=InvoiceView,
    if_match=True,
    errors=(403, 404, 409, 412, 422),
    description="Only drafts are editable (409 otherwise); `lines` replaces every line.",
)
def update_invoice(invoice_id: str, call: Call) -> InvoiceView:
    saved = container().invoices.update(call.caller, invoice_id, call.body, expected_version=call.expected_version())
    return _view(call)(saved)


@route(
    bp,
    "/v1/invoices/{invoice_id}",
    "DELETE",
    summary="Delete an invoice (drafts; admins: any)",
    tag=TAG,
    status=204,
    errors=(403, 404, 409, 412),
    description="The creator or an admin; only drafts unless an admin. Its number is never reused.",
)
def delete_invoice(invoice_id: str, call: Call) -> None:
    container().invoices.delete(call.caller, invoice_id, expected_version=call.optional_version())


@route(
    bp,
    "/v1/invoices/{invoice_id}/status",
    "PUT",
    summary="Move along the status machine",
    tag=TAG,
    body=StatusChange,
    response=InvoiceView,
    if_match=True,
    errors=(403, 404, 409, 412),
    description="draft -> billed -> paid | rejected, rejected -> draft, paid -> billed; any other move is 409 "
    "naming the allowed ones. Billing takes tracked stock off, rejecting puts it back.",
)
def change_status(invoice_id: str, call: Call) -> InvoiceView:
    saved = container().invoices.change_status(
        call.caller, invoice_id, call.body.status, expected_version=call.expected_version()
    )
    return _view(call)(saved)


@route(
    bp,
    "/v1/invoices/{invoice_id}/pdf",
    "GET",
    summary="The PDF (redirect), or 202 while it is rendered",
    tag=TAG,
    status=302,
    errors=(404,),
    answers=((202, "application/json", Rendering),),
    description="302 to a presigned PDF/A-3 (with Factur-X XML, profile EN 16931) valid "
    f"{PDF_URL_SECONDS // 60} minutes when the invoice as it is now is rendered; else 202 "
    '`{"status": "rendering", "retry_after": 2}` with `Retry-After`: ask again.',
)
def get_pdf(invoice_id: str, call: Call) -> Response:
    url = container().invoice_documents.pdf_url(call.caller, invoice_id)
    if url is None:
        body = Rendering(retry_after=RETRY_AFTER_SECONDS).model_dump()
        headers: dict[str, str | list[str]] = {
            "Content-Type": "application/json",
            "Retry-After": str(RETRY_AFTER_SECONDS),
            "Cache-Control": "no-store",
        }
        return Response(body=json.dumps(body), status_code=202, headers=headers)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@route(
    bp, "/v1/invoices/{invoice_id}/html", "GET", summary="The print view", tag=TAG, produces="text/html", errors=(404,)
)
def get_html(invoice_id: str, call: Call) -> Response:
    html = container().invoice_documents.html(call.caller, invoice_id)
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        # The page shows what users typed: no script may run in it whatever it holds.
        "Content-Security-Policy": "default-src 'none'; img-src data: https: http:; style-src 'unsafe-inline'",
        "Cache-Control": "no-store",
    }
    return Response(body=html, status_code=200, headers=headers)


@route(
    bp,
    "/v1/invoices/{invoice_id}/send",
    "POST",
    summary="E-mail the PDF to the client",
    tag=TAG,
    body=SendRequest,
    response=InvoiceView,
    status=202,
    errors=(403, 404, 409, 422),
    description="To the client's primary e-mail, the PDF attached and the notes in the body; a draft becomes "
    "billed. The mail leaves in the background; the client's history records it (HIS-2).",
)
def send_invoice(invoice_id: str, call: Call) -> InvoiceView:
    return _view(call)(container().invoices.send(call.caller, invoice_id, call.body))


@route(
    bp,
    "/v1/invoices/{invoice_id}/duplicate",
    "POST",
    summary="A new draft with a new number",
    tag=TAG,
    body=DuplicateRequest,
    response=InvoiceView,
    status=201,
    errors=(404, 409, 422),
)
def duplicate_invoice(invoice_id: str, call: Call) -> InvoiceView:
    return _view(call)(container().invoices.duplicate(call.caller, call.tenant, invoice_id, call.body))


@route(
    bp,
    "/v1/invoices/{invoice_id}/changes",
    "GET",
    summary="The invoice's field-level change log",
    tag=TAG,
    response=ChangeEntryView,
    paged=True,
    errors=(404,),
)
def list_invoice_changes(invoice_id: str, call: Call) -> Page[ChangeEntryView]:
    page = call.page_request("changes.list", entity="invoice", record_id=invoice_id)
    return call.page(container().invoices.changes(call.caller, invoice_id, page), ChangeEntryView.of)


@route(
    bp,
    "/v1/contacts/{contact_id}/invoices",
    "GET",
    summary="A contact's invoices (client or consignee)",
    tag=TAG,
    response=InvoiceView,
    paged=True,
    errors=(404,),
)
def contact_invoices(contact_id: str, call: Call) -> Page[InvoiceView]:
    page: PageRequest = call.page_request("invoices.of_contact", contact_id=contact_id)
    return call.page(container().invoices.for_contact(call.caller, call.tenant, contact_id, page), _view(call))


@route(
    bp,
    "/v1/deals/{deal_id}/invoices",
    "GET",
    summary="A deal's invoices",
    tag=TAG,
    response=InvoiceView,
    paged=True,
    errors=(404,),
)
def deal_invoices(deal_id: str, call: Call) -> Page[InvoiceView]:
    page = call.page_request("invoices.of_deal", deal_id=deal_id)
    return call.page(container().invoices.for_deal(call.caller, call.tenant, deal_id, page), _view(call))
