"""Tasks as users work with them (TSK-1..7): creating, linking, assigning,
due dates, categories, closing, deleting, bulk creation, the parent cascades
and reminders, over in-memory twins and a clock the tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.domain.contacts.models import Contact, NewContact
from chalicelib.domain.deals.models import NewDeal
from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.settings.lists import NewTaskCategory
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import NewTask, NewTasksForContacts, Task, TaskChanges, TaskQuery, due_window
from chalicelib.domain.tasks.reminders import DeliverReminder, reminder_instant
from tests.unit.conftest import START, FixedClock, Unit, UnitTenant

BERLIN = ZoneInfo("Europe/Berlin")
TOMORROW = START + timedelta(days=1)


def task(unit: Unit, by: Principal, title: str = "Call back", **fields: Any) -> Task:
    fields.setdefault("due_at", TOMORROW)
    return unit.tasks.create(by, NewTask(title=title, **fields))


def change(unit: Unit, by: Principal, found: Task, **changes: Any) -> Task:
    current = unit.memory.tasks.get(found.tenant_id, found.id)
    assert current is not None
    return unit.tasks.update(by, found.id, TaskChanges(**changes), expected_version=current.version)


def contact(unit: Unit, acme: UnitTenant, by: Principal, last: str = "Müller", **fields: Any) -> Contact:
    return unit.contacts.create(by, acme.record, NewContact(kind="person", first_name="Anna", last_name=last, **fields))


def titles(unit: Unit, by: Principal, **query: Any) -> list[str]:
    return [t.title for t in unit.tasks.list(by, TaskQuery(**query), PageRequest(), time_zone="Europe/Berlin").items]


def category(unit: Unit, acme: UnitTenant, name: str) -> str:
    return next(e.id for e in unit.settings_lists.list(acme.owner, "task-categories") if e.name == name)


# ---- create ----


def test_a_new_task_is_open_and_the_creator_is_responsible(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    made = task(unit, ann)
    assert (made.status.value, made.responsible_id, made.created_by, made.version) == (
        "open",
        ann.user_id,
        ann.user_id,
        1,
    )
    assert made.closed_at is None


def test_the_due_time_is_stored_in_utc() -> None:
    new = NewTask(title="x", due_at=datetime(2026, 7, 1, 15, 0, tzinfo=BERLIN))
    assert new.due_at == datetime(2026, 7, 1, 13, 0, tzinfo=UTC) and new.due_at.tzinfo == UTC


def test_a_due_time_without_offset_is_refused() -> None:
    with pytest.raises(ValidationError):
        NewTask(title="x", due_at=datetime(2026, 7, 1, 15, 0))


def test_a_task_needs_a_title() -> None:
    with pytest.raises(ValidationError):
        NewTask(title="", due_at=TOMORROW)


def test_a_title_is_at_most_200_characters() -> None:
    with pytest.raises(ValidationError):
        NewTask(title="x" * 201, due_at=TOMORROW)


@pytest.mark.parametrize("minutes", [1, 10, 45, 2880, -5])
def test_a_reminder_is_one_of_the_offered_choices(minutes: int) -> None:
    with pytest.raises(ValidationError):
        NewTask(title="x", due_at=TOMORROW, remind_minutes=minutes)


def test_the_default_reminder_is_a_day_before() -> None:
    assert NewTask(title="x", due_at=TOMORROW).remind_minutes == 1440


def test_a_task_for_another_user_tells_them_when_asked(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    task(unit, acme.owner, "Send offer", responsible_id=ann.user_id, notify=True)
    assert [n.subject for n in unit.notifier.inbox(ann, PageRequest()).items] == ["New task for you: Send offer"]


def test_a_task_for_another_user_without_notify_tells_nobody(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    task(unit, acme.owner, responsible_id=ann.user_id)
    assert unit.notifier.inbox(ann, PageRequest()).items == []


def test_the_responsible_user_must_belong_to_the_tenant(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    gus = globex.add_user("gus")
    with pytest.raises(ValidationFailed) as err:
        task(unit, acme.owner, responsible_id=gus.user_id)
    assert err.value.errors[0].field == "responsible_id"


def test_a_task_links_a_contact_the_creator_can_read(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme, acme.owner)
    assert task(unit, acme.owner, contact_id=anna.id).contact_id == anna.id


def test_a_task_cannot_link_a_hidden_contact(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    secret = contact(unit, acme, ann)
    with pytest.raises(ValidationFailed) as err:
        task(unit, bob, contact_id=secret.id)
    assert err.value.errors[0].field == "contact_id"


def test_a_task_cannot_link_a_deal_that_does_not_exist(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed):
        task(unit, acme.owner, deal_id="no-deal")


def test_a_task_may_link_a_deal(unit: Unit) -> None:
    acme = unit.tenant()
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="Website"))
    assert task(unit, acme.owner, deal_id=deal.id).deal_id == deal.id


def test_a_category_must_be_an_active_entry(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        task(unit, acme.owner, category_id="nope")
    assert err.value.errors[0].field == "category_id"
    assert task(unit, acme.owner, category_id=category(unit, acme, "Demo")).category_id


def test_a_category_in_use_cannot_be_deleted_without_replacement(unit: Unit) -> None:
    acme = unit.tenant()
    demo = category(unit, acme, "Demo")
    task(unit, acme.owner, category_id=demo)
    with pytest.raises(Conflict, match="replace_with"):
        unit.settings_lists.delete(acme.owner, "task-categories", demo)


def test_a_category_whose_tasks_are_deleted_can_be_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    demo = category(unit, acme, "Demo")
    made = task(unit, acme.owner, category_id=demo)
    unit.tasks.delete(acme.owner, made.id, expected_version=1)
    unit.settings_lists.delete(acme.owner, "task-categories", demo)
    assert "Demo" not in [e.name for e in unit.settings_lists.list(acme.owner, "task-categories")]


def test_a_retired_category_takes_no_new_tasks(unit: Unit) -> None:
    acme = unit.tenant()
    demo, lunch = category(unit, acme, "Demo"), category(unit, acme, "Lunch")
    task(unit, acme.owner, category_id=demo)
    unit.settings_lists.delete(acme.owner, "task-categories", demo, replacement=lunch)
    with pytest.raises(ValidationFailed):
        task(unit, acme.owner, "Another", category_id=demo)


def test_a_new_category_is_usable_at_once(unit: Unit) -> None:
    acme = unit.tenant()
    webinar = unit.settings_lists.create(acme.owner, "task-categories", NewTaskCategory(name="Webinar", icon="video"))
    assert task(unit, acme.owner, category_id=webinar.id).category_id == webinar.id


# ---- bulk creation (TSK-6) ----


def test_bulk_creates_one_task_per_visible_contact_and_reports_the_rest(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    mine = [contact(unit, acme, ann, f"N{n}") for n in range(2)]
    hidden = contact(unit, acme, acme.owner, "Hidden")
    report = unit.tasks.create_for_contacts(
        ann, NewTasksForContacts(title="Invite", due_at=TOMORROW, contact_ids=[*(c.id for c in mine), hidden.id])
    )
    assert [r["contact_id"] for r in report.created] == [c.id for c in mine]
    assert [(f["contact_id"], f["status"]) for f in report.failed] == [(hidden.id, 404)]
    assert sorted(t.contact_id or "" for t in unit.tasks.list(ann, TaskQuery(), PageRequest()).items) == sorted(
        c.id for c in mine
    )


def test_bulk_ignores_repeated_contacts(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme, acme.owner)
    report = unit.tasks.create_for_contacts(
        acme.owner, NewTasksForContacts(title="Invite", due_at=TOMORROW, contact_ids=[anna.id, anna.id])
    )
    assert len(report.created) == 1


def test_bulk_with_a_bad_category_fails_as_a_whole(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme, acme.owner)
    with pytest.raises(ValidationFailed):
        unit.tasks.create_for_contacts(
            acme.owner, NewTasksForContacts(title="x", due_at=TOMORROW, category_id="nope", contact_ids=[anna.id])
        )
    assert titles(unit, acme.owner) == []


def test_bulk_takes_at_most_500_contacts() -> None:
    with pytest.raises(ValidationError):
        NewTasksForContacts(title="x", due_at=TOMORROW, contact_ids=[f"c{n}" for n in range(501)])


# ---- access ----


def test_a_task_of_others_without_a_link_is_hidden(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = task(unit, ann)
    with pytest.raises(NotFound):
        unit.tasks.get(bob, made.id)
    assert titles(unit, bob) == []


def test_the_responsible_user_may_change_and_delete_a_task(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    made = task(unit, acme.owner, responsible_id=ann.user_id)
    assert change(unit, ann, made, title="Call back today").title == "Call back today"
    unit.tasks.delete(ann, made.id, expected_version=2)
    with pytest.raises(NotFound):
        unit.tasks.get(acme.owner, made.id)


def test_the_creator_keeps_access_after_handing_the_task_over(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = task(unit, ann)
    change(unit, ann, made, responsible_id=bob.user_id)
    assert unit.tasks.get(ann, made.id).responsible_id == bob.user_id


def test_a_reader_of_the_linked_contact_reads_but_may_not_change_the_task(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    shared = contact(unit, acme, ann, access="shared_read")
    made = task(unit, ann, contact_id=shared.id)
    assert unit.tasks.get(bob, made.id).id == made.id
    with pytest.raises(Forbidden):
        change(unit, bob, made, title="Mine now")
    with pytest.raises(Forbidden):
        unit.tasks.delete(bob, made.id, expected_version=1)


def test_only_responsible_creator_or_admin_hand_a_task_over(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    shared = contact(unit, acme, ann, access="shared_write")
    made = task(unit, ann, contact_id=shared.id)
    with pytest.raises(Forbidden):
        change(unit, bob, made, responsible_id=bob.user_id)


def test_an_admin_sees_every_task(unit: Unit) -> None:
    acme = unit.tenant()
    ann, boss = acme.add_user("ann"), acme.admin()
    task(unit, ann, "Ann's")
    assert titles(unit, boss) == ["Ann's"]


def test_a_task_of_another_tenant_does_not_exist(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    made = task(unit, acme.owner)
    with pytest.raises(NotFound):
        unit.tasks.get(globex.owner, made.id)


# ---- update and close ----


def test_closing_records_who_and_when(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    made = task(unit, acme.owner, responsible_id=ann.user_id)
    clock.advance(hours=2)
    closed = change(unit, ann, made, status="closed")
    assert (closed.status.value, closed.closed_at, closed.closed_by) == ("closed", clock.now, ann.user_id)


def test_reopening_clears_the_closing(unit: Unit) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner)
    closed = change(unit, acme.owner, made, status="closed")
    reopened = change(unit, acme.owner, closed, status="open")
    assert (reopened.status.value, reopened.closed_at, reopened.closed_by) == ("open", None, None)


def test_closing_a_closed_task_keeps_the_first_closing(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner)
    first = change(unit, acme.owner, made, status="closed")
    clock.advance(hours=1)
    again = change(unit, acme.owner, first, status="closed")
    assert again.closed_at == first.closed_at


@pytest.mark.parametrize("name", ["title", "due_at", "remind_minutes", "notify", "status", "responsible_id"])
def test_required_fields_cannot_be_cleared(unit: Unit, name: str) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner)
    with pytest.raises(ValidationFailed) as err:
        change(unit, acme.owner, made, **{name: None})
    assert err.value.errors[0].field == name


def test_optional_fields_are_cleared_with_null(unit: Unit) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner, description="Bring the contract", category_id=category(unit, acme, "Demo"))
    cleared = change(unit, acme.owner, made, description=None, category_id=None)
    assert (cleared.description, cleared.category_id) == (None, None)


def test_a_stale_version_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner)
    change(unit, acme.owner, made, title="New")
    with pytest.raises(PreconditionFailed):
        unit.tasks.update(acme.owner, made.id, TaskChanges(title="Newer"), expected_version=1)


def test_a_deleted_task_needs_the_current_version(unit: Unit) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner)
    change(unit, acme.owner, made, title="New")
    with pytest.raises(PreconditionFailed):
        unit.tasks.delete(acme.owner, made.id, expected_version=1)


def test_handing_over_with_notify_tells_the_new_responsible(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    made = task(unit, acme.owner, notify=True)
    change(unit, acme.owner, made, responsible_id=ann.user_id)
    assert len(unit.notifier.inbox(ann, PageRequest()).items) == 1


def test_a_change_that_keeps_the_responsible_tells_nobody_again(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    made = task(unit, acme.owner, responsible_id=ann.user_id, notify=True)
    change(unit, acme.owner, made, title="Other title")
    assert len(unit.notifier.inbox(ann, PageRequest()).items) == 1


def test_a_deactivated_user_cannot_take_over_a_task(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    user = acme.user(ann)
    unit.memory.identity.update_user(
        user, user.model_copy(update={"status": UserStatus.DEACTIVATED}), expected_version=user.version
    )
    made = task(unit, acme.owner)
    with pytest.raises(ValidationFailed):
        change(unit, acme.owner, made, responsible_id=ann.user_id)


def test_the_task_change_log_names_each_change(unit: Unit) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner)
    change(unit, acme.owner, made, title="Renamed")
    log = unit.tasks.changes(acme.owner, made.id, PageRequest()).items
    assert [e.action.value for e in log] == ["updated", "created"]
    assert [(c.field, c.old, c.new) for c in log[0].changes] == [("title", "Call back", "Renamed")]


def test_the_change_log_of_a_hidden_task_is_hidden(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = task(unit, ann)
    with pytest.raises(NotFound):
        unit.tasks.changes(bob, made.id, PageRequest())


# ---- listing (TSK-7) ----


def test_tasks_are_listed_by_due_time(unit: Unit) -> None:
    acme = unit.tenant()
    task(unit, acme.owner, "later", due_at=START + timedelta(days=3))
    task(unit, acme.owner, "sooner", due_at=START + timedelta(days=1))
    task(unit, acme.owner, "soonest", due_at=START + timedelta(hours=1))
    assert titles(unit, acme.owner) == ["soonest", "sooner", "later"]


def test_tasks_filter_by_status(unit: Unit) -> None:
    acme = unit.tenant()
    done = task(unit, acme.owner, "done")
    task(unit, acme.owner, "open")
    change(unit, acme.owner, done, status="closed")
    assert titles(unit, acme.owner, status="open") == ["open"]
    assert titles(unit, acme.owner, status="closed") == ["done"]


def test_overdue_shows_only_open_tasks_due_before_now(unit: Unit) -> None:
    acme = unit.tenant()
    late = task(unit, acme.owner, "late", due_at=START - timedelta(hours=1))
    task(unit, acme.owner, "late too", due_at=START - timedelta(days=2))
    task(unit, acme.owner, "future", due_at=START + timedelta(hours=1))
    change(unit, acme.owner, late, status="closed")
    assert titles(unit, acme.owner, due="overdue") == ["late too"]


def test_tasks_filter_by_responsible_user(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    task(unit, acme.owner, "ann's", responsible_id=ann.user_id)
    task(unit, acme.owner, "mine")
    assert titles(unit, acme.owner, responsible_id=ann.user_id) == ["ann's"]


def test_tasks_filter_by_category(unit: Unit) -> None:
    acme = unit.tenant()
    task(unit, acme.owner, "demo", category_id=category(unit, acme, "Demo"))
    task(unit, acme.owner, "none")
    assert titles(unit, acme.owner, category_id=category(unit, acme, "Demo")) == ["demo"]


def test_tasks_filter_by_contact(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme, acme.owner)
    task(unit, acme.owner, "anna's", contact_id=anna.id)
    task(unit, acme.owner, "other")
    assert titles(unit, acme.owner, contact_id=anna.id) == ["anna's"]


def test_a_due_range_is_inclusive(unit: Unit) -> None:
    acme = unit.tenant()
    for n in range(4):
        task(unit, acme.owner, f"day {n}", due_at=START + timedelta(days=n))
    found = titles(unit, acme.owner, due_from=START + timedelta(days=1), due_to=START + timedelta(days=2))
    assert found == ["day 1", "day 2"]


def test_today_and_a_due_range_intersect() -> None:
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    low, high = due_window(TaskQuery(due="today", due_from=datetime(2026, 3, 4, 15, 0, tzinfo=UTC)), now, "UTC")
    assert low == datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    assert high is not None and high < datetime(2026, 3, 5, tzinfo=UTC)


def test_today_on_a_daylight_saving_day_has_23_hours() -> None:
    now = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # clocks go forward in Berlin this night
    low, high = due_window(TaskQuery(due="today"), now, "Europe/Berlin")
    assert low is not None and high is not None
    assert (high - low + timedelta(milliseconds=1)) == timedelta(hours=23)


def test_the_week_starts_on_monday_in_the_tenants_zone() -> None:
    now = datetime(2026, 3, 8, 22, 30, tzinfo=UTC)  # Sunday in UTC, already Monday in Auckland
    low, _ = due_window(TaskQuery(due="week"), now, "Pacific/Auckland")
    assert low == datetime(2026, 3, 9, 0, 0, tzinfo=ZoneInfo("Pacific/Auckland")).astimezone(UTC)


def test_the_list_pages_in_due_order(unit: Unit) -> None:
    acme = unit.tenant()
    for n in range(5):
        task(unit, acme.owner, f"t{n}", due_at=START + timedelta(hours=n))
    first = unit.tasks.list(acme.owner, TaskQuery(), PageRequest(limit=2))
    second = unit.tasks.list(acme.owner, TaskQuery(), PageRequest(limit=2, after=first.after))
    assert [t.title for t in first.items + second.items] == ["t0", "t1", "t2", "t3"]


# ---- parent cascades ----


def test_a_deleted_deal_leaves_its_tasks_unlinked(unit: Unit) -> None:
    acme = unit.tenant()
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="Website"))
    made = task(unit, acme.owner, deal_id=deal.id)
    unit.deals.delete(acme.owner, deal.id, expected_version=1)
    unit.run_jobs()
    kept = unit.tasks.get(acme.owner, made.id)
    assert kept.deal_id is None


def test_a_merge_moves_the_tasks_to_the_survivor(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = contact(unit, acme, acme.owner), contact(unit, acme, acme.owner)
    made = task(unit, acme.owner, contact_id=dup.id)
    assert unit.tasks.move_parent(acme.id, "contact", dup.id, into.id) == 1
    assert unit.tasks.get(acme.owner, made.id).contact_id == into.id
    assert unit.tasks.move_parent(acme.id, "contact", dup.id, into.id) == 0  # a rerun finds nothing


def test_the_cascade_of_a_deleted_contact_is_idempotent(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme, acme.owner)
    task(unit, acme.owner, contact_id=anna.id)
    assert unit.tasks.on_parent_deleted(acme.id, "contact", anna.id) == 1
    assert unit.tasks.on_parent_deleted(acme.id, "contact", anna.id) == 0


# ---- reminders (TSK-4) ----


def test_the_reminder_instant_is_exact_across_a_daylight_saving_change() -> None:
    due = datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)  # 07:00 UTC, in summer time since this night
    # 24 real hours before: 08:00 on the clocks of the day before (winter time), not 09:00.
    assert reminder_instant(due, 1440) == datetime(2026, 3, 28, 7, 0, tzinfo=UTC)
    assert reminder_instant(due, 1440).astimezone(BERLIN).hour == 8  # type: ignore[union-attr]


def test_no_reminder_for_never() -> None:
    assert reminder_instant(TOMORROW, 0) is None


def test_a_reminder_needs_an_aware_due_time() -> None:
    with pytest.raises(ValueError):
        reminder_instant(datetime(2026, 1, 1, 9, 0), 15)


def test_a_reminder_due_now_is_queued_by_the_sweep(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    task(unit, acme.owner, due_at=START + timedelta(minutes=30), remind_minutes=15)
    unit.memory.queue.take()
    unit.reminders.sweep()  # first sweep: nothing due yet
    assert unit.queued("reminders.deliver") == []
    clock.advance(minutes=16)
    assert unit.reminders.sweep() == 1
    assert len(unit.queued("reminders.deliver")) == 1


def test_a_reminder_names_the_task_its_contact_and_local_due_time(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant(time_zone="Europe/Berlin")
    ann = acme.add_user("ann")
    anna = contact(unit, acme, acme.owner)
    task(
        unit,
        acme.owner,
        "Send offer",
        due_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        remind_minutes=60,
        contact_id=anna.id,
        responsible_id=ann.user_id,
    )
    unit.reminders.sweep()
    clock.now = datetime(2026, 3, 2, 14, 1, tzinfo=UTC)
    unit.reminders.sweep()
    unit.run_jobs()
    subjects = [n.subject for n in unit.notifier.inbox(ann, PageRequest()).items]
    assert subjects == ["Reminder: Send offer — Anna Müller — due 02.03.2026 16:00 (Europe/Berlin)"]


def test_a_closed_task_is_not_reminded(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner, due_at=START + timedelta(minutes=30), remind_minutes=15)
    unit.reminders.sweep()
    change(unit, acme.owner, made, status="closed")
    clock.advance(minutes=20)
    unit.reminders.sweep()
    unit.run_jobs()
    assert unit.notifier.inbox(acme.owner, PageRequest()).items == []


def test_a_delivery_for_an_old_instant_does_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner, due_at=START + timedelta(hours=3), remind_minutes=60)
    old = DeliverReminder(tenant_id=acme.id, task_id=made.id, remind_at=START + timedelta(hours=2))
    change(unit, acme.owner, made, remind_minutes=15)
    assert unit.reminders.deliver(old) is False
    assert unit.notifier.inbox(acme.owner, PageRequest()).items == []


def test_a_reminder_is_delivered_once_even_when_delivered_twice(unit: Unit) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner, due_at=START + timedelta(hours=3), remind_minutes=60)
    job = DeliverReminder(tenant_id=acme.id, task_id=made.id, remind_at=START + timedelta(hours=2))
    assert unit.reminders.deliver(job) is True
    assert unit.reminders.deliver(job) is False
    assert len(unit.notifier.inbox(acme.owner, PageRequest()).items) == 1


def test_a_deleted_task_is_not_reminded(unit: Unit) -> None:
    acme = unit.tenant()
    made = task(unit, acme.owner, due_at=START + timedelta(hours=3), remind_minutes=60)
    unit.tasks.delete(acme.owner, made.id, expected_version=1)
    job = DeliverReminder(tenant_id=acme.id, task_id=made.id, remind_at=START + timedelta(hours=2))
    assert unit.reminders.deliver(job) is False


def test_a_sweep_after_a_long_pause_digs_up_at_most_two_days(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    unit.reminders.sweep()
    task(unit, acme.owner, "old", due_at=START + timedelta(hours=1), remind_minutes=15)
    task(unit, acme.owner, "recent", due_at=START + timedelta(days=4), remind_minutes=15)
    clock.advance(days=4, hours=1)
    assert unit.reminders.sweep() == 1
