"""Expiring items, found through the ``schedule`` index's hourly buckets."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import SortKey, Table, key_of
from chalicelib.storage.dynamo.table_spec import SCHEDULE_INDEX

_JOB = "housekeeping"


class ExpiringItemsStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def last_sweep(self) -> datetime | None:
        state = self._table.get(keys.job_state(_JOB))
        return datetime.fromisoformat(state["swept_until"]) if state else None

    def record_sweep(self, until: datetime) -> None:
        self._table.update(keys.job_state(_JOB), set={"swept_until": iso(until)}, bump_version=False, must_exist=False)

    def delete_expired(self, hour: datetime, now: datetime) -> int:
        deleted, after = 0, None
        while True:
            page = self._table.query(
                keys.expiry_bucket(hour),
                index=SCHEDULE_INDEX,
                sort=SortKey.at_most(iso(now)),
                page=PageRequest(limit=100, after=after),
            )
            for item in page.items:
                # Conditional: an item whose expiry was extended meanwhile stays.
                if self._table.delete_if(key_of(item), "ttl", "<=", int(now.timestamp())):
                    deleted += 1
            if page.after is None:
                return deleted
            after = page.after
