"""CSV imports (IMP-1..4): upload, preview, start, progress, errors, cancel,
and the run itself, chunk by chunk.

The run is a chain of messages on the imports queue, one chunk each
(``ImportChunk``). A chunk reads the file from the import's checkpoint (one
ranged S3 read, streamed), writes up to ``CHUNK_ROWS`` rows or
``CHUNK_BYTES`` of the file, and stops early, between two rows, when its
invocation runs low on time (``jobs.service.time_limit``). It then writes
its failed rows as a part of the errors report, advances the checkpoint
(byte offset, line, counts) conditionally on its own sequence number, and
queues the next chunk. So any file size works in constant memory, and no
invocation depends on Lambda's 15 minutes.

Redelivery is safe at every step:
- each written row leaves a marker (its byte offset, outcome and record) in
  the same transaction as its record; a chunk that died half-way is read
  again from the checkpoint and skips the rows it finds marked, counting
  them as they were. Created records have ids derived from the import and
  the row, and companies created for persons' company names ids derived
  from the name: a second attempt cannot make a second record;
- the checkpoint moves once per sequence number: a duplicate of a chunk
  that already moved on changes nothing (if the first delivery died between
  the checkpoint and queueing the next chunk, the duplicate queues it);
- the errors part of a chunk has a fixed name: written again, it is the same.

Rows that match each other inside the file are duplicates too: rows are
written in file order and every lookup reads the table consistently, so a
row finds the record an earlier row made. A dry run writes no record; it
keeps the keys of the rows it would have created in the import's own items
so later rows still find them.

The end: the errors parts are joined into one CSV (``GET .../errors``,
resumable like a chunk), the import is done, and the importer is notified;
users made managers of imported contacts get one notification each, not
one per contact. Cancelling stops the chain at its next chunk: the rows
written so far stay, and the report covers them.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.exports.cells import is_formula, neutralise
from chalicelib.domain.identity.models import Tenant, UserStatus
from chalicelib.domain.identity.module_access import ensure_module_access
from chalicelib.domain.imports.csvfile import (
    DELIMITERS,
    MAX_RECORD_BYTES,
    SAMPLE_BYTES,
    Records,
    detect,
    refused,
)
from chalicelib.domain.imports.fields import CUSTOM_SCOPE, DEFAULT_MATCH, TARGETS
from chalicelib.domain.imports.headers import FieldRef, suggest
from chalicelib.domain.imports.models import (
    ColumnMapping,
    Counts,
    Detection,
    Import,
    ImportChunk,
    ImportStatus,
    NewImport,
    PreviewOptions,
    StartImport,
    check_mapping,
)
from chalicelib.domain.imports.ports import (
    ImportFiles,
    ImportStore,
    Outcome,
    Row,
    RowWriter,
    WriterContext,
    WriterFactory,
)
from chalicelib.domain.jobs.service import ChunkInterrupted, out_of_time
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.ports import JobQueue
from chalicelib.domain.shared.principal import Principal

CHUNK_ROWS = 500
CHUNK_BYTES = 4 * 1024 * 1024
UPLOAD_SECONDS = 900
DOWNLOAD_SECONDS = 300
IMPORT_DAYS = 30
CONTENT_TYPE = "text/csv"
SAMPLES_SHOWN = 5
# Errors report: these columns, then the file's own.
ERROR_COLUMNS = ["line", "reason"]


def derived_id(moment: datetime, key: str) -> str:
    """A ULID whose time is ``moment`` and whose random part comes from ``key``:
    the same import row (or company name) always gets the same record id."""
    from ulid import ULID

    stamp = ULID.from_datetime(moment).bytes[:6]
    return str(ULID.from_bytes(stamp + hashlib.sha256(key.encode()).digest()[:10]))


@dataclass(frozen=True)
class Upload:
    record: Import
    url: str
    headers: dict[str, str]
    expires_in: int


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    samples: list[str]


@dataclass(frozen=True)
class Preview:
    record: Import
    detection: Detection
    columns: list[Column]
    suggested_mapping: list[ColumnMapping]
    warnings: list[str]
    size: int


class Imports:
    def __init__(
        self,
        store: ImportStore,
        files: ImportFiles,
        queue: JobQueue,
        identity: Any,
        notifier: Any,
        writers: WriterFactory,
        custom_fields: Any = None,
        clock: Clock = utc_now,
    ):
        self._store = store
        self._files = files
        self._queue = queue
        self._identity = identity
        self._notifier = notifier
        self._writers = writers
        self._custom_fields = custom_fields
        self._clock = clock

    # ---- the requests ----

    def create(self, principal: Principal, request: NewImport) -> Upload:
        now = self._clock()
        record = Import(
            id=new_id(),
            tenant_id=principal.tenant_id,
            entity=request.entity,
            filename=request.filename,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        self._store.create(record, self._expiry(now))
        url = self._files.upload_url(principal.tenant_id, record.id, CONTENT_TYPE, UPLOAD_SECONDS)
        # A presigned PUT signs its Content-Type: without it the upload is refused
        # (on the local emulator it is stored empty), so the answer names it.
        return Upload(record, url, {"Content-Type": CONTENT_TYPE}, UPLOAD_SECONDS)

    def get(self, principal: Principal, import_id: str) -> Import:
        record = self._store.get(principal.tenant_id, import_id)
        if record is None:
            raise NotFound("The import does not exist.")
        access.require(principal, Operation.READ, record.access_record(), what="import")
        return record

    def preview(self, principal: Principal, import_id: str, options: PreviewOptions) -> Preview:
        record = self.get(principal, import_id)
        size = self._uploaded_size(record)
        sample = self._files.head(record.tenant_id, record.id, SAMPLE_BYTES)
        layout = detect(
            sample,
            complete=size <= len(sample),
            encoding=options.encoding,
            delimiter=options.delimiter_char(),
            has_header=options.has_header,
        )
        detection = Detection.of(layout)
        if record.status == ImportStatus.CREATED:
            record = self._store.save_detection(record, detection)
        columns = [
            Column(i, name, [r[i] for r in layout.samples if i < len(r) and r[i].strip()][:SAMPLES_SHOWN])
            for i, name in enumerate(layout.header)
        ]
        mapping = suggest(record.entity, layout.header, layout.samples, self._field_refs(principal, record))
        warnings = _warnings(layout.header, layout.width, layout.samples)
        return Preview(record, detection, columns, mapping, warnings, size)

    def start(self, principal: Principal, tenant: Tenant, import_id: str, request: StartImport) -> Import:
        record = self.get(principal, import_id)
        if record.status != ImportStatus.CREATED:
            raise Conflict(f"The import is {record.status.value}; it can be started once.")
        detection = record.detection or self.preview(principal, import_id, PreviewOptions()).detection
        size = self._uploaded_size(record)
        if detection.data_start >= size:
            raise refused("The file has a header but no rows.")
        options = request.model_copy(update={"match_on": request.match_on or DEFAULT_MATCH[record.entity.value]})
        self._check(principal, record, options, len(detection.header))
        started = self._store.start(record, options, detection, size, self._clock())
        self._send(started, started.seq)
        return started

    def cancel(self, principal: Principal, import_id: str) -> Import:
        record = self.get(principal, import_id)
        access.require(principal, Operation.WRITE, record.access_record(), what="import")
        cancelled = self._store.set_status(
            record.tenant_id,
            record.id,
            ImportStatus.CANCELLED,
            self._clock(),
            only_from=(ImportStatus.CREATED, ImportStatus.QUEUED, ImportStatus.RUNNING),
        )
        if cancelled is None:
            current = self.get(principal, import_id)
            if current.status == ImportStatus.CANCELLED:
                return current
            raise Conflict(f"The import is {current.status.value} already; it cannot be cancelled.")
        if record.status == ImportStatus.CREATED:  # nothing runs that would finish it
            cancelled = self._store.finish(record.tenant_id, record.id, self._clock())
        return cancelled

    def errors_url(self, principal: Principal, import_id: str) -> str:
        record = self.get(principal, import_id)
        if not record.errors_ready:
            raise Conflict("The errors report is ready when the import has finished; see its status.")
        name = record.filename.rsplit(".", 1)[0] + "-errors.csv"
        return self._files.errors_url(record.tenant_id, record.id, name, DOWNLOAD_SECONDS)

    # ---- the run (imports queue consumer) ----

    def run(self, message: ImportChunk) -> None:
        record = self._store.get(message.tenant_id, message.import_id)
        if record is None or record.errors_ready:
            return  # expired, or finished and reported
        if message.seq != record.seq:
            if message.seq < record.seq and record.enqueued_seq < record.seq and not record.errors_ready:
                self._send(record, record.seq)  # the delivery that moved the checkpoint died before queueing
            return
        if record.status == ImportStatus.CREATED:
            return
        if record.status.finished or (record.size is not None and record.offset >= record.size):
            self._finish(record)
            return
        principal, tenant, refusal = self._importer(record)
        if refusal is not None:
            failed = self._store.set_status(
                record.tenant_id,
                record.id,
                ImportStatus.FAILED,
                self._clock(),
                only_from=(ImportStatus.QUEUED, ImportStatus.RUNNING),
                failure=refusal,
            )
            self._finish(failed or record)
            return
        if record.status == ImportStatus.QUEUED:
            self._store.mark_running(record.tenant_id, record.id, self._clock())
        self._chunk(record, principal, tenant)

    def _chunk(self, record: Import, principal: Principal, tenant: Tenant) -> None:
        assert record.detection is not None and record.options is not None and record.size is not None
        tenant_id, import_id = record.tenant_id, record.id
        expires = self._expiry(record.created_at)
        # Rows a died attempt of this chunk wrote: only a redelivery reads them back.
        retry = self._store.claim(tenant_id, import_id, record.seq)
        done = (
            self._store.done_rows(
                tenant_id, import_id, record.offset, record.offset + CHUNK_BYTES + 2 * MAX_RECORD_BYTES
            )
            if retry
            else {}
        )
        writer = self._writers(
            WriterContext(
                record=record,
                principal=principal,
                tenant=tenant,
                marker=lambda offset, outcome, record_id: self._store.row_marker_op(
                    tenant_id, import_id, offset, outcome, record_id, expires
                ),
                seen=lambda keys: self._store.seen(tenant_id, import_id, keys),
                remember=lambda entries: self._store.remember(tenant_id, import_id, entries, expires),
            )
        )
        detection = record.detection
        reader = Records(
            self._files.blocks(tenant_id, import_id, record.offset),
            detection.dialect(),
            start=record.offset,
            first_line=record.line,
            expected_cells=len(detection.header),
        )
        counts, errors, rows = Counts(), _ErrorsPart(detection.delimiter), 0
        width = detection.width or len(detection.header)
        mapped = {m.column for m in record.options.mapping} | {
            m.category_column for m in record.options.mapping if m.category_column is not None
        }
        exhausted = True
        for found in reader:
            if rows == 0 and out_of_time():
                raise ChunkInterrupted(f"Import {import_id} chunk {record.seq} had no time to start.")
            # A row of empty cells (";;;;" from a spreadsheet) is a blank line.
            if found.problem is not None or any(cell.strip() for cell in found.cells):
                problem = found.problem or _ragged(found.cells, width, mapped)
                outcome = self._outcome(writer, Row(found.line, found.start, found.cells), problem, done)
                counts = counts.add(_count(outcome))
                if outcome.kind == "failed":
                    errors.add(found.line, outcome.reason or "failed", found.cells)
                rows += 1
            if rows >= CHUNK_ROWS or reader.position - record.offset >= CHUNK_BYTES or out_of_time():
                exhausted = False
                break
        eof = exhausted or reader.position >= record.size
        if errors.rows:
            self._files.put_errors_part(tenant_id, import_id, record.seq, errors.data())
        moved = self._store.checkpoint(
            record,
            offset=record.size if eof else reader.position,
            line=reader.next_line,
            rows=rows,
            counts=counts,
            error_rows=errors.rows,
            managed=writer.managed(),
            eof=eof,
        )
        if moved is None:
            return  # a duplicate delivery got there first
        if moved.status.finished or eof:
            self._finish(moved)
        else:
            self._send(moved, moved.seq)

    def _outcome(self, writer: RowWriter, row: Row, problem: str | None, done: dict[int, tuple[str, str]]) -> Outcome:
        if problem is not None:
            return Outcome("failed", reason=problem)
        before = done.get(row.offset)
        if before is not None:
            return Outcome(before[0], before[1])  # type: ignore[arg-type]
        try:
            return writer.write(row)
        except (ValidationFailed, Conflict, Forbidden, NotFound) as err:
            return Outcome("failed", reason=describe(err))

    def _finish(self, record: Import) -> None:
        """Join the errors report (resumable), mark the import finished, tell the people concerned."""
        tenant_id, import_id = record.tenant_id, record.id
        header = _errors_header(record)
        state: dict[str, Any] = dict(record.errors_assembly or {})
        while not state.get("done"):
            state = self._files.assemble_errors(tenant_id, import_id, header, state or None, out_of_time)
            if not state.get("done"):
                self._store.save_assembly(tenant_id, import_id, state)
                self._send(record, record.seq)  # go on in a fresh invocation
                return
        finished = self._store.finish(tenant_id, import_id, self._clock())
        self._notify(finished)

    def _notify(self, record: Import) -> None:
        at = record.finished_at or self._clock()
        counts = record.counts
        verb = {"done": "finished", "cancelled": "was cancelled", "failed": "failed"}.get(record.status.value, "ended")
        what = "Dry run of the import" if record.dry_run else "Import"
        subject = (
            f"{what} of {record.filename} {verb}: {counts.created} created, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {counts.skipped} skipped, {counts.failed} failed"
        )
        if record.failure:
            subject += f" ({record.failure})"
        link = f"/v1/imports/{record.id}"
        self._notifier.notify(
            record.tenant_id, [record.created_by], "import.finished", subject, link, once_key=link, once_at=at
        )
        for user_id, count in sorted(record.managed.items()):
            if user_id == record.created_by or count <= 0:
                continue
            self._notifier.notify(
                record.tenant_id,
                [user_id],
                "contact.manager",
                f"You are now a manager of {count} contacts imported from {record.filename}",
                f"/v1/contacts?manager_id={user_id}",
                once_key=f"{link}#managers",
                once_at=at,
            )

    # ---- helpers ----

    def _send(self, record: Import, seq: int) -> None:
        self._queue.send(ImportChunk(tenant_id=record.tenant_id, import_id=record.id, seq=seq).model_dump())
        self._store.mark_enqueued(record.tenant_id, record.id, seq)

    def _uploaded_size(self, record: Import) -> int:
        size = self._files.size(record.tenant_id, record.id)
        if size is None:
            raise Conflict("The file has not been uploaded yet: PUT it to the upload_url first.")
        if size == 0:
            raise refused(
                "The uploaded file is empty. Upload it again, sending exactly the upload_headers "
                "(the Content-Type is part of the signature)."
            )
        return size

    def _importer(self, record: Import) -> tuple[Principal, Tenant, str | None]:
        """The import's creator as they are now: an import acts with their rights when it runs."""
        tenant = self._identity.get_tenant(record.tenant_id)
        user = self._identity.get_user(record.tenant_id, record.created_by or "")
        nobody = Principal(tenant_id=record.tenant_id, user_id=record.created_by or "", role=_USER)
        if tenant is None or user is None or user.status != UserStatus.ACTIVE:
            return nobody, tenant, "The user who started this import is no longer active."
        principal = Principal(
            tenant_id=record.tenant_id, user_id=user.id, role=user.role, group_ids=frozenset(user.group_ids)
        )
        try:
            ensure_module_access(principal, tenant)
        except Forbidden as err:
            return principal, tenant, err.detail
        return principal, tenant, None

    def _field_refs(self, principal: Principal, record: Import) -> list[FieldRef]:
        scope = CUSTOM_SCOPE.get(record.entity.value)
        if scope is None or self._custom_fields is None:
            return []
        return [FieldRef(f.id, f.label, f.entity.value) for f in self._custom_fields.for_scope(principal, scope)]

    def _check(self, principal: Principal, record: Import, options: StartImport, columns: int) -> None:
        problems = check_mapping(record.entity, options, columns)
        targets = TARGETS[record.entity.value]
        from chalicelib.domain.contacts.details import CATEGORIES

        for i, entry in enumerate(options.mapping):
            target = targets.get(entry.field)
            if target is not None and target.detail is not None and entry.category is not None:
                if entry.category not in CATEGORIES[target.detail]:
                    problems.append((f"mapping.{i}.category", "must be one of " + ", ".join(CATEGORIES[target.detail])))
        known = {f.id for f in self._field_refs(principal, record)}
        for i, entry in enumerate(options.mapping):
            if entry.custom_field_id is not None and entry.custom_field_id not in known:
                problems.append((f"mapping.{i}.custom_field_id", "no such custom field for this entity"))
        fields = {m.field for m in options.mapping}
        needs = _REQUIRED[record.entity.value]
        if not any(group <= fields for group in needs):
            wanted = " or ".join("+".join(sorted(g)) for g in needs)
            problems.append(("mapping", f"map the columns of {wanted}"))
        if problems:
            raise ValidationFailed("The mapping does not fit the file.", errors=[FieldError(f, m) for f, m in problems])

    @staticmethod
    def _expiry(created_at: datetime) -> datetime:
        return created_at + timedelta(days=IMPORT_DAYS)


from chalicelib.domain.shared.principal import Role as _Role  # noqa: E402

_USER = _Role.USER

# At least one of these sets of fields must be mapped (or the rows could never be records).
_REQUIRED: dict[str, list[set[str]]] = {
    "contacts": [
        {"first_name", "last_name"},
        {"full_name"},
        {"company"},
        {"id"},
        {"external_id"},
        {"email"},
        {"phone"},
    ],
    "deals": [{"title"}, {"id"}, {"external_id"}],
    "tasks": [{"title"}, {"id"}, {"external_id"}],
    "cases": [{"title"}, {"id"}, {"external_id"}],
}


def _ragged(cells: list[str], width: int, mapped: set[int]) -> str | None:
    """A row with more cells than the header, the extra ones filled and not
    mapped: a delimiter inside an unquoted cell shifted its values."""
    extra = [i for i in range(width, len(cells)) if cells[i].strip() and i not in mapped]
    if not extra:
        return None
    return (
        f"The row has {len(cells)} cells, the header {width}: a delimiter inside an unquoted cell "
        "(quote that cell) would put values into the wrong columns."
    )


def _count(outcome: Outcome) -> Counts:
    counts = Counts(companies_created=outcome.companies_created)
    setattr(counts, outcome.kind, 1)
    return counts


def describe(err: Exception) -> str:
    """A row's failure in one line: the error and the fields it names."""
    detail = getattr(err, "detail", str(err))
    fields = getattr(err, "errors", [])
    named = "; ".join(f"{e.field}: {e.message}" for e in fields)
    if any(e.message == detail for e in fields):
        return named
    return f"{detail} {named}" if named else detail


class _ErrorsPart:
    """The failed rows of one chunk as CSV lines: line number, reason, the
    original cells (formulas neutralised: the report is opened in spreadsheets)."""

    def __init__(self, delimiter: str):
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, delimiter=delimiter if delimiter in DELIMITERS else ",")
        self.rows = 0

    def add(self, line: int, reason: str, cells: list[str]) -> None:
        self._writer.writerow([str(line), neutralise(reason), *(neutralise(c) for c in cells)])
        self.rows += 1

    def data(self) -> bytes:
        return self._buffer.getvalue().encode("utf-8")


def _errors_header(record: Import) -> bytes:
    buffer = io.StringIO()
    delimiter = record.detection.delimiter if record.detection else ","
    header = record.detection.header if record.detection else []
    csv.writer(buffer, delimiter=delimiter).writerow([*ERROR_COLUMNS, *(neutralise(h) for h in header)])
    # UTF-8 with a byte order mark: Excel then reads the umlauts right.
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def _warnings(header: list[str], width: int, samples: list[list[str]]) -> list[str]:
    found = []
    ragged = sum(1 for r in samples if len(r) != width)
    if ragged:
        found.append(
            f"{ragged} of the first {len(samples)} rows do not have {width} cells: missing cells are empty; "
            "rows with more cells than the header fail unless the extra cells are empty or mapped."
        )
    formulas = sorted({header[i] for r in samples for i, c in enumerate(r) if i < len(header) and is_formula(c)})
    if formulas:
        found.append(
            "Cells that start like spreadsheet formulas (" + ", ".join(formulas) + ") are imported as text; "
            "every CSV this CRM writes prefixes them with ' so that spreadsheets do not run them."
        )
    return found


OutOfTime = Callable[[], bool]
