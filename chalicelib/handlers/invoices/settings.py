"""The company profile, invoice settings and logo (SET-11, INV-1, INV-9)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.invoices.limits import (
    LOGO_BOX,
    LOGO_URL_SECONDS,
    MAX_LOGO_BYTES,
)
from chalicelib.domain.shared.images import MEDIA_TYPES, SHOWN_FORMATS
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.invoices.models import InvoiceSettingsUpdate
    from chalicelib.handlers.invoices.views import InvoiceSettingsView


bp = Blueprint(__name__)
TAG = "Settings"


@route(
    bp,
    "/v1/settings/invoices",
    "GET",
    summary="Company profile and invoice numbering (SET-11)",
    tag=TAG,
    response=InvoiceSettingsView,
)
def get_invoice_settings(call: Call) -> InvoiceSettingsView:
    return InvoiceSettingsView.of(*container().invoice_settings.get(call.caller))


@route(
    bp,
    "/v1/settings/invoices",
    "PUT",
    summary="Set the company profile and numbering (admins)",
    tag=TAG,
    body=InvoiceSettingsUpdate,
    response=InvoiceSettingsView,
    errors=(403, 412, 422),
    description="Replaces the profile. VAT ID checked with python-stdnum, IBAN/BIC with schwifty. "
    "`numbering.next_number` sets the counter the next automatic number comes from. If-Match is optional.",
)
def put_invoice_settings(call: Call) -> InvoiceSettingsView:
    saved = container().invoice_settings.put(call.caller, call.body, expected_version=call.optional_version())
    return InvoiceSettingsView.of(*saved)


@route(
    bp,
    "/v1/settings/invoices/logo",
    "PUT",
    summary="Upload the logo printed on invoices (admins)",
    tag=TAG,
    content_types=MEDIA_TYPES,
    response=InvoiceSettingsView,
    max_body=MAX_LOGO_BYTES,  # over the JSON default (issue 19): the image bytes themselves
    errors=(403, 409, 413, 415, 422),
    description=f"The image bytes, at most {MAX_LOGO_BYTES // 1024} KB, in a format browsers show "
    f"({SHOWN_FORMATS}); scaled to fit {LOGO_BOX[0]}x{LOGO_BOX[1]} like a contact photo.",
)
def put_logo(call: Call) -> InvoiceSettingsView:
    c = container()
    saved = c.invoice_settings.put_logo(call.caller, call.raw_body)
    return InvoiceSettingsView.of(saved, c.invoice_settings.next_number(call.caller.tenant_id))


@route(
    bp,
    "/v1/settings/invoices/logo",
    "GET",
    summary="The logo (redirect)",
    tag=TAG,
    status=302,
    produces="text/plain",
    errors=(404,),
    description=f"302 to a presigned URL valid {LOGO_URL_SECONDS // 60} minutes; 404 without a logo.",
)
def get_logo(call: Call) -> Response:
    url = container().invoice_settings.logo_url(call.caller)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@route(
    bp,
    "/v1/settings/invoices/logo",
    "DELETE",
    summary="Remove the logo (admins)",
    tag=TAG,
    status=204,
    errors=(403, 404, 409),
)
def delete_logo(call: Call) -> None:
    container().invoice_settings.delete_logo(call.caller)
