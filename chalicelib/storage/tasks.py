"""Tasks in the single table.

A task is one item (``T#t#TASK#<id>`` / ``META``); its armed reminder sits
next to it (``sk=REMINDER``, storage/reminders.py). Every list is a Query on
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

from typing import Any, Callable, Iterable

from chalicelib.domain.clock import iso
from chalicelib.domain.pagination import PageRequest, Slice
from chalicelib.domain.principal import Principal
from chalicelib.domain.reminders import ArmedReminder
from chalicelib.domain.tasks import Task, TaskQuery
from chalicelib.storage import keys
from chalicelib.storage.changelog import change_ops
from chalicelib.storage.reminders import arm_op, disarm_op
from chalicelib.storage.settings import usage_ops
from chalicelib.storage.table import Delete, Put, SortKey, Table, Update

Item = dict[str, Any]
EntryKey = tuple[str, str]
CATEGORIES = "task-categories"


def _task_item(task: Task) -> Item:
    return {**task.model_dump(mode="json"), **keys.task(task.tenant_id, task.id)}


def facets(task: Task) -> list[str]:
    status = task.status.value
    names = ["all", f"resp#{task.responsible_id}", f"resp#{task.responsible_id}#{status}", f"status#{status}"]
    if task.category_id:
        names.append(f"category#{task.category_id}")
    names += [f"{kind}#{record_id}" for kind, record_id in task.links()]
    return names


def index_entries(task: Task) -> dict[EntryKey, Item]:
    attributes: Item = {
        "tid": task.id, "responsible_id": task.responsible_id, "created_by": task.created_by,
        "status": task.status.value, "category_id": task.category_id, "contact_id": task.contact_id,
        "deal_id": task.deal_id, "case_id": task.case_id, "due_at": iso(task.due_at),
    }
    sk = keys.task_by_due(task.due_at, task.id)
    entries: dict[EntryKey, Item] = {}
    for facet in facets(task):
        pk = keys.task_facet(task.tenant_id, facet)
        entries[(pk, sk)] = {"pk": pk, "sk": sk, **attributes}
    return entries


def _entry_ops(before: Task | None, after: Task | None) -> list[Put | Delete]:
    old = index_entries(before) if before else {}
    new = index_entries(after) if after else {}
    ops: list[Put | Delete] = [Put(item, must_not_exist=False) for key, item in new.items() if old.get(key) != item]
    ops += [Delete({"pk": pk, "sk": sk}) for (pk, sk) in old if (pk, sk) not in new]
    return ops


def _logged(task: Task | None) -> dict[str, Any] | None:
    return task.model_dump(mode="json", exclude={"tenant_id"}) if task else None


def _side_ops(principal_id: str, before: Task | None, after: Task | None, at: Any,
              reminder: ArmedReminder | None, disarm: bool) -> list[Any]:
    task = after or before
    assert task is not None
    tenant = task.tenant_id
    ops: list[Any] = [
        *change_ops(tenant, "task", task.id, _logged(before), _logged(after), by=principal_id, at=at),
        *usage_ops(tenant, CATEGORIES, before.category_id if before else None,
                   after.category_id if after else None, field="category_id"),
    ]
    if reminder is not None:
        ops.append(arm_op(reminder))
    elif disarm:
        ops.append(disarm_op(tenant, task.id))
    return ops


class TaskStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def get(self, tenant_id: str, task_id: str) -> Task | None:
        item = self._table.get(keys.task(tenant_id, task_id))
        return Task.model_validate(item) if item else None

    def get_many(self, tenant_id: str, task_ids: Iterable[str]) -> list[Task]:
        """In the order asked; missing ones left out."""
        ordered = list(dict.fromkeys(task_ids))
        found = {i["pk"]: i for i in self._table.get_many(keys.task(tenant_id, t) for t in ordered)}
        return [Task.model_validate(found[keys.task(tenant_id, t)["pk"]])
                for t in ordered if keys.task(tenant_id, t)["pk"] in found]

    def create(self, principal: Principal, task: Task, *, reminder: ArmedReminder | None) -> None:
        self._table.transact([Put(_task_item(task)), *_entry_ops(None, task),
                              *_side_ops(principal.user_id, None, task, task.created_at, reminder, False)])

    def update(self, principal: Principal, before: Task, after: Task, *, expected_version: int,
               reminder: ArmedReminder | None, disarm: bool) -> Task:
        item = _task_item(after)
        changes = {k: v for k, v in item.items() if k not in ("pk", "sk", "id", "version", "tenant_id")}
        self._table.transact([
            Update(keys.task(after.tenant_id, after.id), set=changes, expected_version=expected_version),
            *_entry_ops(before, after),
            *_side_ops(principal.user_id, before, after, after.updated_at, reminder, disarm)])
        return after.model_copy(update={"version": expected_version + 1})

    def delete(self, principal: Principal, task: Task, *, expected_version: int | None, at: Any) -> None:
        self._table.transact([
            Delete(keys.task(task.tenant_id, task.id), expected_version=expected_version, must_exist=True),
            *_entry_ops(task, None), *_side_ops(principal.user_id, task, None, at, None, True)])

    def query(self, tenant_id: str, query: TaskQuery, low: Any, high: Any, page: PageRequest, *,
              visible: Callable[[Item], bool]) -> Slice[Task]:
        """One page of tasks for the filters, due between low and high (UTC,
        inclusive; None: open), read from the best index partition."""
        start, end = keys.task_due_range(low, high)
        entries = self._table.query(keys.task_facet(tenant_id, plan_facet(query)), sort=SortKey.between(start, end),
                                    page=page, visible=visible, consistent=True)
        return Slice(self.get_many(tenant_id, [e["tid"] for e in entries.items]), entries.after)

    def entries(self, tenant_id: str, facet: str, page: PageRequest) -> Slice[Item]:
        """Raw index entries of a facet (cascades and category replacement)."""
        return self._table.query(keys.task_facet(tenant_id, facet), sort=SortKey.begins_with(keys.TASK_BY_DUE),
                                 page=page, consistent=True)


def plan_facet(query: TaskQuery) -> str:
    """The most selective partition for the filters; the rest filter entries."""
    if query.contact_id:
        return f"contact#{query.contact_id}"
    if query.deal_id:
        return f"deal#{query.deal_id}"
    if query.case_id:
        return f"case#{query.case_id}"
    if query.responsible_id:
        status = query.status.value if query.status else ("open" if query.due and query.due.value == "overdue"
                                                           else None)
        return f"resp#{query.responsible_id}" + (f"#{status}" if status else "")
    if query.category_id:
        return f"category#{query.category_id}"
    if query.status:
        return f"status#{query.status.value}"
    if query.due and query.due.value == "overdue":
        return "status#open"
    return "all"
