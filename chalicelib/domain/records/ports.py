"""What the records features (history, files, change log, tags, what deals
and cases share) need from storage, and the shape they need of a record.

History and files share a parent's item collection in the table: a deleted
parent's cascade and a merge move both (``HistoryCascades``), so the history
adapter is handed the file adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from chalicelib.domain.shared.ports import Visible

if TYPE_CHECKING:
    from chalicelib.domain.records.changelog import ChangeEntry
    from chalicelib.domain.records.files import ObjectInfo, ParentLink, StoredFile
    from chalicelib.domain.records.history import HistoryEvent
    from chalicelib.domain.shared.access import ListAccess
    from chalicelib.domain.shared.pagination import PageRequest, Slice


# ---- history and files ----


class HistoryStore(Protocol):
    def add_event(self, event: HistoryEvent) -> None:
        """With its category's use counter (ValidationFailed for an entry that is not active)."""
        ...

    def find_event(self, tenant_id: str, event_id: str) -> HistoryEvent | None: ...

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
        """Newest first (by ``happened_at``); ``equals`` narrows by attribute (category, author, kind)."""
        ...

    def replace_event(self, before: HistoryEvent, after: HistoryEvent, *, expected_version: int) -> HistoryEvent:
        """Conditional on ``expected_version``: PreconditionFailed when changed or gone."""
        ...

    def delete_event(self, event: HistoryEvent, *, expected_version: int | None) -> None:
        """With ``expected_version``: PreconditionFailed when changed or gone; without: NotFound when gone."""
        ...


class HistoryCascades(Protocol):
    """What follows a parent's deletion or merge (bootstrap/events.py)."""

    def delete_all_for_parent(self, tenant_id: str, kind: str, parent_id: str) -> int:
        """Its events and files (records and objects) go; safe to run again."""
        ...

    def move_all(self, tenant_id: str, kind: str, from_id: str, to_id: str) -> int:
        """Every event and file of one record moves to another of the same kind; safe to run again."""
        ...


class HistoryStorage(HistoryStore, HistoryCascades, Protocol):
    """The whole history adapter, as the composition root wires it."""


class FileStore(Protocol):
    def add_file(self, file: StoredFile) -> None: ...

    def find_file(self, tenant_id: str, file_id: str) -> StoredFile | None: ...

    def parent_files(self, tenant_id: str, parent: ParentLink, file_ids: list[str]) -> list[StoredFile]:
        """Those of the ids that are files of this parent (read consistently)."""
        ...

    def list_files(self, tenant_id: str, parent: ParentLink, page: PageRequest) -> Slice[StoredFile]:
        """Newest first."""
        ...

    def mark_uploaded(self, file: StoredFile, size: int, at: datetime) -> StoredFile: ...

    def mark_problem(self, file: StoredFile, problem: str, at: datetime) -> StoredFile: ...

    def object_info(self, tenant_id: str, file_id: str) -> ObjectInfo | None: ...

    def discard_object(self, tenant_id: str, file_id: str) -> None: ...

    def upload_url(self, tenant_id: str, file_id: str, content_type: str, seconds: int) -> str: ...

    def download_url(self, tenant_id: str, file_id: str, filename: str, seconds: int) -> str: ...


# ---- the change log ----


class ChangeLogStore(Protocol):
    """Reading the log; each record's store writes it in the record's own transaction."""

    def list_changes(self, tenant_id: str, entity: str, record_id: str, page: PageRequest) -> Slice[ChangeEntry]:
        """A record's log, newest first."""
        ...


# ---- tags ----


class TagRegistry(Protocol):
    """An entity's tag registry (folded name -> display name) and its tag facet."""

    def tag_names(self, tenant_id: str) -> dict[str, str]: ...

    def count_tagged(self, tenant_id: str, folded_tag: str, visible: Visible) -> int:
        """Records with the tag whose index entry passes ``visible``."""
        ...

    def save_tag(self, tenant_id: str, name: str) -> None:
        """Put or respell a registry entry (an upsert)."""
        ...

    def delete_tag(self, tenant_id: str, folded_tag: str) -> None: ...


class TaggedRecord(Protocol):
    """What renaming a tag needs of a record holding it."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def tags(self) -> list[str]: ...


# ---- what deals and cases share (listed_access.py) ----


class ListedRecord(Protocol):
    """A deal or a case, as the rules they share see it."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def title(self) -> str: ...

    @property
    def created_by(self) -> str | None: ...

    @property
    def access_list(self) -> list[str]: ...

    def access_record(self) -> ListAccess: ...

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self: ...


R = TypeVar("R", bound=ListedRecord)


class ListedStore(Protocol[R]):
    """The reads and the update every deal and case write shares."""

    def get(self, tenant_id: str, record_id: str) -> R | None:
        """Strongly consistent: a write is conditioned on what it reads."""
        ...

    def update(self, before: R, after: R, *, by: str | None) -> R:
        """Conditional on ``before.version`` (PreconditionFailed)."""
        ...
