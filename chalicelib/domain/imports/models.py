"""CSV imports (IMP-1..4): the import record, its requests and its job messages.

An import is a record (``created`` until it is started) holding what the
preview detected about the file, the options it was started with, and the
checkpoint of its run: the byte offset and line number of the next record
to read, the sequence number of the next chunk, and the counts so far.
Its creator and admins see it; for everyone else it does not exist (404),
like a background job.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.contacts.models import MAX_MANAGERS, MAX_TAGS, TagName
from chalicelib.domain.imports.csvfile import NAMED, Dialect, Encoding, Layout
from chalicelib.domain.imports.fields import MATCH_KEYS, TARGETS
from chalicelib.domain.shared.access import ContactShare, ListAccess
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.records import Record

MAX_COLUMNS = 1000
MAX_MAPPING = 500
Id = Annotated[str, Field(min_length=1, max_length=40)]


class ImportEntity(StrEnum):
    CONTACTS = "contacts"
    DEALS = "deals"
    TASKS = "tasks"
    CASES = "cases"


class ImportStatus(StrEnum):
    CREATED = "created"  # waiting for the upload and the start
    QUEUED = "queued"  # started; no chunk has run yet
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # stopped for a reason that concerns the whole file (named in ``failure``)
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)


class ImportOutcome(StrEnum):
    """How an import ended, written once, in the same write as ``finished_at``
    and ``errors_ready`` (``status`` says cancelled or failed as soon as that is
    decided; ``outcome`` only once the run has stopped and its report is ready:
    the moment an "import finished" event means)."""

    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The outcome an import's finishing write records, by the status it finishes from.
OUTCOMES: dict[ImportStatus, ImportOutcome] = {
    ImportStatus.QUEUED: ImportOutcome.FINISHED,
    ImportStatus.RUNNING: ImportOutcome.FINISHED,
    ImportStatus.DONE: ImportOutcome.FINISHED,
    ImportStatus.FAILED: ImportOutcome.FAILED,
    ImportStatus.CANCELLED: ImportOutcome.CANCELLED,
}


class OnDuplicate(StrEnum):
    SKIP = "skip"  # leave the existing record as it is
    UPDATE = "update"  # update it in place (a new version, the change log keeps the old values)
    CREATE = "create"  # create another record anyway


class NewImport(Model):
    model_config = ConfigDict(extra="forbid")

    entity: ImportEntity
    filename: str = Field(min_length=1, max_length=255, description="The file's name, shown in the import's status")

    @field_validator("filename")
    @classmethod
    def _one_line(cls, value: str) -> str:
        name = " ".join(value.split())
        if not name or any(ord(ch) < 32 for ch in name):
            raise ValueError("must be a file name")
        return name


class ColumnMapping(Model):
    """One column (by its 0-based index) feeding one field."""

    model_config = ConfigDict(extra="forbid")

    column: int = Field(ge=0, lt=MAX_COLUMNS)
    field: str = Field(min_length=1, max_length=40, description="A target of the entity (see the preview's targets)")
    category: str | None = Field(
        default=None, max_length=30, description="Contact details: work, home, mobile, ... (default per type)"
    )
    category_column: int | None = Field(
        default=None, ge=0, lt=MAX_COLUMNS, description="Contact details: a column whose cell names the category"
    )
    group: str | None = Field(
        default=None, max_length=40, description="Addresses: parts with the same group form one address"
    )
    custom_field_id: Id | None = Field(default=None, description="field=custom_field: the custom field")


class ImportDefaults(Model):
    """Applied to every row: ``access`` and ``managers`` to created contacts,
    ``tags`` added to every record the import creates or updates."""

    model_config = ConfigDict(extra="forbid")

    access: ContactShare | None = Field(default=None, description="Contacts: private (default) or shared")
    managers: list[Id] = Field(default_factory=list, max_length=MAX_MANAGERS, description="Contacts: user ids")
    tags: list[TagName] = Field(default_factory=list, max_length=MAX_TAGS)
    responsible_id: Id | None = Field(default=None, description="Deals and tasks: default responsible user")


class StartImport(Model):
    model_config = ConfigDict(extra="forbid")

    mapping: list[ColumnMapping] = Field(min_length=1, max_length=MAX_MAPPING)
    match_on: list[str] | None = Field(
        default=None,
        max_length=4,
        description="How a row finds an existing record, in this order: id, email (case-insensitive), "
        "phone (as E.164), external_id, name (contacts: a person's first and last name, a company's name, "
        "case and accents ignored). Default: id, email, external_id (contacts); id, external_id.",
    )
    on_duplicate: OnDuplicate = Field(
        default=OnDuplicate.SKIP, description="A row matching a record (or an earlier row of the file)"
    )
    defaults: ImportDefaults = Field(default_factory=ImportDefaults)
    dry_run: bool = Field(default=False, description="Report what would happen; no record is written")

    @model_validator(mode="after")
    def _distinct_keys(self) -> "StartImport":
        if self.match_on is not None and len(set(self.match_on)) != len(self.match_on):
            raise ValueError("match_on lists a key twice")
        return self


class Detection(Model):
    """How the file is read: what the preview detected (or the client named)."""

    model_config = ConfigDict(extra="ignore")

    encoding: str
    codec: str
    bom: int = 0
    unit: int = 1
    delimiter: str
    newline: str = "\n"
    has_header: bool
    header: list[str]
    width: int = 0  # cells of the header row; 0: as many as the header names
    data_start: int
    data_line: int

    @classmethod
    def of(cls, layout: Layout) -> "Detection":
        encoding = layout.dialect.encoding
        return cls(
            encoding=encoding.name,
            codec=encoding.codec,
            bom=encoding.bom,
            unit=encoding.unit,
            delimiter=layout.dialect.delimiter,
            newline=layout.dialect.newline,
            has_header=layout.has_header,
            header=layout.header,
            width=layout.width,
            data_start=layout.data_start,
            data_line=layout.data_line,
        )

    def dialect(self) -> Dialect:
        return Dialect(Encoding(self.encoding, self.codec, self.bom, self.unit), self.delimiter, self.newline)


class Counts(Model):
    created: int = 0
    updated: int = 0
    unchanged: int = Field(default=0, description="Matched, updated in place, and already as the row says")
    skipped: int = Field(default=0, description="Matched and left as they are (on_duplicate=skip)")
    failed: int = 0
    companies_created: int = Field(default=0, description="Companies created for persons' company names")

    def add(self, other: "Counts") -> "Counts":
        return Counts(**{k: getattr(self, k) + getattr(other, k) for k in Counts.model_fields})


class Import(Record):
    tenant_id: str
    entity: ImportEntity
    filename: str
    status: ImportStatus = ImportStatus.CREATED
    size: int | None = None  # bytes of the uploaded file, once started
    detection: Detection | None = None
    options: StartImport | None = None
    # The checkpoint: the next chunk's number, the byte offset and line number it starts at.
    seq: int = 0
    enqueued_seq: int = -1
    offset: int = 0
    line: int = 0
    rows: int = 0
    counts: Counts = Field(default_factory=Counts)
    error_rows: int = 0
    errors_ready: bool = False
    # The finishing step's place in assembling the errors report (storage's state).
    errors_assembly: dict[str, Any] | None = None
    # Users made managers of imported contacts (user id -> count), told once at the end.
    managed: dict[str, int] = Field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: ImportOutcome | None = None  # set with finished_at, once (see ImportOutcome)
    failure: str | None = None

    @property
    def dry_run(self) -> bool:
        return bool(self.options and self.options.dry_run)

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.size:
            return 0
        start = self.detection.data_start if self.detection else 0
        span = max(1, self.size - start)
        return max(0, min(99, int(100 * (self.offset - start) / span)))

    def access_record(self) -> ListAccess:
        # Private to its creator (admins see everything), like a background job.
        return ListAccess(access_list=frozenset({self.created_by or ""}), created_by=self.created_by or "")


class PreviewOptions(Model):
    """Query parameters of the preview: name what detection got wrong."""

    model_config = ConfigDict(extra="forbid")

    encoding: str | None = Field(default=None, description="One of " + ", ".join([*NAMED, "utf-16"]))
    delimiter: Literal[",", ";", "|", "tab"] | None = None
    has_header: bool | None = None

    def delimiter_char(self) -> str | None:
        return "\t" if self.delimiter == "tab" else self.delimiter


class ImportChunk(Model):
    """Message on the imports queue: run chunk ``seq`` of an import (its
    position is the import's checkpoint, not the message's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["imports.chunk"] = "imports.chunk"
    tenant_id: str
    import_id: str
    seq: int = Field(ge=0)


def check_mapping(entity: ImportEntity, request: StartImport, columns: int) -> list[tuple[str, str]]:
    """(field, message) for every problem of a mapping against the entity's
    targets and the file's columns; the service adds what needs the tenant."""
    problems: list[tuple[str, str]] = []
    targets = TARGETS[entity.value]
    for i, entry in enumerate(request.mapping):
        where = f"mapping.{i}"
        if entry.column >= columns:
            problems.append((f"{where}.column", f"the file has {columns} columns (0..{columns - 1})"))
        if entry.category_column is not None and entry.category_column >= columns:
            problems.append((f"{where}.category_column", f"the file has {columns} columns"))
        target = targets.get(entry.field)
        if target is None:
            problems.append((f"{where}.field", "must be one of " + ", ".join(targets)))
            continue
        if (entry.field == "custom_field") != (entry.custom_field_id is not None):
            problems.append((f"{where}.custom_field_id", "goes with field custom_field, and only with it"))
        if (entry.category or entry.category_column is not None) and target.detail is None:
            problems.append((f"{where}.category", f"{entry.field} takes no category"))
    for key in request.match_on or []:
        if key not in MATCH_KEYS[entity.value]:
            problems.append(("match_on", f"{key}: {entity.value} match on " + ", ".join(MATCH_KEYS[entity.value])))
    return problems
