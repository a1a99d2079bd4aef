"""CSV imports (IMP-1..4): presigned upload, preview, start, status, errors, cancel."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.imports.models import NewImport, PreviewOptions, StartImport
    from chalicelib.handlers.imports.views import ImportView, PreviewView, UploadView


bp = Blueprint(__name__)
TAG = "Imports"


@route(
    bp,
    "/v1/imports",
    "POST",
    summary="Start an import: a presigned upload for the CSV file",
    tag=TAG,
    body=NewImport,
    response=UploadView,
    status=201,
    description="PUT the file to upload_url within expires_in seconds, sending exactly upload_headers "
    "(the Content-Type is part of the signature). Then GET .../preview and POST .../start.",
)
def create_import(call: Call) -> UploadView:
    return UploadView.of_upload(container().imports.create(call.caller, call.body))


@route(
    bp,
    "/v1/imports/{import_id}/preview",
    "GET",
    summary="Encoding, delimiter, columns with samples, and a suggested mapping",
    tag=TAG,
    query=PreviewOptions,
    response=PreviewView,
    errors=(404, 409, 422),
    description="Reads the first 256 kB of the upload. 409 before the upload; 422 for an empty, binary or "
    "unreadable file (the detail says why). Name encoding, delimiter or has_header to override detection.",
)
def preview_import(import_id: str, call: Call) -> PreviewView:
    return PreviewView.of(container().imports.preview(call.caller, import_id, call.query))


@route(
    bp,
    "/v1/imports/{import_id}/start",
    "POST",
    summary="Run the import in the background with a mapping",
    tag=TAG,
    body=StartImport,
    response=ImportView,
    status=202,
    errors=(404, 409, 422),
    description="mapping has the shape of the preview's suggested_mapping. Follow status_url.",
)
def start_import(import_id: str, call: Call) -> ImportView:
    return ImportView.of(container().imports.start(call.caller, call.tenant, import_id, call.body))


@route(
    bp,
    "/v1/imports/{import_id}",
    "GET",
    summary="Status, percent and counts of an import",
    tag=TAG,
    response=ImportView,
    errors=(404,),
    description="Visible to the user who made the import and to admins.",
)
def get_import(import_id: str, call: Call) -> ImportView:
    return ImportView.of(container().imports.get(call.caller, import_id))


@route(
    bp,
    "/v1/imports/{import_id}/cancel",
    "POST",
    summary="Cancel an import",
    tag=TAG,
    response=ImportView,
    errors=(404, 409),
    description="The rows written so far stay; the errors report covers them. 409 once it has finished.",
)
def cancel_import(import_id: str, call: Call) -> ImportView:
    return ImportView.of(container().imports.cancel(call.caller, import_id))


@route(
    bp,
    "/v1/imports/{import_id}/errors",
    "GET",
    summary="The failed rows as CSV (302 to a presigned download)",
    tag=TAG,
    status=302,
    produces="text/plain",
    errors=(404, 409),
    description="Columns: line (in the file), reason, then the row's original cells. 409 until the import "
    "has finished.",
)
def import_errors(import_id: str, call: Call) -> Response:
    url = container().imports.errors_url(call.caller, import_id)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})
