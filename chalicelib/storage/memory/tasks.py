"""Twins of the task stores (storage/tasks/): tasks with their index entries,
and the armed reminders each task write arms, re-arms or disarms."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.ports import Entry
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import Task, TaskQuery
from chalicelib.domain.tasks.reminders import ArmedReminder
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.keys import SortKey
from chalicelib.storage.indexes import Entries
from chalicelib.storage.indexes.tasks import index_entries, plan_facet
from chalicelib.storage.memory.db import GLOBAL, MemoryDb
from chalicelib.storage.memory.indexed_store import MemoryIndexedStore, Visible, logged
from chalicelib.storage.memory.jobs import JOB_STATE
from chalicelib.storage.memory.records import log_change
from chalicelib.storage.memory.settings import use_entries

CATEGORIES = "task-categories"
REMINDERS = "reminders"  # task id -> JSON {"remind_at": iso, "sent_at": iso?}


def _reminder_writes(db: MemoryDb, task: Task, reminder: ArmedReminder | None, disarm: bool) -> Callable[[], int]:
    """Arm (replacing any earlier instant) or disarm the task's reminder, with the task's write."""

    def write() -> int:
        rows = db.table(task.tenant_id, REMINDERS)
        if reminder is not None:
            rows[task.id] = json.dumps({"remind_at": iso(reminder.remind_at)})
            return 1
        if disarm:
            rows.pop(task.id, None)
            return 1
        return 0

    return write


class MemoryTaskStore(MemoryIndexedStore[Task]):
    kind = "task"
    model = Task
    entry_id = "tid"

    def tenant_of(self, record: Task) -> str:
        return record.tenant_id

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.task_facet(tenant_id, name)

    def index_entries(self, record: Task) -> Entries:
        return index_entries(record)

    def effects(self, before: Task | None, after: Task | None, *, by: str | None, at: datetime) -> int:
        task = after or before
        assert task is not None
        return log_change(self._db, task.tenant_id, "task", task.id, logged(before), logged(after), by=by, at=at) + (
            use_entries(
                self._db,
                task.tenant_id,
                CATEGORIES,
                before.category_id if before else None,
                after.category_id if after else None,
                field="category_id",
            )
        )

    def create_task(self, principal: Principal, task: Task, *, reminder: ArmedReminder | None) -> None:
        self.create(task, by=principal.user_id, extra=_reminder_writes(self._db, task, reminder, False))

    def update_task(
        self, principal: Principal, before: Task, after: Task, *, reminder: ArmedReminder | None, disarm: bool
    ) -> Task:
        return self.update(
            before, after, by=principal.user_id, extra=_reminder_writes(self._db, after, reminder, disarm)
        )

    def delete_task(self, principal: Principal, task: Task, *, at: datetime) -> None:
        self.delete(task, by=principal.user_id, at=at, extra=_reminder_writes(self._db, task, None, True))

    def query_tasks(
        self,
        tenant_id: str,
        query: TaskQuery,
        low: datetime | None,
        high: datetime | None,
        page: PageRequest,
        *,
        visible: Visible,
    ) -> Slice[Task]:
        start, end = keys.task_due_range(low, high)
        return self.query(
            tenant_id, plan_facet(query), page, sort=SortKey.between(start, end), newest_first=False, visible=visible
        )

    def entry_page(self, tenant_id: str, facet: str, page: PageRequest) -> Slice[Entry]:
        return self.query_entries(
            tenant_id, self.facet(tenant_id, facet), page, sort=SortKey.begins_with(keys.TASK_BY_DUE)
        )


class MemoryReminderStore:
    _JOB = "reminders"

    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def get(self, tenant_id: str, task_id: str) -> ArmedReminder | None:
        text = self._db.table(tenant_id, REMINDERS).get(task_id)
        item = json.loads(text) if text else None
        if item is None or item.get("sent_at"):
            return None
        return ArmedReminder(tenant_id, task_id, datetime.fromisoformat(item["remind_at"]))

    def last_sweep(self) -> datetime | None:
        swept: str | None = self._db.table(GLOBAL, JOB_STATE).get(self._JOB)
        return datetime.fromisoformat(swept) if swept else None

    def record_sweep(self, until: datetime) -> None:
        self._db.table(GLOBAL, JOB_STATE)[self._JOB] = iso(until)

    def due_between(self, since: datetime, until: datetime) -> list[ArmedReminder]:
        """Armed reminders from ``since``'s minute through ``until``, every tenant,
        in the order of the minute buckets (instant, tenant, task)."""
        first_minute = since.astimezone(UTC).replace(second=0, microsecond=0)
        found = []
        for tenant_id in self._db.tenants(REMINDERS):
            for task_id in self._db.table(tenant_id, REMINDERS):
                armed = self.get(tenant_id, task_id)
                if armed is not None and first_minute <= armed.remind_at <= until:
                    found.append(armed)
        found.sort(key=lambda r: (iso(r.remind_at), r.tenant_id, r.task_id))
        return [r for r in found if since - timedelta(minutes=1) <= r.remind_at <= until]

    def mark_sent(self, reminder: ArmedReminder) -> bool:
        rows = self._db.table(reminder.tenant_id, REMINDERS)
        text = rows.get(reminder.task_id)
        item = json.loads(text) if text else None
        if item is None or item.get("sent_at") or item["remind_at"] != iso(reminder.remind_at):
            return False
        rows[reminder.task_id] = json.dumps({**item, "sent_at": iso(datetime.now(UTC))})
        return True
