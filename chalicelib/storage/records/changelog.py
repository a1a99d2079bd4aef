"""The change log in the table: one immutable item per write, in a partition
per record (``T#t#CHANGES#<entity>#<id>``) that outlives the record.

Writers never call this module on their own: a record's store adds
``change_entry_op`` (or ``change_ops``) to the transaction that writes the
record, so the record and its log entry are written together or not at all.
Values are stored as one JSON text (any JSON value, floats included, round
trips exactly; DynamoDB numbers would not take floats).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.records.changelog import ChangeEntry, change_entry
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Put, SortKey, Table


def _item(tenant_id: str, entry: ChangeEntry) -> dict[str, Any]:
    item = entry.model_dump(mode="json", exclude={"changes"})
    item["changes"] = json.dumps(
        [c.model_dump(mode="json") for c in entry.changes], separators=(",", ":"), ensure_ascii=False
    )
    return {**item, **keys.change_entry(tenant_id, entry.entity, entry.record_id, entry.id)}


def _entry(item: Mapping[str, Any]) -> ChangeEntry:
    return ChangeEntry.model_validate({**item, "changes": json.loads(item.get("changes") or "[]")})


def change_entry_op(tenant_id: str, entry: ChangeEntry) -> Put:
    """The Put for the record's own transaction (never overwrites an entry)."""
    return Put(_item(tenant_id, entry))


def change_ops(
    tenant_id: str,
    entity: str,
    record_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    by: str | None,
    at: datetime,
) -> list[Put]:
    """Diff and Put in one call: [] for an update that changed nothing."""
    entry = change_entry(entity, record_id, before, after, by=by, at=at)
    return [change_entry_op(tenant_id, entry)] if entry is not None else []


def list_changes(
    tenant_id: str, entity: str, record_id: str, page: PageRequest, *, table: Table | None = None
) -> Slice[ChangeEntry]:
    """A record's log, newest first."""
    found = (table or Table()).query(
        keys.change_log(tenant_id, entity, record_id),
        sort=SortKey.begins_with(keys.CHANGE_PREFIX),
        page=page,
        newest_first=True,
    )
    return Slice([_entry(i) for i in found.items], found.after)


class ChangeLogStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def list_changes(self, tenant_id: str, entity: str, record_id: str, page: PageRequest) -> Slice[ChangeEntry]:
        return list_changes(tenant_id, entity, record_id, page, table=self._table)
