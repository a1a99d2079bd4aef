"""The pydantic models of the records API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from chalicelib.domain.records.changelog import ChangeAction, ChangeEntry, Entity, FieldChange
from chalicelib.domain.records.files import FileStatus, ParentLink, RecordId, StoredFile, Upload
from chalicelib.domain.records.history import HistoryEvent, HistoryKind
from chalicelib.domain.records.tags import TagCount
from chalicelib.domain.shared.model import Model
from chalicelib.handlers.identity.views import RecordView


class HistoryEventView(RecordView):
    parent: ParentLink
    kind: HistoryKind
    category_id: str | None
    text: str
    happened_at: datetime
    author_id: str
    file_ids: list[str]

    @classmethod
    def of(cls, event: HistoryEvent) -> "HistoryEventView":
        return cls.model_validate(event.model_dump(exclude={"tenant_id"}))


class ChangeEntryView(Model):
    id: str
    entity: str
    record_id: str
    action: ChangeAction
    changes: list[FieldChange]
    at: datetime
    by: str | None

    @classmethod
    def of(cls, entry: ChangeEntry) -> "ChangeEntryView":
        return cls.model_validate(entry.model_dump(include=set(cls.model_fields)))


class ChangesQuery(Model):
    model_config = ConfigDict(extra="forbid")
    entity: Entity
    record_id: RecordId


class FileView(RecordView):
    parent: ParentLink
    filename: str
    content_type: str
    size: int
    status: FileStatus
    uploaded_by: str
    problem: str | None = None

    @classmethod
    def of(cls, file: StoredFile) -> "FileView":
        return cls.model_validate(file.model_dump(exclude={"tenant_id"}))


class FileUploadView(FileView):
    upload_url: str
    upload_method: str = "PUT"
    upload_headers: dict[str, str]
    expires_in: int

    @classmethod
    def of_upload(cls, upload: Upload) -> "FileUploadView":
        return cls(
            **FileView.of(upload.file).model_dump(),
            upload_url=upload.url,
            upload_headers=upload.headers,
            expires_in=upload.expires_in,
        )


class TagView(Model):
    name: str
    entity: str
    count: int

    @classmethod
    def of(cls, tag: TagCount) -> "TagView":
        return cls(name=tag.name, entity=tag.entity, count=tag.count)
