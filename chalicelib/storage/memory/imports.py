"""In-memory twins of domain/imports/ports.py: ``MemoryImportStore``,
``MemoryImportFiles`` and ``MemoryContactIndex``.

Transaction operations are small objects (``MemoryOp``); a fake writer
commits them with ``write_ops`` where the real services would commit them
inside the record's transaction. A marker that exists already fails the
whole batch with Conflict, as the conditional Put does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.imports.models import (
    OUTCOMES,
    Counts,
    Detection,
    Import,
    ImportOutcome,
    ImportStatus,
    StartImport,
)
from chalicelib.domain.shared.clock import utc_now
from chalicelib.domain.shared.errors import Conflict, NotFound


@dataclass(frozen=True)
class MemoryOp:
    kind: str  # "marker", "ref", "event"
    key: tuple[Any, ...]
    value: Any
    must_not_exist: bool = False


class MemoryImportStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], Import] = {}
        self.markers: dict[tuple[str, str, int], tuple[str, str]] = {}
        self.seen_keys: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.refs: dict[tuple[str, str, str], str] = {}
        self.events: list[Any] = []
        self.claims: dict[tuple[str, str], int] = {}

    def _put(self, record: Import) -> Import:
        self.records[(record.tenant_id, record.id)] = record
        return copy.deepcopy(record)

    def create(self, record: Import, expires_at: datetime) -> None:
        if (record.tenant_id, record.id) in self.records:
            raise Conflict("The record already exists.")
        self._put(record)

    def get(self, tenant_id: str, import_id: str) -> Import | None:
        found = self.records.get((tenant_id, import_id))
        return copy.deepcopy(found) if found else None

    def save_detection(self, record: Import, detection: Detection) -> Import:
        current = self.records[(record.tenant_id, record.id)]
        if current.status != ImportStatus.CREATED:
            raise Conflict("The import was started meanwhile.")
        return self._put(current.model_copy(update={"detection": detection, "version": current.version + 1}))

    def start(self, record: Import, options: StartImport, detection: Detection, size: int, at: datetime) -> Import:
        current = self.records[(record.tenant_id, record.id)]
        if current.status != ImportStatus.CREATED:
            raise Conflict("The import was started or cancelled meanwhile.")
        return self._put(
            current.model_copy(
                update={
                    "status": ImportStatus.QUEUED,
                    "options": options,
                    "detection": detection,
                    "size": size,
                    "offset": detection.data_start,
                    "line": detection.data_line,
                    "started_at": at,
                    "version": current.version + 1,
                }
            )
        )

    def mark_running(self, tenant_id: str, import_id: str, at: datetime) -> None:
        current = self.records[(tenant_id, import_id)]
        if current.status == ImportStatus.QUEUED:
            self._put(current.model_copy(update={"status": ImportStatus.RUNNING}))

    def checkpoint(
        self,
        record: Import,
        *,
        offset: int,
        line: int,
        rows: int,
        counts: Counts,
        error_rows: int,
        managed: dict[str, int],
        eof: bool,
    ) -> Import | None:
        current = self.records[(record.tenant_id, record.id)]
        if current.seq != record.seq:
            return None
        merged = dict(record.managed)
        for user_id, count in managed.items():
            merged[user_id] = merged.get(user_id, 0) + count
        return self._put(
            current.model_copy(
                update={
                    "seq": record.seq + 1,
                    "offset": offset,
                    "line": line,
                    "rows": record.rows + rows,
                    "counts": record.counts.add(counts),
                    "error_rows": record.error_rows + error_rows,
                    "managed": merged,
                }
            )
        )

    def mark_enqueued(self, tenant_id: str, import_id: str, seq: int) -> None:
        current = self.records.get((tenant_id, import_id))
        if current is not None and current.enqueued_seq < seq:
            self._put(current.model_copy(update={"enqueued_seq": seq}))

    def claim(self, tenant_id: str, import_id: str, seq: int) -> bool:
        again = self.claims.get((tenant_id, import_id)) == seq
        self.claims[(tenant_id, import_id)] = seq
        return again

    def set_status(
        self,
        tenant_id: str,
        import_id: str,
        status: ImportStatus,
        at: datetime,
        *,
        only_from: tuple[ImportStatus, ...],
        failure: str | None = None,
    ) -> Import | None:
        current = self.records.get((tenant_id, import_id))
        if current is None or current.status not in only_from:
            return None
        update: dict[str, Any] = {"status": status, "version": current.version + 1}
        if failure is not None:
            update["failure"] = failure
        return self._put(current.model_copy(update=update))

    def save_assembly(self, tenant_id: str, import_id: str, state: dict[str, Any]) -> None:
        current = self.records[(tenant_id, import_id)]
        self._put(current.model_copy(update={"errors_assembly": copy.deepcopy(state)}))

    def finish(self, tenant_id: str, import_id: str, at: datetime) -> Import:
        current = self.records.get((tenant_id, import_id))
        if current is None:
            raise NotFound("The import does not exist.")
        if current.outcome is not None:
            return current  # finished before: the first finish stands
        update: dict[str, Any] = {"errors_ready": True, "errors_assembly": None, "finished_at": at}
        update["version"] = current.version + 1
        if current.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
            update.update(status=ImportStatus.DONE, outcome=ImportOutcome.FINISHED)
        else:
            update["outcome"] = OUTCOMES[current.status]
        return self._put(current.model_copy(update=update))

    # ---- rows ----

    def done_rows(self, tenant_id: str, import_id: str, start: int, end: int) -> dict[int, tuple[str, str]]:
        return {
            offset: value
            for (t, i, offset), value in self.markers.items()
            if t == tenant_id and i == import_id and start <= offset <= end
        }

    def row_marker_op(
        self, tenant_id: str, import_id: str, offset: int, outcome: str, record_id: str, expires_at: datetime
    ) -> MemoryOp:
        return MemoryOp("marker", (tenant_id, import_id, offset), (outcome, record_id), must_not_exist=True)

    def history_op(self, event: Any) -> MemoryOp:
        return MemoryOp("event", (event.tenant_id, event.id), event)

    def write_ops(self, ops: list[Any]) -> None:
        for op in ops:
            if op.must_not_exist and op.kind == "marker" and op.key in self.markers:
                raise Conflict("The row was imported before.")
        for op in ops:
            if op.kind == "marker":
                self.markers[op.key] = op.value
            elif op.kind == "ref":
                self.refs[op.key] = op.value
            else:
                self.events.append(op.value)

    def seen(self, tenant_id: str, import_id: str, keys: list[str]) -> dict[str, tuple[int, str]]:
        return {
            k: self.seen_keys[(tenant_id, import_id, k)] for k in keys if (tenant_id, import_id, k) in self.seen_keys
        }

    def remember(
        self, tenant_id: str, import_id: str, entries: dict[str, tuple[int, str]], expires_at: datetime
    ) -> None:
        for key, value in entries.items():
            self.seen_keys[(tenant_id, import_id, key)] = value

    def external_ref(self, tenant_id: str, entity: str, external_id: str) -> str | None:
        return self.refs.get((tenant_id, entity, external_id))

    def external_ref_op(self, tenant_id: str, entity: str, external_id: str, record_id: str) -> MemoryOp:
        return MemoryOp("ref", (tenant_id, entity, external_id), record_id)


class MemoryImportFiles:
    """Uploads and reports in a dict. ``block_size`` is small by default, so
    records and line breaks straddle blocks as they do in a real stream."""

    def __init__(self, block_size: int = 7) -> None:
        self.block_size = block_size
        self.uploads: dict[tuple[str, str], bytes] = {}
        self.parts: dict[tuple[str, str], dict[int, bytes]] = {}
        self.reports: dict[tuple[str, str], bytes] = {}
        self.ranged_reads: list[int] = []
        self._assembling: dict[tuple[str, str], bytearray] = {}

    def upload(self, tenant_id: str, import_id: str, data: bytes) -> None:
        self.uploads[(tenant_id, import_id)] = data

    def upload_url(self, tenant_id: str, import_id: str, content_type: str, seconds: int) -> str:
        return f"memory://uploads/{tenant_id}/{import_id}.csv?content-type={content_type}"

    def size(self, tenant_id: str, import_id: str) -> int | None:
        data = self.uploads.get((tenant_id, import_id))
        return len(data) if data is not None else None

    def head(self, tenant_id: str, import_id: str, count: int) -> bytes:
        return self.uploads[(tenant_id, import_id)][:count]

    def blocks(self, tenant_id: str, import_id: str, start: int) -> Iterator[bytes]:
        data = self.uploads.get((tenant_id, import_id))
        if data is None:
            raise NotFound("The uploaded file is gone (uploads are kept for a day).")
        self.ranged_reads.append(start)
        for at in range(start, len(data), self.block_size):
            yield data[at : at + self.block_size]

    def put_errors_part(self, tenant_id: str, import_id: str, seq: int, data: bytes) -> None:
        self.parts.setdefault((tenant_id, import_id), {})[seq] = data

    def assemble_errors(
        self,
        tenant_id: str,
        import_id: str,
        header: bytes,
        state: dict[str, Any] | None,
        out_of_time: Callable[[], bool],
    ) -> dict[str, Any]:
        key = (tenant_id, import_id)
        if not state:
            self._assembling[key] = bytearray(header)
        after = (state or {}).get("after", -1)
        for seq in sorted(s for s in self.parts.get(key, {}) if s > after):
            self._assembling[key] += self.parts[key][seq]
            if out_of_time():
                return {"after": seq}
        self.reports[key] = bytes(self._assembling.pop(key))
        return {"done": True}

    def errors_url(self, tenant_id: str, import_id: str, filename: str, seconds: int) -> str:
        return f"memory://reports/{tenant_id}/{import_id}/{filename}"


class MemoryContactIndex:
    """Index entries as the contacts store writes them, added by hand; e-mail
    addresses read from a memory contacts store's own entries when given one."""

    def __init__(self, contacts: Any = None) -> None:
        self._contacts = contacts  # MemoryContactStore
        self.emails: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.phones: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.companies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.names: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def by_email(self, tenant_id: str, email: str) -> list[dict[str, Any]]:
        if self._contacts is not None and email.strip():
            from chalicelib.domain.shared.pagination import PageRequest
            from chalicelib.storage.indexes.contacts import email_facet

            partition = self._contacts.facet(tenant_id, email_facet(email))
            return list(self._contacts.query_entries(tenant_id, partition, PageRequest(limit=200)).items)
        return list(self.emails.get((tenant_id, email.strip().lower()), []))

    def by_phone(self, tenant_id: str, e164: str) -> list[dict[str, Any]]:
        return list(self.phones.get((tenant_id, e164), []))

    def companies_named(self, tenant_id: str, name: str) -> list[dict[str, Any]]:
        from chalicelib.domain.shared.text import fold

        return list(self.companies.get((tenant_id, fold(name)), []))

    def named(self, tenant_id: str, kind: str, name_key: str) -> list[dict[str, Any]]:
        return list(self.names.get((tenant_id, kind, name_key), []))


def now() -> datetime:
    return utc_now()
