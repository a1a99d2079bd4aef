"""Files of contacts, deals and cases: presigned upload, redirect to download."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.handlers.records.history import PARENT_ROUTES
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.records.files import NewFile
    from chalicelib.handlers.records.views import FileUploadView, FileView


bp = Blueprint(__name__)
FILES = "Files"


@route(
    bp,
    "/v1/files",
    "POST",
    summary="Register a file and get a presigned upload URL",
    tag=FILES,
    body=NewFile,
    response=FileUploadView,
    status=201,
    errors=(403, 404),
    description="PUT the bytes to upload_url within expires_in seconds, sending exactly upload_headers "
    "(the Content-Type is part of the signature). At most 10 MB (413); PDF, images, office "
    "documents, text, CSV, zip and e-mail messages (415 otherwise). The caller must be able to "
    "read the parent record. Then attach the file to a history event with file_ids.",
)
def create_file(call: Call) -> FileUploadView:
    return FileUploadView.of_upload(container().files.create(call.caller, call.body))


@route(
    bp,
    "/v1/files/{file_id}",
    "GET",
    summary="Download a file (302 to a presigned URL)",
    tag=FILES,
    status=302,
    produces="text/plain",
    errors=(404, 409),
    description="Answers 302 with Location: a presigned GET valid 5 minutes that downloads the file as an "
    "attachment under its name. 409 while the upload has not arrived. The record as JSON: "
    "GET /v1/files/{file_id}/meta.",
)
def download_file(file_id: str, call: Call) -> Response:
    url = container().files.download_url(call.caller, file_id)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@route(
    bp,
    "/v1/files/{file_id}/meta",
    "GET",
    summary="A file's record (name, type, size, upload status)",
    tag=FILES,
    response=FileView,
    errors=(404,),
)
def get_file(file_id: str, call: Call) -> FileView:
    return FileView.of(container().files.get(call.caller, file_id))


def _register(kind: str, collection: str, param: str) -> None:
    def list_files(call: Call, **ids: str) -> Page[FileView]:
        page = call.page_request("files.list", parent_kind=kind, parent_id=ids[param])
        return call.page(container().files.list_for_parent(call.caller, kind, ids[param], page), FileView.of)

    view: Callable[..., Any] = list_files
    view.__name__ = view.__qualname__ = f"list_files_{kind}"
    route(
        bp,
        f"/v1/{collection}/{{{param}}}/files",
        "GET",
        summary=f"The {kind}'s files, newest first",
        tag=FILES,
        response=FileView,
        paged=True,
        errors=(404,),
    )(view)


for _kind, (_collection, _param) in PARENT_ROUTES.items():
    _register(_kind, _collection, _param)
