"""What the import needs from storage and from the other features.

Storage implements ``ImportStore``, ``ImportFiles`` and ``ContactIndex``
(storage/imports.py; in-memory twins in storage/memory/imports.py). The
composition root builds a ``RowWriter`` per entity and chunk
(bootstrap/container.py ``import_writer``): the writers create and update
records through the features' own services, so validation, index entries,
change log and notifications are those of a record made by hand.

Opaque operations (``row_marker_op`` ...) are storage's transaction items:
the domain passes them, untouched, into the record's own transaction
(``extra=`` of the services), so a row's marker is written with its record
or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from chalicelib.domain.imports.models import Counts, Detection, Import, ImportStatus, StartImport

OutcomeKind = Literal["created", "updated", "unchanged", "skipped", "failed"]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    record_id: str | None = None
    reason: str | None = None
    companies_created: int = 0


@dataclass(frozen=True)
class Row:
    """One data record of the file, with where it is."""

    line: int
    offset: int  # byte offset of its first line: its identity within the import
    cells: list[str]


class RowWriter(Protocol):
    def write(self, row: Row) -> Outcome:
        """Create, update, skip or refuse one row; never raises for the row's own data."""
        ...

    def managed(self) -> dict[str, int]:
        """Users newly made managers of records by the rows written so far (user id -> count)."""
        ...


@dataclass(frozen=True)
class WriterContext:
    """What a writer is built with, once per chunk."""

    record: Import
    principal: Any  # the importer as they are now (Principal)
    tenant: Any  # their tenant (Tenant)
    marker: Callable[[int, OutcomeKind, str], Any]  # (row offset, outcome, record id) -> transaction op
    # Dry runs only: keys seen in earlier rows of the file (key -> (row offset, record id)).
    seen: Callable[[list[str]], dict[str, tuple[int, str]]]
    remember: Callable[[dict[str, tuple[int, str]]], None]


WriterFactory = Callable[[WriterContext], RowWriter]


class ImportStore(Protocol):
    def create(self, record: Import, expires_at: datetime) -> None: ...

    def get(self, tenant_id: str, import_id: str) -> Import | None:
        """Strongly consistent."""
        ...

    def save_detection(self, record: Import, detection: Detection) -> Import:
        """Only while the import is ``created``; Conflict otherwise."""
        ...

    def start(self, record: Import, options: StartImport, detection: Detection, size: int, at: datetime) -> Import:
        """created -> queued, with its options and the checkpoint at the first data record; Conflict when
        it was started (or cancelled) meanwhile."""
        ...

    def mark_running(self, tenant_id: str, import_id: str, at: datetime) -> None: ...

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
        """Advance ``record`` (as its chunk read it) from chunk ``record.seq`` to the
        next, adding the chunk's rows, counts and managers, once: None when
        that chunk was checkpointed before."""
        ...

    def mark_enqueued(self, tenant_id: str, import_id: str, seq: int) -> None: ...

    def claim(self, tenant_id: str, import_id: str, seq: int) -> bool:
        """Note that chunk ``seq`` starts; True when it had started before (this is a redelivery)."""
        ...

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
        """Move to ``status`` when the import is in one of ``only_from``; None otherwise."""
        ...

    def save_assembly(self, tenant_id: str, import_id: str, state: dict[str, Any]) -> None: ...

    def finish(self, tenant_id: str, import_id: str, at: datetime) -> Import:
        """The errors report is ready; a running import is done (cancelled and failed stay so)."""
        ...

    # ---- rows ----

    def done_rows(self, tenant_id: str, import_id: str, start: int, end: int) -> dict[int, tuple[str, str]]:
        """Rows written before, by offset in [start, end): (outcome, record id)."""
        ...

    def row_marker_op(
        self, tenant_id: str, import_id: str, offset: int, outcome: str, record_id: str, expires_at: datetime
    ) -> Any: ...

    def seen(self, tenant_id: str, import_id: str, keys: list[str]) -> dict[str, tuple[int, str]]: ...

    def remember(
        self, tenant_id: str, import_id: str, entries: dict[str, tuple[int, str]], expires_at: datetime
    ) -> None: ...

    def history_op(self, event: Any) -> Any:
        """The Put of a history event (a note from the row) for the record's transaction."""
        ...

    def write_ops(self, ops: list[Any]) -> None:
        """One transaction of such operations (a note and its row's marker)."""
        ...

    # ---- external ids (a source system's ids, matched on later imports) ----

    def external_ref(self, tenant_id: str, entity: str, external_id: str) -> str | None: ...

    def external_ref_op(self, tenant_id: str, entity: str, external_id: str, record_id: str) -> Any: ...


class ImportFiles(Protocol):
    """The uploaded file and the errors report (S3)."""

    def upload_url(self, tenant_id: str, import_id: str, content_type: str, seconds: int) -> str: ...

    def size(self, tenant_id: str, import_id: str) -> int | None:
        """Bytes of the uploaded file; None before the upload."""
        ...

    def head(self, tenant_id: str, import_id: str, count: int) -> bytes: ...

    def blocks(self, tenant_id: str, import_id: str, start: int) -> Iterator[bytes]:
        """The file from byte ``start`` on, in blocks (one ranged read, streamed)."""
        ...

    def put_errors_part(self, tenant_id: str, import_id: str, seq: int, data: bytes) -> None: ...

    def assemble_errors(
        self,
        tenant_id: str,
        import_id: str,
        header: bytes,
        state: dict[str, Any] | None,
        out_of_time: Callable[[], bool],
    ) -> dict[str, Any]:
        """Join the parts, in order, after ``header`` into the report; resumable:
        answers ``{"done": True}`` or the state to resume from."""
        ...

    def errors_url(self, tenant_id: str, import_id: str, filename: str, seconds: int) -> str: ...


class ContactIndex(Protocol):
    """Finding the contacts a row matches: index entries (which carry the
    access attributes) of the contacts with an address, a number or a name."""

    def by_email(self, tenant_id: str, email: str) -> list[dict[str, Any]]:
        """Contacts holding exactly this address (compared lowercased): one key's entries."""
        ...

    def by_phone(self, tenant_id: str, e164: str) -> list[dict[str, Any]]: ...

    def companies_named(self, tenant_id: str, name: str) -> list[dict[str, Any]]: ...

    def named(self, tenant_id: str, kind: str, name_key: str) -> list[dict[str, Any]]:
        """Contacts of a kind whose sort name (``Contact.sort_name``: folded, a
        person's last then first name) is exactly ``name_key``."""
        ...
