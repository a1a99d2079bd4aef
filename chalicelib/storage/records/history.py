"""History events in their parent's item collection.

An event is ``pk=T#t#<KIND>#<parent id>``, ``sk=HIST#<happened_at>#<id>``:
a record's history, newest first and within a date range, is one Query of
the record's own collection. GSI1 (``T#t#HISTORY#<id>``) finds an event by
its id alone. Changing ``happened_at`` moves the event (delete + put, one
transaction).

Categories are settings list entries with a use counter: every write that
adds, changes or removes an event's category carries its counter updates
(``category_usage_ops``) in the same transaction.

For other services:
- ``system_event_op(principal, kind, id, text)`` / ``event_op(event)``: the
  Put that adds an event (without a category) inside the caller's own
  transaction; ``event_ops(event)`` for an event with a category (the Put
  plus the category's counter update);
- ``delete_all_for_parent(tenant_id, kind, id)``: the cascade of a deleted
  record (events, file records and their objects); idempotent;
- ``move_all(tenant_id, kind, from_id, to_id)``: a merge moves every event
  and file to the surviving record; idempotent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.domain.records.files import ParentLink
from chalicelib.domain.records.history import HistoryEvent, HistoryKind, system_event
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Delete, Item, Put, SortKey, Table, Update, key_of
from chalicelib.storage.dynamo.table_spec import GSI1
from chalicelib.storage.records.files import FileStore
from chalicelib.storage.settings.lists import usage_delta_ops

if TYPE_CHECKING:
    from chalicelib.domain.records.ports import FileStore as FilePort

# A cascade or a move works in pages of this many items (a move is a
# transaction of two operations per item, a cascade of one plus at most one
# counter update per category; DynamoDB takes 100).
BATCH = 50
MAX_RETRIES = 5
_EVENT_FIELDS = ("kind", "category_id", "text", "happened_at", "file_ids", "updated_at", "updated_by")


def category_usage_ops(tenant_id: str, deltas: Mapping[str, int]) -> list[Any]:
    """The use counters of the history categories (SET-9), moved in the event's transaction."""
    wanted = {category: delta for category, delta in deltas.items() if category and delta}
    return usage_delta_ops(tenant_id, "history-categories", wanted, field="category_id") if wanted else []


def _usage_change(old: str | None, new: str | None) -> dict[str, int]:
    if old == new:
        return {}
    return {**({old: -1} if old else {}), **({new: 1} if new else {})}


def _event_key(event: HistoryEvent) -> dict[str, str]:
    return keys.history_event(event.tenant_id, event.parent.kind, event.parent.id, event.happened_at, event.id)


def event_item(event: HistoryEvent) -> Item:
    return {**event.model_dump(mode="json"), **_event_key(event), **keys.history_indexes(event.tenant_id, event.id)}


def _event(item: Mapping[str, Any]) -> HistoryEvent:
    return HistoryEvent.model_validate(item)


def event_op(event: HistoryEvent) -> Put:
    """The Put that adds an event without a category inside another
    service's transaction (with a category, use ``event_ops``)."""
    return Put(event_item(event))


def event_ops(event: HistoryEvent) -> list[Any]:
    """The operations that add ``event`` (its Put and its category's counter)."""
    return [event_op(event), *category_usage_ops(event.tenant_id, _usage_change(None, event.category_id))]


def system_event_op(
    principal: Principal, parent_kind: str, parent_id: str, text: str, *, kind: HistoryKind = HistoryKind.SYSTEM
) -> Put:
    """A system event ("Stage: Proposal -> Won", "Merged X into Y") as a Put
    for the caller's own transaction; kind call/email serve HIS-2."""
    return event_op(system_event(principal, parent_kind, parent_id, text, kind=kind))


class HistoryStore:
    def __init__(self, table: Table | None = None, files: FilePort | None = None):
        self._table = table or Table()
        self._files = files or FileStore(self._table)

    def add_event(self, event: HistoryEvent) -> None:
        self._table.transact(event_ops(event))

    def find_event(self, tenant_id: str, event_id: str) -> HistoryEvent | None:
        found = self._table.query(keys.history_by_id(tenant_id, event_id), index=GSI1, page=PageRequest(limit=1))
        return _event(found.items[0]) if found.items else None

    def list_events(
        self,
        tenant_id: str,
        parent: ParentLink,
        page: PageRequest,
        *,
        happened_from: Any = None,
        happened_to: Any = None,
        equals: dict[str, str] | None = None,
    ) -> Slice[HistoryEvent]:
        """Newest first; ``equals`` narrows by attribute (category, author, kind)."""
        low, high = keys.history_range(happened_from, happened_to)
        wanted = dict(equals or {})
        visible = (lambda item: all(item.get(k) == v for k, v in wanted.items())) if wanted else None
        found = self._table.query(
            keys.parent_partition(tenant_id, parent.kind, parent.id),
            sort=SortKey.between(low, high),
            page=page,
            newest_first=True,
            visible=visible,
        )
        return Slice([_event(i) for i in found.items], found.after)

    def replace_event(self, before: HistoryEvent, after: HistoryEvent, *, expected_version: int) -> HistoryEvent:
        old_key, new_key = _event_key(before), _event_key(after)
        usage = category_usage_ops(after.tenant_id, _usage_change(before.category_id, after.category_id))
        saved = after.model_copy(update={"version": expected_version + 1})
        if old_key == new_key:
            dumped = after.model_dump(mode="json")
            write: list[Any] = [
                Update(old_key, set={name: dumped[name] for name in _EVENT_FIELDS}, expected_version=expected_version)
            ]
        else:  # happened_at changed: the event moves within its collection
            write = [Delete(old_key, expected_version=expected_version, must_exist=True), Put(event_item(saved))]
        self._table.transact([*write, *usage])
        return saved

    def delete_event(self, event: HistoryEvent, *, expected_version: int | None) -> None:
        gone = NotFound("The history event does not exist.") if expected_version is None else None
        self._table.transact(
            [
                Delete(_event_key(event), expected_version=expected_version, must_exist=True, on_conflict=gone),
                *category_usage_ops(event.tenant_id, _usage_change(event.category_id, None)),
            ]
        )

    # ---- cascades ----

    def _first_page(self, partition: str, prefix: str) -> Slice[Item]:
        return self._table.query(
            partition, sort=SortKey.begins_with(prefix), page=PageRequest(limit=BATCH), consistent=True
        )

    def delete_all_for_parent(self, tenant_id: str, kind: str, parent_id: str) -> int:
        """Delete a record's events and files (records and objects). Safe to
        run again at any point: it deletes whatever is left."""
        partition = keys.parent_partition(tenant_id, kind, parent_id)
        deleted = 0
        for prefix in (keys.HISTORY_PREFIX, keys.FILE_PREFIX):
            while True:
                found = self._first_page(partition, prefix)
                if not found.items:
                    break
                usage: list[Any] = []
                if prefix == keys.FILE_PREFIX:
                    # Objects first: a crash in between leaves the record, and the rerun finds it.
                    for item in found.items:
                        self._files.discard_object(tenant_id, item["id"])
                else:
                    uses = Counter(item.get("category_id") for item in found.items)
                    usage = category_usage_ops(tenant_id, {c: -n for c, n in uses.items() if c})
                self._table.transact([*(Delete(key_of(item)) for item in found.items), *usage])
                deleted += len(found.items)
        return deleted

    def move_all(self, tenant_id: str, kind: str, from_id: str, to_id: str) -> int:
        """Re-parent every event and file of one record to another of the same
        kind (merge). Each item is copied and deleted in one transaction,
        conditional on its version, so a concurrent edit is retried, never
        lost; a rerun moves whatever is left."""
        if from_id == to_id:
            return 0
        source = keys.parent_partition(tenant_id, kind, from_id)
        target = keys.parent_partition(tenant_id, kind, to_id)
        moved = 0
        for prefix in (keys.HISTORY_PREFIX, keys.FILE_PREFIX):
            failures = 0
            while True:
                found = self._first_page(source, prefix)
                if not found.items:
                    break
                operations: list[Any] = []
                for item in found.items:
                    copy = {
                        **item,
                        "pk": target,
                        "parent": {"kind": kind, "id": to_id},
                        "version": int(item.get("version", 1)) + 1,
                    }
                    operations += [
                        Delete(key_of(item), expected_version=int(item.get("version", 1)), must_exist=True),
                        Put(copy),
                    ]
                try:
                    self._table.transact(operations)
                except (PreconditionFailed, Conflict):
                    failures += 1
                    if failures > MAX_RETRIES:
                        raise
                    continue
                failures = 0
                moved += len(found.items)
        return moved


def delete_all_for_parent(tenant_id: str, kind: str, parent_id: str) -> int:
    """The cascade of a deleted contact, deal or case (see HistoryStore)."""
    return HistoryStore().delete_all_for_parent(tenant_id, kind, parent_id)


def move_all(tenant_id: str, kind: str, from_id: str, to_id: str) -> int:
    """The history part of a merge (see HistoryStore)."""
    return HistoryStore().move_all(tenant_id, kind, from_id, to_id)
