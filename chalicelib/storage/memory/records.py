"""Twins of the records stores (storage/records/): history events, files (their
records and their objects), the change log; and what other records' writes
add to them in their own transaction (``log_change``, ``add_event``).

History and files of a parent move and go together (a merge, a deleted
parent), as they share the parent's item collection in the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.records.changelog import ChangeEntry, change_entry
from chalicelib.domain.records.files import FileStatus, ObjectInfo, ParentLink, StoredFile
from chalicelib.domain.records.history import HistoryEvent
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.memory.db import MemoryDb, frozen, paged, stored_moment, thawed
from chalicelib.storage.memory.settings import use_entry_deltas

# Tables (per tenant)
CHANGES = "changes"  # (entity, record id, entry id) -> ChangeEntry
HISTORY = "history"  # event id -> HistoryEvent
FILES = "files"  # file id -> StoredFile
OBJECTS = "objects"  # file id -> (bytes, content type): what a presigned PUT would have stored

HISTORY_CATEGORIES = "history-categories"
_CHANGED = "The record changed since it was read; reload it and apply the change again."


# ---- what other records' writes add (inside their own transaction) ----


def log_change(
    db: MemoryDb,
    tenant_id: str,
    entity: str,
    record_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    by: str | None,
    at: datetime,
) -> int:
    """The change-log entry of one write (none for an update that changed nothing). The number of writes."""
    entry = change_entry(entity, record_id, before, after, by=by, at=at)
    if entry is None:
        return 0
    rows = db.table(tenant_id, CHANGES)
    key = (entity, record_id, entry.id)
    if key in rows:
        raise Conflict("The record already exists.")
    rows[key] = frozen(entry)
    return 1


def _use_category(db: MemoryDb, tenant_id: str, old: str | None, new: str | None) -> int:
    if old == new:
        return 0
    deltas = {**({old: -1} if old else {}), **({new: 1} if new else {})}
    return use_entry_deltas(db, tenant_id, HISTORY_CATEGORIES, deltas, field="category_id")


def add_event(db: MemoryDb, event: HistoryEvent) -> int:
    """A new event (with its category's use). The number of writes."""
    rows = db.table(event.tenant_id, HISTORY)
    if event.id in rows:
        raise Conflict("The record already exists.")
    rows[event.id] = frozen(event)
    return 1 + _use_category(db, event.tenant_id, None, event.category_id)


def _sort_key(event: HistoryEvent) -> str:
    return keys.history_event(event.tenant_id, event.parent.kind, event.parent.id, event.happened_at, event.id)["sk"]


# ---- the change log ----


class MemoryChangeLogStore:
    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def list_changes(self, tenant_id: str, entity: str, record_id: str, page: PageRequest) -> Slice[ChangeEntry]:
        rows = [
            (entry_id, thawed(ChangeEntry, text))
            for (kind, record, entry_id), text in self._db.table(tenant_id, CHANGES).items()
            if (kind, record) == (entity, record_id)
        ]
        return paged(rows, page, partition=f"changes#{entity}#{record_id}", newest_first=True)


# ---- files ----


class MemoryFileStore:
    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def upload(self, tenant_id: str, file_id: str, data: bytes, content_type: str) -> None:
        """What a client's PUT to ``upload_url`` stores (tests)."""
        self._db.table(tenant_id, OBJECTS)[file_id] = (bytes(data), content_type)

    def add_file(self, file: StoredFile) -> None:
        rows = self._db.table(file.tenant_id, FILES)
        if file.id in rows:
            raise Conflict("The record already exists.")
        rows[file.id] = frozen(file)

    def find_file(self, tenant_id: str, file_id: str) -> StoredFile | None:
        text = self._db.table(tenant_id, FILES).get(file_id)
        return thawed(StoredFile, text) if text else None

    def parent_files(self, tenant_id: str, parent: ParentLink, file_ids: list[str]) -> list[StoredFile]:
        found = (self.find_file(tenant_id, file_id) for file_id in file_ids)
        return [file for file in found if file is not None and file.parent == parent]

    def list_files(self, tenant_id: str, parent: ParentLink, page: PageRequest) -> Slice[StoredFile]:
        rows = [(file.id, file) for file in self._of_parent(tenant_id, parent.kind, parent.id)]
        return paged(rows, page, partition=f"files#{parent.kind}#{parent.id}", newest_first=True)

    def _of_parent(self, tenant_id: str, kind: str, parent_id: str) -> list[StoredFile]:
        files = (thawed(StoredFile, text) for text in self._db.table(tenant_id, FILES).values())
        return [f for f in files if (f.parent.kind, f.parent.id) == (kind, parent_id)]

    def _change(self, file: StoredFile, **changes: object) -> StoredFile:
        stored = self.find_file(file.tenant_id, file.id)
        if stored is None or stored.parent != file.parent:
            raise NotFound("The record does not exist.")
        text = frozen(stored.model_copy(update={**changes, "version": stored.version + 1}))
        self._db.table(file.tenant_id, FILES)[file.id] = text
        return thawed(StoredFile, text)

    def mark_uploaded(self, file: StoredFile, size: int, at: datetime) -> StoredFile:
        return self._change(file, status=FileStatus.UPLOADED, size=size, problem=None, updated_at=stored_moment(at))

    def mark_problem(self, file: StoredFile, problem: str, at: datetime) -> StoredFile:
        return self._change(file, problem=problem, updated_at=stored_moment(at))

    def object_info(self, tenant_id: str, file_id: str) -> ObjectInfo | None:
        found: tuple[bytes, str] | None = self._db.table(tenant_id, OBJECTS).get(file_id)
        return ObjectInfo(size=len(found[0]), content_type=found[1]) if found else None

    def discard_object(self, tenant_id: str, file_id: str) -> None:
        self._db.table(tenant_id, OBJECTS).pop(file_id, None)

    def upload_url(self, tenant_id: str, file_id: str, content_type: str, seconds: int) -> str:
        return f"memory://files/{tenant_id}/{file_id}?content-type={content_type}&expires={seconds}"

    def download_url(self, tenant_id: str, file_id: str, filename: str, seconds: int) -> str:
        return f"memory://files/{tenant_id}/{file_id}?filename={filename}&expires={seconds}"


# ---- history ----


class MemoryHistoryStore:
    def __init__(self, db: MemoryDb | None = None, files: MemoryFileStore | None = None):
        self._db = db or MemoryDb()
        self._files = files or MemoryFileStore(self._db)

    def add_event(self, event: HistoryEvent) -> None:
        with self._db.transaction():
            add_event(self._db, event)

    def find_event(self, tenant_id: str, event_id: str) -> HistoryEvent | None:
        text = self._db.table(tenant_id, HISTORY).get(event_id)
        return thawed(HistoryEvent, text) if text else None

    def _of_parent(self, tenant_id: str, kind: str, parent_id: str) -> list[HistoryEvent]:
        events = (thawed(HistoryEvent, text) for text in self._db.table(tenant_id, HISTORY).values())
        return [e for e in events if (e.parent.kind, e.parent.id) == (kind, parent_id)]

    def list_events(
        self,
        tenant_id: str,
        parent: ParentLink,
        page: PageRequest,
        *,
        happened_from: datetime | None = None,
        happened_to: datetime | None = None,
        equals: dict[str, str] | None = None,
    ) -> Slice[HistoryEvent]:
        low, high = keys.history_range(happened_from, happened_to)
        wanted = dict(equals or {})
        rows = [
            (_sort_key(event), event)
            for event in self._of_parent(tenant_id, parent.kind, parent.id)
            if low <= _sort_key(event) <= high
        ]

        def matches(event: HistoryEvent) -> bool:
            item = event.model_dump(mode="json")
            return all(item.get(k) == v for k, v in wanted.items())

        return paged(
            rows,
            page,
            partition=f"history#{parent.kind}#{parent.id}",
            newest_first=True,
            visible=matches if wanted else None,
        )

    def replace_event(self, before: HistoryEvent, after: HistoryEvent, *, expected_version: int) -> HistoryEvent:
        saved = after.model_copy(update={"version": expected_version + 1})
        with self._db.transaction():
            stored = self.find_event(before.tenant_id, before.id)
            if stored is None or stored.version != expected_version:
                raise PreconditionFailed(_CHANGED)
            self._db.table(after.tenant_id, HISTORY)[after.id] = frozen(saved)
            _use_category(self._db, after.tenant_id, before.category_id, after.category_id)
        return saved

    def delete_event(self, event: HistoryEvent, *, expected_version: int | None) -> None:
        with self._db.transaction():
            stored = self.find_event(event.tenant_id, event.id)
            if stored is None:
                if expected_version is None:
                    raise NotFound("The history event does not exist.")
                raise PreconditionFailed(_CHANGED)
            if expected_version is not None and stored.version != expected_version:
                raise PreconditionFailed(_CHANGED)
            del self._db.table(event.tenant_id, HISTORY)[event.id]
            _use_category(self._db, event.tenant_id, event.category_id, None)

    # ---- cascades ----

    def delete_all_for_parent(self, tenant_id: str, kind: str, parent_id: str) -> int:
        with self._db.transaction():
            events = self._of_parent(tenant_id, kind, parent_id)
            uses = Counter(event.category_id for event in events if event.category_id)
            use_entry_deltas(
                self._db, tenant_id, HISTORY_CATEGORIES, {c: -n for c, n in uses.items()}, field="category_id"
            )
            history = self._db.table(tenant_id, HISTORY)
            for event in events:
                del history[event.id]
            files = self._files._of_parent(tenant_id, kind, parent_id)
            for file in files:
                self._files.discard_object(tenant_id, file.id)
                del self._db.table(tenant_id, FILES)[file.id]
        return len(events) + len(files)

    def move_all(self, tenant_id: str, kind: str, from_id: str, to_id: str) -> int:
        if from_id == to_id:
            return 0
        target = ParentLink.of(kind, to_id)
        with self._db.transaction():
            events = self._of_parent(tenant_id, kind, from_id)
            for event in events:
                moved = event.model_copy(update={"parent": target, "version": event.version + 1})
                self._db.table(tenant_id, HISTORY)[event.id] = frozen(moved)
            files = self._files._of_parent(tenant_id, kind, from_id)
            for file in files:
                moved_file = file.model_copy(update={"parent": target, "version": file.version + 1})
                self._db.table(tenant_id, FILES)[file.id] = frozen(moved_file)
        return len(events) + len(files)
