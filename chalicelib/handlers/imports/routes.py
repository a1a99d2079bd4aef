"""CSV imports (IMP-1..4): presigned upload, preview, start, status, errors, cancel."""

from __future__ import annotations

from datetime import datetime

from chalice import Blueprint, Response
from pydantic import BaseModel, Field

from chalicelib.bootstrap import container
from chalicelib.domain.imports.fields import TARGETS
from chalicelib.domain.imports.models import (
    ColumnMapping,
    Counts,
    Import,
    ImportEntity,
    ImportOutcome,
    ImportStatus,
    NewImport,
    PreviewOptions,
    StartImport,
)
from chalicelib.domain.imports.service import Preview, Upload
from chalicelib.handlers.http.routing import Call, route

bp = Blueprint(__name__)
TAG = "Imports"


class ImportView(BaseModel):
    id: str
    entity: ImportEntity
    filename: str
    status: ImportStatus
    percent: int = Field(description="Share of the file read, by bytes")
    dry_run: bool
    rows: int = Field(description="Data rows read so far (blank lines not counted)")
    counts: Counts
    errors_url: str | None = Field(description="The failed rows as CSV, once the import has finished")
    failure: str | None = Field(description="Why the whole import stopped (status failed)")
    status_url: str
    created_at: datetime
    created_by: str | None
    started_at: datetime | None
    finished_at: datetime | None
    outcome: ImportOutcome | None = Field(
        description="finished, failed or cancelled: set with finished_at, once the run has stopped and the errors "
        "report is ready (status says cancelled or failed as soon as that is decided)"
    )

    @classmethod
    def of(cls, record: Import) -> "ImportView":
        link = f"/v1/imports/{record.id}"
        return cls(
            id=record.id,
            entity=record.entity,
            filename=record.filename,
            status=record.status,
            percent=record.percent,
            dry_run=record.dry_run,
            rows=record.rows,
            counts=record.counts,
            errors_url=f"{link}/errors" if record.errors_ready else None,
            failure=record.failure,
            status_url=link,
            created_at=record.created_at,
            created_by=record.created_by,
            started_at=record.started_at,
            finished_at=record.finished_at,
            outcome=record.outcome,
        )


class UploadView(ImportView):
    upload_url: str
    upload_method: str = "PUT"
    upload_headers: dict[str, str]
    expires_in: int

    @classmethod
    def of_upload(cls, upload: Upload) -> "UploadView":
        return cls(
            **ImportView.of(upload.record).model_dump(),
            upload_url=upload.url,
            upload_headers=upload.headers,
            expires_in=upload.expires_in,
        )


class ColumnView(BaseModel):
    index: int
    header: str
    samples: list[str]


class TargetView(BaseModel):
    field: str
    description: str


class PreviewView(BaseModel):
    id: str
    encoding: str
    delimiter: str
    has_header: bool
    size: int
    columns: list[ColumnView]
    suggested_mapping: list[ColumnMapping]
    targets: list[TargetView] = Field(description="Every field a column can feed")
    warnings: list[str]

    @classmethod
    def of(cls, preview: Preview) -> "PreviewView":
        detection = preview.detection
        return cls(
            id=preview.record.id,
            encoding=detection.encoding,
            delimiter=detection.delimiter,
            has_header=detection.has_header,
            size=preview.size,
            columns=[ColumnView(index=c.index, header=c.header, samples=c.samples) for c in preview.columns],
            suggested_mapping=preview.suggested_mapping,
            targets=[
                TargetView(field=t.name, description=t.description)
                for t in TARGETS[preview.record.entity.value].values()
            ],
            warnings=preview.warnings,
        )


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
