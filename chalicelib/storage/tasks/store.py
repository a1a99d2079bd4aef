"""Tasks in the single table.

A task is one item (``T#t#TASK#<id>`` / ``META``); its armed reminder sits
next to it (``sk=REMINDER``, storage/tasks/reminders.py). Every list is a Query on
*index entries*: one small item per facet the task belongs to (all,
resp#<uid>, resp#<uid>#<status>, status#<s>, category#<id>, contact#<id>,
deal#<id>, case#<id>), sorted by due time then id, written in the task's own
transaction and carrying the filterable and access attributes. A list page
is one Query on the most selective facet (filtering the rest, and what the
caller may not see, while filling the page) plus one BatchGetItem.

The task's transaction also holds its change-log entry, the task-category
use counters and the reminder (armed, re-armed or disarmed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import Task, TaskQuery
from chalicelib.domain.tasks.reminders import ArmedReminder
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.dynamo.table import SortKey
from chalicelib.storage.indexes.tasks import index_entries, plan_facet
from chalicelib.storage.records.changelog import change_ops
from chalicelib.storage.settings.lists import usage_ops
from chalicelib.storage.tasks.reminders import arm_op, disarm_op

CATEGORIES = "task-categories"


def _logged(task: Task | None) -> dict[str, Any] | None:
    return task.model_dump(mode="json", exclude={"tenant_id"}) if task else None


def _reminder_ops(task: Task, reminder: ArmedReminder | None, disarm: bool) -> list[Any]:
    if reminder is not None:
        return [arm_op(reminder)]
    return [disarm_op(task.tenant_id, task.id)] if disarm else []


class TaskStore(IndexedStore[Task]):
    kind = "task"
    model = Task
    entry_id = "tid"

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.task(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.task_facet(tenant_id, name)

    def index_entries(self, record: Task) -> dict[EntryKey, Item]:
        return index_entries(record)

    def side_ops(self, before: Task | None, after: Task | None, *, by: str | None, at: Any) -> list[Any]:
        task = after or before
        assert task is not None
        return [
            *change_ops(task.tenant_id, "task", task.id, _logged(before), _logged(after), by=by, at=at),
            *usage_ops(
                task.tenant_id,
                CATEGORIES,
                before.category_id if before else None,
                after.category_id if after else None,
                field="category_id",
            ),
        ]

    def create_task(
        self, principal: Principal, task: Task, *, reminder: ArmedReminder | None, extra: Sequence[Any] = ()
    ) -> None:
        self.create(task, by=principal.user_id, extra=[*_reminder_ops(task, reminder, False), *extra])

    def update_task(
        self,
        principal: Principal,
        before: Task,
        after: Task,
        *,
        reminder: ArmedReminder | None,
        disarm: bool,
        extra: Sequence[Any] = (),
    ) -> Task:
        return self.update(before, after, by=principal.user_id, extra=[*_reminder_ops(after, reminder, disarm), *extra])

    def delete_task(self, principal: Principal, task: Task, *, at: Any) -> None:
        self.delete(task, by=principal.user_id, at=at, extra=_reminder_ops(task, None, True))

    def query_tasks(
        self,
        tenant_id: str,
        query: TaskQuery,
        low: Any,
        high: Any,
        page: PageRequest,
        *,
        visible: Callable[[Item], bool],
    ) -> Slice[Task]:
        """One page of tasks for the filters, due between low and high (UTC,
        inclusive; None: open), read from the best index partition."""
        start, end = keys.task_due_range(low, high)
        return self.query(
            tenant_id, plan_facet(query), page, sort=SortKey.between(start, end), newest_first=False, visible=visible
        )

    def entry_page(self, tenant_id: str, facet: str, page: PageRequest) -> Slice[Item]:
        """Raw index entries of a facet, a page at a time (cascades and category replacement)."""
        return self.query_entries(self.facet(tenant_id, facet), page, sort=SortKey.begins_with(keys.TASK_BY_DUE))
