"""Tasks and their reminders as the services decide (TSK-1..7, SET-10), over
in-memory twins and a clock the tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.contacts.models import ContactChanges, NewContact
from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.shared.errors import NotFound, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import NewTask, TaskChanges, TaskQuery
from tests.unit.conftest import FixedClock, Unit

BERLIN = ZoneInfo("Europe/Berlin")


def titles(unit: Unit, principal: Principal, query: TaskQuery | None = None) -> list[str]:
    found = unit.tasks.list(principal, query or TaskQuery(), PageRequest(), time_zone="Europe/Berlin")
    return [t.title for t in found.items]


def test_today_and_this_week_are_days_in_the_tenants_zone(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant(time_zone="Europe/Berlin")
    # Wednesday 2026-12-02, 00:30 in Berlin: still Tuesday in UTC.
    clock.now = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    for title, due in [
        ("today early", datetime(2026, 12, 2, 0, 5, tzinfo=BERLIN)),
        ("today late", datetime(2026, 12, 2, 23, 59, tzinfo=BERLIN)),
        ("monday", datetime(2026, 11, 30, 0, 0, tzinfo=BERLIN)),
        ("sunday", datetime(2026, 12, 6, 23, 59, tzinfo=BERLIN)),
        ("last sunday", datetime(2026, 11, 29, 23, 59, tzinfo=BERLIN)),
        ("yesterday", datetime(2026, 12, 1, 23, 0, tzinfo=BERLIN)),
    ]:
        unit.tasks.create(acme.owner, NewTask(title=title, due_at=due))

    assert titles(unit, acme.owner, TaskQuery(due="today")) == ["today early", "today late"]
    assert titles(unit, acme.owner, TaskQuery(due="week")) == [
        "monday",
        "yesterday",
        "today early",
        "today late",
        "sunday",
    ]
    # Overdue is before now, whatever the day: 00:05 was 25 minutes ago.
    overdue = ["last sunday", "monday", "yesterday", "today early"]
    assert titles(unit, acme.owner, TaskQuery(due="overdue")) == overdue


def test_a_reminder_reaches_the_responsible_user_once(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    due = clock.now + timedelta(days=1)
    unit.tasks.create(
        acme.owner, NewTask(title="Send the offer", due_at=due, remind_minutes=60, responsible_id=ann.user_id)
    )

    clock.now = due - timedelta(minutes=61)
    assert unit.reminders.sweep() == 0
    clock.now = due - timedelta(minutes=59)
    assert unit.reminders.sweep() == 1
    unit.reminders.sweep()  # an overlapping run finds it again ...
    unit.run_jobs()  # ... and it is still delivered once
    subjects = [n.subject for n in unit.notifier.inbox(ann, PageRequest()).items]
    assert subjects == ["Reminder: Send the offer — due 03.03.2026 10:00 (Europe/Berlin)"]
    assert [m.subject for m in unit.mail] == subjects


def test_a_moved_due_time_rearms_the_reminder_and_a_closed_task_has_none(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    task = unit.tasks.create(
        acme.owner, NewTask(title="Call", due_at=clock.now + timedelta(hours=3), remind_minutes=60)
    )
    later = clock.now + timedelta(hours=5)
    moved = unit.tasks.update(acme.owner, task.id, TaskChanges(due_at=later), expected_version=1)
    clock.advance(hours=2, minutes=1)  # the old instant
    assert unit.reminders.sweep() == 0
    unit.tasks.update(acme.owner, task.id, TaskChanges(status="closed"), expected_version=moved.version)
    clock.advance(hours=2)  # the new instant, but the task is closed
    assert unit.reminders.sweep() == 0


def test_the_responsible_user_is_told_and_must_be_active(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    task = unit.tasks.create(ann, NewTask(title="Prepare", due_at=unit.clock(), notify=True))
    assert unit.notifier.inbox(ann, PageRequest()).items == []  # nobody tells themselves
    unit.tasks.update(ann, task.id, TaskChanges(responsible_id=bob.user_id), expected_version=1)
    assert [n.subject for n in unit.notifier.inbox(bob, PageRequest()).items] == ["New task for you: Prepare"]

    unit.users.deactivate(acme.owner, bob.user_id)
    assert acme.user(bob).status == UserStatus.DEACTIVATED
    with pytest.raises(ValidationFailed) as refused:
        unit.tasks.create(ann, NewTask(title="x", due_at=unit.clock(), responsible_id=bob.user_id))
    assert refused.value.errors[0].field == "responsible_id"


def test_whoever_reads_the_linked_contact_reads_the_task(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = unit.contacts.create(ann, acme.record, NewContact(kind="person", first_name="Anna", last_name="Lee"))
    task = unit.tasks.create(ann, NewTask(title="Visit Anna", due_at=unit.clock(), contact_id=anna.id))

    with pytest.raises(NotFound):
        unit.tasks.get(bob, task.id)
    assert titles(unit, bob) == []
    unit.contacts.update(ann, acme.record, anna.id, ContactChanges(access="shared_read"), expected_version=1)
    assert unit.tasks.get(bob, task.id) == task
    assert titles(unit, bob) == ["Visit Anna"]


def test_a_retired_category_hands_its_tasks_to_the_replacement(unit: Unit) -> None:
    acme = unit.tenant()
    phone, follow_up = (unit.settings_lists.list(acme.owner, "task-categories")[n] for n in (0, 5))
    for n in range(3):
        unit.tasks.create(acme.owner, NewTask(title=f"t{n}", due_at=unit.clock(), category_id=phone.id))

    unit.settings_lists.delete(acme.owner, "task-categories", phone.id, replacement=follow_up.id)
    assert unit.settings_lists.resolve(acme.owner, "task-categories", phone.id) == unit.settings_lists.get(
        acme.owner, "task-categories", follow_up.id
    )
    unit.run_jobs()
    assert titles(unit, acme.owner, TaskQuery(category_id=follow_up.id)) == ["t0", "t1", "t2"]
    assert unit.settings_lists.get(acme.owner, "task-categories", follow_up.id).in_use == 3
