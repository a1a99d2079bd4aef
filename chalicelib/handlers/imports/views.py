"""The pydantic models of the imports API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.domain.imports.fields import TARGETS
from chalicelib.domain.imports.models import (
    ColumnMapping,
    Counts,
    Import,
    ImportEntity,
    ImportOutcome,
    ImportStatus,
)
from chalicelib.domain.imports.service import Preview, Upload
from chalicelib.domain.shared.model import Model


class ImportView(Model):
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


class ColumnView(Model):
    index: int
    header: str
    samples: list[str]


class TargetView(Model):
    field: str
    description: str


class PreviewView(Model):
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
