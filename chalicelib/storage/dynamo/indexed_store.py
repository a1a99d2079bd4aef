"""The one indexed store: how every listed record type (contacts, tasks, deals,
cases, and every later one) lives in the single table.

A record is one item (e.g. ``T#t#CONTACT#<id>`` / ``META``). Every list the
API offers is a Query on *index entries*: small items, one per facet the
record belongs to, written in the record's own transaction and carrying the
attributes that filters and the access policy need. A page is one Query on
the best facet (dropping what the caller may not see while filling it) plus
one BatchGetItem for the records.

Rules held here, once, for every record type:
- a read that precedes a write is strongly consistent (``get``);
- an update or delete is conditioned on the version that was read, never on
  a version the client claims; services compare the client's If-Match with
  the version read (domain/records.require_version) before they write;
- a record and everything written with it fit in one 100-operation
  transaction (``checked``);
- fields that became null are removed from the item;
- new tags enter the entity's tag registry (CON-6) in the same transaction.

What a record type's entries are (facets, attributes, sort keys) is defined
in storage/indexes/, without boto3: the in-memory twin
(storage/memory/indexed_store.py) keeps the very same entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from chalicelib.domain.shared.errors import Conflict, CrmError, FieldError, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.text import fold
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Delete, Put, SortKey, Table, Update

Item = dict[str, Any]
EntryKey = tuple[str, str]
R = TypeVar("R", bound=Any)

MAX_TRANSACTION = 100
_ALL_PAGE = PageRequest(limit=200)
# Attributes of the record item that are keys or bookkeeping, never "changes".
_KEY_ATTRIBUTES = ("pk", "sk", "id", "version", "tenant_id")


def checked(ops: list[Any]) -> list[Any]:
    """The operations of one record write, refused (422) when they cannot be one transaction."""
    if len(ops) > MAX_TRANSACTION:
        raise ValidationFailed(
            "This change touches too much at once; split it into smaller changes.",
            errors=[FieldError("body", f"{len(ops)} writes, at most {MAX_TRANSACTION}")],
        )
    return ops


def entry_ops(old: dict[EntryKey, Item], new: dict[EntryKey, Item]) -> list[Put | Delete]:
    """Puts for entries that are new or changed, Deletes for those that vanished."""
    ops: list[Put | Delete] = [Put(item, must_not_exist=False) for key, item in new.items() if old.get(key) != item]
    ops += [Delete({"pk": pk, "sk": sk}) for (pk, sk) in old if (pk, sk) not in new]
    return ops


def _changed_meanwhile(kind: str) -> CrmError:
    return PreconditionFailed(f"The {kind} changed since it was read; reload it and apply the change again.")


class IndexedStore(Generic[R]):
    """Subclasses say the entity (``kind``), its model, keys and index entries,
    and what else each write holds (``side_ops``)."""

    kind: str = ""
    model: Any = None
    # The attribute of an index entry that names its record.
    entry_id: str = "rid"

    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    # ---- what subclasses define ----

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        raise NotImplementedError

    def facet(self, tenant_id: str, name: str) -> str:
        raise NotImplementedError

    def index_entries(self, record: R) -> dict[EntryKey, Item]:
        raise NotImplementedError

    def side_ops(self, before: R | None, after: R | None, *, by: str | None, at: Any) -> list[Any]:
        """What the entity writes in the record's transaction besides the
        record and its entries (change log, use counters, aggregates)."""
        return []

    def migrated(self, record: R, find: Callable[[str, str], Item | None]) -> R | None:
        """The record as the current rules derive it, or None when it is
        already so (storage/dynamo/reindex.py; ``find(kind, id)`` gives another
        record's stored item)."""
        return None

    # ---- reading ----

    def get(self, tenant_id: str, record_id: str) -> R | None:
        """Strongly consistent: what a write is conditioned on must be current."""
        item = self._table.get(self.record_key(tenant_id, record_id), consistent=True)
        return self.model.model_validate(item) if item else None

    def get_many(self, tenant_id: str, record_ids: Iterable[str], *, consistent: bool = False) -> list[R]:
        """In the order asked; missing ones left out. ``consistent`` when the
        records are read to be written (cascades)."""
        ordered = list(dict.fromkeys(record_ids))
        found = {
            i["pk"]: i
            for i in self._table.get_many((self.record_key(tenant_id, r) for r in ordered), consistent=consistent)
        }
        return [
            self.model.model_validate(found[self.record_key(tenant_id, r)["pk"]])
            for r in ordered
            if self.record_key(tenant_id, r)["pk"] in found
        ]

    def query_entries(
        self,
        partition: str,
        page: PageRequest,
        *,
        sort: SortKey | None = None,
        newest_first: bool = False,
        visible: Callable[[Item], bool] | None = None,
    ) -> Slice[Item]:
        return self._table.query(
            partition, sort=sort, page=page, newest_first=newest_first, visible=visible, consistent=True
        )

    def records_of(self, tenant_id: str, entries: Slice[Item]) -> Slice[R]:
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
        visible: Callable[[Item], bool],
    ) -> Slice[R]:
        entries = self.query_entries(
            self.facet(tenant_id, facet), page, sort=sort, newest_first=newest_first, visible=visible
        )
        return self.records_of(tenant_id, entries)

    def entries(self, tenant_id: str, facet: str, sort: SortKey | None = None) -> list[Item]:
        """Every index entry of a facet (cascades, a caller's private records)."""
        found, after = [], None
        while True:
            page = self.query_entries(self.facet(tenant_id, facet), PageRequest(limit=200, after=after), sort=sort)
            found += page.items
            if page.after is None:
                return found
            after = page.after

    # ---- writing ----

    def item(self, record: R) -> Item:
        return {**record.model_dump(mode="json"), **self.record_key(record.tenant_id, record.id)}

    def _tag_ops(self, before: R | None, after: R | None) -> list[Update]:
        if after is None or not hasattr(after, "tags"):
            return []
        known = {fold(t) for t in before.tags} if before else set()
        return [
            Update(keys.tag(after.tenant_id, self.kind, fold(t)), set={"name": t}, bump_version=False, must_exist=False)
            for t in after.tags
            if fold(t) not in known
        ]

    def _record_ops(self, before: R | None, after: R | None, by: str | None, at: Any) -> list[Any]:
        old = self.index_entries(before) if before is not None else {}
        new = self.index_entries(after) if after is not None else {}
        return [*entry_ops(old, new), *self._tag_ops(before, after), *self.side_ops(before, after, by=by, at=at)]

    def create(self, record: R, *, by: str | None, extra: Iterable[Any] = ()) -> R:
        self._table.transact(
            checked(
                [
                    Put(self.item(record), on_conflict=Conflict(f"The {self.kind} already exists.")),
                    *self._record_ops(None, record, by, record.updated_at),
                    *extra,
                ]
            )
        )
        return record

    def update(self, before: R, after: R, *, by: str | None, extra: Iterable[Any] = ()) -> R:
        """Write ``after`` over ``before``, conditioned on ``before.version``."""
        item = self.item(after)
        changes = {k: item.get(k) for k in item if k not in _KEY_ATTRIBUTES}
        # Fields that became null are removed.
        changes.update({k: None for k in self.item(before) if k not in item})
        self._table.transact(
            checked(
                [
                    Update(
                        self.record_key(after.tenant_id, after.id),
                        set=changes,
                        expected_version=before.version,
                        on_conflict=_changed_meanwhile(self.kind),
                    ),
                    *self._record_ops(before, after, by, after.updated_at),
                    *extra,
                ]
            )
        )
        return after.model_copy(update={"version": before.version + 1})

    def delete(self, record: R, *, by: str | None, at: Any, extra: Iterable[Any] = ()) -> None:
        """Delete ``record`` as read: conditioned on its version."""
        gone = record.model_copy(update={"updated_at": at})
        self._table.transact(
            checked(
                [
                    Delete(
                        self.record_key(record.tenant_id, record.id),
                        expected_version=record.version,
                        must_exist=True,
                        on_conflict=_changed_meanwhile(self.kind),
                    ),
                    *self._record_ops(gone, None, by, at),
                    *extra,
                ]
            )
        )

    # ---- tags (the entity's registry: folded name -> display name) ----

    def tag_names(self, tenant_id: str) -> dict[str, str]:
        names: dict[str, str] = {}
        after = None
        while True:
            found = self._table.query(keys.tags(tenant_id, self.kind), page=PageRequest(limit=200, after=after))
            names.update({i["sk"]: i["name"] for i in found.items})
            if found.after is None:
                return names
            after = found.after

    def count_tagged(self, tenant_id: str, folded_tag: str, visible: Callable[[Item], bool]) -> int:
        return sum(1 for e in self.entries(tenant_id, f"tag#{folded_tag}") if visible(e))

    def save_tag(self, tenant_id: str, name: str) -> None:
        """Put a registry entry, or respell it (SET-12 rename); an upsert."""
        self._table.update(
            keys.tag(tenant_id, self.kind, fold(name)), set={"name": name}, bump_version=False, must_exist=False
        )

    def delete_tag(self, tenant_id: str, folded_tag: str) -> None:
        self._table.delete(keys.tag(tenant_id, self.kind, folded_tag))
