"""The one indexed store's twin (storage/dynamo/indexed_store.py), for every
listed record type.

Why one generic twin that keeps *index entries*, rather than a filter over
the records per type: a list's order, the facet it reads and the attributes
the services' ``visible`` filters look at (access lists, managers, tags) are
all defined by the record type's entries (storage/indexes/). Computing the
very same entries and reading them the way a DynamoDB Query does (partition,
sort-key condition, direction, page after page) makes a list in memory come
back as it would from the table by construction; a per-type filter would be
a second definition of every list, free to drift. What differs is only the
mechanics (dicts instead of items), and the contract tests hold those.

The rules the DynamoDB store holds, held here the same way: reads are
current; an update or delete is conditioned on the version read
(PreconditionFailed); a write and everything counted with it (entries, tag
registry, change log, use counters, aggregates) is all or nothing, and
refused (422) when DynamoDB could not write it in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar

from chalicelib.domain.shared.errors import Conflict, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.records import Record
from chalicelib.domain.shared.text import fold
from chalicelib.storage.dynamo.keys import SortKey
from chalicelib.storage.indexes import Entries, Entry
from chalicelib.storage.memory.db import (
    MemoryDb,
    check_size,
    every_page,
    frozen,
    frozen_item,
    paged,
    thawed,
    thawed_item,
)

R = TypeVar("R", bound=Record)
Visible = Callable[[Entry], bool]
# Writes that go with a record's own (a reminder, a history event): done inside
# its transaction, answering how many operations DynamoDB would count.
Extra = Callable[[], int]


class MemoryIndexedStore(Generic[R]):
    """Subclasses say the entity (``kind``), its model, how its entries and
    facets are built (storage/indexes/) and what else each write does (``effects``)."""

    kind: str = ""
    model: type[R]
    # The attribute of an index entry that names its record.
    entry_id: str = "rid"

    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    # ---- what subclasses define ----

    def tenant_of(self, record: R) -> str:
        raise NotImplementedError

    def facet(self, tenant_id: str, name: str) -> str:
        raise NotImplementedError

    def index_entries(self, record: R) -> Entries:
        raise NotImplementedError

    def tags_of(self, record: R) -> list[str]:
        """The record's tags, for the entity's tag registry (none by default)."""
        return []

    def effects(self, before: R | None, after: R | None, *, by: str | None, at: datetime) -> int:
        """What the entity writes with the record besides its entries (change
        log, use counters, aggregates); the number of writes."""
        return 0

    # ---- tables ----

    def _records(self, tenant_id: str) -> dict[str, str]:
        return self._db.table(tenant_id, f"{self.kind}.records")

    def _entries(self, tenant_id: str) -> dict[tuple[str, str], str]:
        return self._db.table(tenant_id, f"{self.kind}.entries")

    def _tags(self, tenant_id: str) -> dict[str, str]:
        return self._db.table(tenant_id, f"{self.kind}.tags")

    # ---- reading ----

    def get(self, tenant_id: str, record_id: str) -> R | None:
        text = self._records(tenant_id).get(record_id)
        return thawed(self.model, text) if text else None

    def get_many(self, tenant_id: str, record_ids: Iterable[str], *, consistent: bool = False) -> list[R]:
        """In the order asked; missing ones left out."""
        found = (self.get(tenant_id, record_id) for record_id in dict.fromkeys(record_ids))
        return [record for record in found if record is not None]

    def query_entries(
        self,
        tenant_id: str,
        partition: str,
        page: PageRequest,
        *,
        sort: SortKey | None = None,
        newest_first: bool = False,
        visible: Visible | None = None,
    ) -> Slice[Entry]:
        rows = [
            (sk, thawed_item(text))
            for (pk, sk), text in self._entries(tenant_id).items()
            if pk == partition and (sort is None or sort.matches(sk))
        ]
        return paged(rows, page, partition=partition, newest_first=newest_first, visible=visible)

    def records_of(self, tenant_id: str, entries: Slice[Entry]) -> Slice[R]:
        """The records a page of entries names, in the page's order."""
        return Slice(self.get_many(tenant_id, [e[self.entry_id] for e in entries.items]), entries.after)

    def query(
        self,
        tenant_id: str,
        facet: str,
        page: PageRequest,
        *,
        sort: SortKey | None = None,
        newest_first: bool = True,
        visible: Visible,
    ) -> Slice[R]:
        entries = self.query_entries(
            tenant_id, self.facet(tenant_id, facet), page, sort=sort, newest_first=newest_first, visible=visible
        )
        return self.records_of(tenant_id, entries)

    def entries(self, tenant_id: str, facet: str, sort: SortKey | None = None) -> list[Entry]:
        """Every index entry of a facet (cascades, a caller's private records)."""
        partition = self.facet(tenant_id, facet)
        return every_page(lambda page: self.query_entries(tenant_id, partition, page, sort=sort))

    # ---- writing ----

    def _changed_meanwhile(self) -> PreconditionFailed:
        return PreconditionFailed(f"The {self.kind} changed since it was read; reload it and apply the change again.")

    def _write_entries(self, tenant_id: str, before: R | None, after: R | None) -> int:
        old = self.index_entries(before) if before is not None else {}
        new = self.index_entries(after) if after is not None else {}
        rows = self._entries(tenant_id)
        puts = [key for key, item in new.items() if old.get(key) != item]
        gone = [key for key in old if key not in new]
        for key in puts:
            rows[key] = frozen_item(new[key])
        for key in gone:
            rows.pop(key, None)
        return len(puts) + len(gone)

    def _register_tags(self, before: R | None, after: R | None) -> int:
        if after is None:
            return 0
        known = {fold(t) for t in self.tags_of(before)} if before is not None else set()
        new = [t for t in self.tags_of(after) if fold(t) not in known]
        registry = self._tags(self.tenant_of(after))
        for tag in new:
            registry[fold(tag)] = tag
        return len(new)

    def _write(self, before: R | None, after: R | None, *, by: str | None, at: datetime, extra: Extra | None) -> None:
        record = after or before
        assert record is not None, "a write has a before or an after"
        tenant_id = self.tenant_of(record)
        writes = 1 + self._write_entries(tenant_id, before, after) + self._register_tags(before, after)
        writes += self.effects(before, after, by=by, at=at) + (extra() if extra else 0)
        check_size(writes)

    def create(self, record: R, *, by: str | None, extra: Extra | None = None) -> R:
        with self._db.transaction():
            records = self._records(self.tenant_of(record))
            if record.id in records:
                raise Conflict(f"The {self.kind} already exists.")
            records[record.id] = frozen(record)
            self._write(None, record, by=by, at=record.updated_at, extra=extra)
        return record

    def update(self, before: R, after: R, *, by: str | None, extra: Extra | None = None) -> R:
        """Write ``after`` over ``before``, conditioned on ``before.version``."""
        saved = after.model_copy(update={"version": before.version + 1})
        with self._db.transaction():
            stored = self.get(self.tenant_of(after), after.id)
            if stored is None or stored.version != before.version:
                raise self._changed_meanwhile()
            self._records(self.tenant_of(after))[after.id] = frozen(saved)
            self._write(before, after, by=by, at=after.updated_at, extra=extra)
        return saved

    def delete(self, record: R, *, by: str | None, at: datetime, extra: Extra | None = None) -> None:
        """Delete ``record`` as read: conditioned on its version."""
        gone = record.model_copy(update={"updated_at": at})
        with self._db.transaction():
            stored = self.get(self.tenant_of(record), record.id)
            if stored is None or stored.version != record.version:
                raise self._changed_meanwhile()
            del self._records(self.tenant_of(record))[record.id]
            self._write(gone, None, by=by, at=at, extra=extra)

    # ---- tags (the entity's registry: folded name -> display name) ----

    def tag_names(self, tenant_id: str) -> dict[str, str]:
        return dict(self._tags(tenant_id))

    def count_tagged(self, tenant_id: str, folded_tag: str, visible: Visible) -> int:
        return sum(1 for e in self.entries(tenant_id, f"tag#{folded_tag}") if visible(e))

    def save_tag(self, tenant_id: str, name: str) -> None:
        self._tags(tenant_id)[fold(name)] = name

    def delete_tag(self, tenant_id: str, folded_tag: str) -> None:
        self._tags(tenant_id).pop(folded_tag, None)


def logged(record: Record | None) -> dict[str, Any] | None:
    """A record as its change log sees it (storage: ``model_dump`` without the tenant)."""
    return record.model_dump(mode="json", exclude={"tenant_id"}) if record else None
