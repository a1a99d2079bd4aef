"""Deals and cases in the single table: what both stores share.

A record is one item (``T#t#DEAL#<id>`` / ``META``; cases ``T#t#CASE#<id>``),
next to its history and files (HIST#/FILE# items: always Query that
partition with an sk prefix). Every list is a Query on *index entries*: one
small item per facet the record belongs to, written in the record's own
transaction and carrying the filterable and access attributes; a list page
is one Query on the best facet (filtering what the caller may not see while
filling the page) plus one BatchGetItem for the records.

Each write is one transaction: the record (version-checked), its index
entries, new tags in the entity's tag registry, the change-log entry and the
custom-field use counters, plus what the entity adds (deal stages' use
counters, pipeline aggregates, a history event).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from chalicelib.domain.contacts import fold
from chalicelib.domain.errors import FieldError, ValidationFailed
from chalicelib.domain.pagination import PageRequest, Slice
from chalicelib.storage import keys
from chalicelib.storage.changelog import change_ops
from chalicelib.storage.custom_fields import field_usage_ops
from chalicelib.storage.table import Delete, Put, SortKey, Table, Update

Item = dict[str, Any]
EntryKey = tuple[str, str]
MAX_TRANSACTION = 100
_ALL_PAGE = PageRequest(limit=200)


def _checked(ops: list[Any]) -> list[Any]:
    if len(ops) > MAX_TRANSACTION:
        raise ValidationFailed("This change touches too much at once; split it into smaller changes.",
                               errors=[FieldError("body", f"{len(ops)} writes, at most {MAX_TRANSACTION}")])
    return ops


class IndexedStore:
    """Subclasses say the entity (``kind``), its model, keys and index entries."""
    kind: str = ""
    model: Any = None

    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    # ---- what subclasses define ----

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        raise NotImplementedError

    def facet(self, tenant_id: str, name: str) -> str:
        raise NotImplementedError

    def index_entries(self, record: Any) -> dict[EntryKey, Item]:
        raise NotImplementedError

    def entity_ops(self, before: Any | None, after: Any | None) -> list[Any]:
        """Further operations of the entity in the record's transaction."""
        return []

    # ---- reading ----

    def get(self, tenant_id: str, record_id: str) -> Any | None:
        item = self._table.get(self.record_key(tenant_id, record_id), consistent=True)
        return self.model.model_validate(item) if item else None

    def get_many(self, tenant_id: str, record_ids: Iterable[str]) -> list[Any]:
        """In the order asked; missing ones left out."""
        ordered = list(dict.fromkeys(record_ids))
        found = {i["pk"]: i for i in self._table.get_many(self.record_key(tenant_id, r) for r in ordered)}
        return [self.model.model_validate(found[self.record_key(tenant_id, r)["pk"]])
                for r in ordered if self.record_key(tenant_id, r)["pk"] in found]

    def query(self, tenant_id: str, facet: str, page: PageRequest, *, sort: SortKey | None = None,
              newest_first: bool = True, visible: Callable[[Item], bool]) -> Slice[Any]:
        entries = self._table.query(self.facet(tenant_id, facet), sort=sort, page=page, newest_first=newest_first,
                                    visible=visible, consistent=True)
        return Slice(self.get_many(tenant_id, [e["rid"] for e in entries.items]), entries.after)

    def entries(self, tenant_id: str, facet: str) -> list[Item]:
        """Every index entry of a facet (cascades, the caller's private deals)."""
        found, after = [], None
        while True:
            page = self._table.query(self.facet(tenant_id, facet), page=PageRequest(limit=200, after=after),
                                     consistent=True)
            found += page.items
            if page.after is None:
                return found
            after = page.after

    # ---- writing ----

    def _item(self, record: Any) -> Item:
        return {**record.model_dump(mode="json"), **self.record_key(record.tenant_id, record.id)}

    def _entry_ops(self, before: Any | None, after: Any | None) -> list[Put | Delete]:
        old = self.index_entries(before) if before else {}
        new = self.index_entries(after) if after else {}
        ops: list[Put | Delete] = [Put(item, must_not_exist=False) for key, item in new.items() if old.get(key) != item]
        ops += [Delete({"pk": pk, "sk": sk}) for (pk, sk) in old if (pk, sk) not in new]
        return ops

    def _tag_ops(self, before: Any | None, after: Any | None) -> list[Update]:
        if after is None:
            return []
        known = {fold(t) for t in before.tags} if before else set()
        return [Update(keys.tag(after.tenant_id, self.kind, fold(t)), set={"name": t}, bump_version=False,
                       must_exist=False) for t in after.tags if fold(t) not in known]

    def _common_ops(self, before: Any | None, after: Any | None, by: str | None) -> list[Any]:
        record = after or before
        logged = [r.model_dump(mode="json", exclude={"tenant_id"}) if r else None for r in (before, after)]
        at = after.updated_at if after else before.updated_at
        return [*self._entry_ops(before, after), *self._tag_ops(before, after),
                *change_ops(record.tenant_id, self.kind, record.id, logged[0], logged[1], by=by, at=at),
                *field_usage_ops(record.tenant_id, before.custom_fields if before else None,
                                 after.custom_fields if after else None),
                *self.entity_ops(before, after)]

    def create(self, record: Any, *, by: str | None, extra: list[Any] = ()) -> Any:  # type: ignore[assignment]
        self._table.transact(_checked([Put(self._item(record)), *self._common_ops(None, record, by), *extra]))
        return record

    def update(self, before: Any, after: Any, *, expected_version: int, by: str | None,
               extra: list[Any] = ()) -> Any:  # type: ignore[assignment]
        item = self._item(after)
        changes = {k: item.get(k) for k in item if k not in ("pk", "sk", "id", "version", "tenant_id")}
        # Fields that became null are removed.
        changes.update({k: None for k in self._item(before) if k not in item})
        self._table.transact(_checked([
            Update(self.record_key(after.tenant_id, after.id), set=changes, expected_version=expected_version),
            *self._common_ops(before, after, by), *extra]))
        return after.model_copy(update={"version": expected_version + 1})

    def delete(self, record: Any, *, expected_version: int | None, by: str | None, at: Any,
               extra: list[Any] = ()) -> None:  # type: ignore[assignment]
        gone = record.model_copy(update={"updated_at": at})
        self._table.transact(_checked([
            Delete(self.record_key(record.tenant_id, record.id), expected_version=expected_version, must_exist=True),
            *self._common_ops(gone, None, by), *extra]))

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
        self._table.update(keys.tag(tenant_id, self.kind, fold(name)), set={"name": name}, bump_version=False,
                           must_exist=False)

    def delete_tag(self, tenant_id: str, folded_tag: str) -> None:
        self._table.delete(keys.tag(tenant_id, self.kind, folded_tag))
