"""The task and reminder ports: tasks by due time through their facets, the
version checks, and the reminder each task write arms, re-arms or disarms
(delivered once, found across tenants by minute)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.shared.errors import Conflict, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.tasks.models import TaskQuery, TaskStatus
from chalicelib.domain.tasks.reminders import ArmedReminder
from tests.contract.conftest import NOW, Stores, task, walk


def everything(entry: dict[str, Any]) -> bool:
    return True


def test_tasks_list_by_due_time_within_a_range_and_a_facet(stores: Stores) -> None:
    acme, owner = stores.tenant("Acme")
    globex, globex_owner = stores.tenant("Globex")
    call = stores.entry(acme.id, "task-categories")
    due = [task(owner, f"t{n}", NOW + timedelta(days=n), category_id=call.id if n % 2 else None) for n in range(5)]
    for item in reversed(due):
        stores.tasks.create_task(owner, item, reminder=None)
    stores.tasks.create_task(globex_owner, task(globex_owner, "other", NOW), reminder=None)
    with pytest.raises(Conflict):
        stores.tasks.create_task(owner, due[0], reminder=None)

    def listed(query: TaskQuery, low: datetime | None = None, high: datetime | None = None) -> list[str]:
        found = walk(lambda page: stores.tasks.query_tasks(acme.id, query, low, high, page, visible=everything), 2)
        return [t.title for t in found]

    assert listed(TaskQuery()) == ["t0", "t1", "t2", "t3", "t4"]  # soonest first
    assert listed(TaskQuery(), NOW + timedelta(days=1), NOW + timedelta(days=3)) == ["t1", "t2", "t3"]  # inclusive
    assert listed(TaskQuery(category_id=call.id)) == ["t1", "t3"]
    assert stores.entry(acme.id, "task-categories").in_use == 2
    entries = walk(lambda page: stores.tasks.entry_page(acme.id, f"category#{call.id}", page), 1)
    assert [e["tid"] for e in entries] == [due[1].id, due[3].id]
    assert [t.title for t in stores.tasks.get_many(acme.id, [due[4].id, "missing", due[0].id])] == ["t4", "t0"]
    assert stores.tasks.get(globex.id, due[0].id) is None

    with pytest.raises(ValidationFailed):  # a category that does not exist
        stores.tasks.create_task(owner, task(owner, "x", NOW, category_id="nope"), reminder=None)


def test_task_writes_are_versioned_and_carry_the_reminder(stores: Stores) -> None:
    acme, owner = stores.tenant("Acme")
    globex, globex_owner = stores.tenant("Globex")
    first = task(owner, "call back", NOW + timedelta(hours=2))
    at = NOW + timedelta(hours=1)
    stores.tasks.create_task(owner, first, reminder=ArmedReminder(acme.id, first.id, at))
    other = task(globex_owner, "elsewhere", NOW + timedelta(hours=2))
    stores.tasks.create_task(globex_owner, other, reminder=ArmedReminder(globex.id, other.id, at))
    assert stores.reminders.get(acme.id, first.id) == ArmedReminder(acme.id, first.id, at)

    due = stores.reminders.due_between(at - timedelta(minutes=5), at)
    assert {(r.tenant_id, r.task_id) for r in due} == {(acme.id, first.id), (globex.id, other.id)}
    assert stores.reminders.due_between(at + timedelta(minutes=2), at + timedelta(minutes=5)) == []

    later = at + timedelta(minutes=30)
    moved = stores.tasks.update_task(
        owner,
        first,
        first.model_copy(update={"title": "call"}),
        reminder=ArmedReminder(acme.id, first.id, later),
        disarm=False,
    )
    assert moved.version == 2
    assert not stores.reminders.mark_sent(ArmedReminder(acme.id, first.id, at))  # re-armed: the old instant is void
    assert stores.reminders.mark_sent(ArmedReminder(acme.id, first.id, later))
    assert not stores.reminders.mark_sent(ArmedReminder(acme.id, first.id, later))  # once
    assert stores.reminders.get(acme.id, first.id) is None

    with pytest.raises(PreconditionFailed):
        stores.tasks.update_task(owner, first, first, reminder=None, disarm=False)  # version 1 is gone
    closed = moved.model_copy(update={"status": TaskStatus.CLOSED})
    stores.tasks.update_task(owner, moved, closed, reminder=None, disarm=True)
    stores.tasks.delete_task(globex_owner, other, at=NOW)
    assert stores.reminders.get(globex.id, other.id) is None
    assert stores.tasks.get(globex.id, other.id) is None
    log = stores.changelog.list_changes(acme.id, "task", first.id, PageRequest())
    assert [c.action for c in log.items] == ["updated", "updated", "created"]

    stores.reminders.record_sweep(NOW)
    assert stores.reminders.last_sweep() == NOW
