"""What a deal's or a case's transaction writes besides the record and its
index entries (storage/dynamo/indexed_store.py): its change-log entry and the use
counters of the custom fields it holds."""

from __future__ import annotations

from typing import Any

from chalicelib.storage.records.changelog import change_ops
from chalicelib.storage.settings.custom_fields import field_usage_ops


def restricted_record_ops(kind: str, before: Any | None, after: Any | None, *, by: str | None, at: Any) -> list[Any]:
    record = after or before
    assert record is not None, "a write has a before or an after"
    logged = [r.model_dump(mode="json", exclude={"tenant_id"}) if r else None for r in (before, after)]
    return [
        *change_ops(record.tenant_id, kind, record.id, logged[0], logged[1], by=by, at=at),
        *field_usage_ops(
            record.tenant_id, before.custom_fields if before else None, after.custom_fields if after else None
        ),
    ]
