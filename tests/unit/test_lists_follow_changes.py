"""Lists and filters follow every change of a record: what a list shows is
computed from index entries written with the record, so each change of a
filtered field must move the record between filters (and reminders, use
counters and pipeline rows must follow too)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.cases.models import CaseChanges, CaseQuery, NewCase
from chalicelib.domain.contacts.models import Contact, ContactChanges, ContactQuery, NewContact
from chalicelib.domain.deals.models import DealChanges, DealQuery, NewDeal, StageChange
from chalicelib.domain.records.history import HistoryChanges, NewHistoryEvent
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import NewTask, TaskChanges, TaskQuery
from tests.unit.conftest import START, FixedClock, Unit, UnitTenant


def person(unit: Unit, acme: UnitTenant, by: Principal | None = None, **fields: Any) -> Contact:
    return unit.contacts.create(
        by or acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", **fields)
    )


def contact_ids(unit: Unit, by: Principal, **query: Any) -> list[str]:
    return [c.id for c in unit.contacts.list(by, ContactQuery(**query), PageRequest()).items]


def change(unit: Unit, acme: UnitTenant, by: Principal, contact: Contact, **changes: Any) -> Contact:
    current = unit.contacts.get(acme.owner, contact.id)
    return unit.contacts.update(
        by, acme.record, contact.id, ContactChanges(**changes), expected_version=current.version
    )


def test_sharing_a_contact_shows_it_in_others_lists_and_making_it_private_hides_it(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann)
    assert contact_ids(unit, bob) == []
    change(unit, acme, ann, anna, access="shared_read")
    assert contact_ids(unit, bob) == [anna.id]
    change(unit, acme, ann, anna, access="private")
    assert contact_ids(unit, bob) == []


def test_a_new_manager_finds_a_private_contact_in_lists_and_search(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = unit.contacts.create(ann, acme.record, NewContact(kind="person", first_name="Anna", last_name="Zeta"))
    change(unit, acme, ann, anna, managers=[ann.user_id, bob.user_id])
    assert contact_ids(unit, bob, q="zeta") == [anna.id]
    assert contact_ids(unit, acme.owner, manager_id=bob.user_id) == [anna.id]


def test_a_removed_tag_leaves_the_tag_filter(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, tags=["VIP"])
    change(unit, acme, acme.owner, anna, tags=["Lead"])
    assert contact_ids(unit, acme.owner, tag="vip") == []
    assert contact_ids(unit, acme.owner, tag="lead") == [anna.id]


def test_a_changed_type_moves_the_contact_between_type_filters(unit: Unit) -> None:
    acme = unit.tenant()
    client = unit.settings_lists.list(acme.owner, "contact-types")[0].id
    anna = person(unit, acme)
    assert contact_ids(unit, acme.owner, type_id="none") == [anna.id]
    change(unit, acme, acme.owner, anna, type_id=client)
    assert contact_ids(unit, acme.owner, type_id="none") == []
    assert contact_ids(unit, acme.owner, type_id=client) == [anna.id]


def test_a_changed_email_is_searched_by_the_new_address_only(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, details=[{"type": "email", "value": "old@example.com"}])
    change(unit, acme, acme.owner, anna, details=[{"type": "email", "value": "new@example.com"}])
    assert contact_ids(unit, acme.owner, q="old@example") == []
    assert contact_ids(unit, acme.owner, q="new@example") == [anna.id]


def test_a_changed_phone_is_searched_by_the_new_number_only(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, details=[{"type": "phone", "value": "030 1111111"}])
    change(unit, acme, acme.owner, anna, details=[{"type": "phone", "value": "030 2222222"}])
    assert contact_ids(unit, acme.owner, q="030 1111111") == []
    assert contact_ids(unit, acme.owner, q="+49 30 2222222") == [anna.id]


def test_a_person_moved_to_another_company_leaves_the_first_companys_persons(unit: Unit) -> None:
    acme = unit.tenant()
    one = unit.contacts.create(acme.owner, acme.record, NewContact(kind="company", company_name="One"))
    two = unit.contacts.create(acme.owner, acme.record, NewContact(kind="company", company_name="Two"))
    anna = person(unit, acme, company_id=one.id)
    change(unit, acme, acme.owner, anna, company_id=two.id)
    assert [c.id for c in unit.contacts.persons(acme.owner, one.id, PageRequest()).items] == []
    assert [c.id for c in unit.contacts.persons(acme.owner, two.id, PageRequest()).items] == [anna.id]
    assert contact_ids(unit, acme.owner, q="one") == [one.id]


# ---- tasks ----


def task_titles(unit: Unit, by: Principal, **query: Any) -> list[str]:
    return [t.title for t in unit.tasks.list(by, TaskQuery(**query), PageRequest()).items]


def test_a_handed_over_task_moves_between_responsible_filters(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    made = unit.tasks.create(acme.owner, NewTask(title="Call", due_at=START))
    unit.tasks.update(acme.owner, made.id, TaskChanges(responsible_id=ann.user_id), expected_version=1)
    assert task_titles(unit, acme.owner, responsible_id=acme.owner.user_id) == []
    assert task_titles(unit, ann, responsible_id=ann.user_id) == ["Call"]


def test_a_moved_due_time_reorders_the_list(unit: Unit) -> None:
    acme = unit.tenant()
    first = unit.tasks.create(acme.owner, NewTask(title="first", due_at=START))
    unit.tasks.create(acme.owner, NewTask(title="second", due_at=START + timedelta(hours=1)))
    unit.tasks.update(acme.owner, first.id, TaskChanges(due_at=START + timedelta(hours=2)), expected_version=1)
    assert task_titles(unit, acme.owner) == ["second", "first"]


def test_a_task_relinked_to_another_contact_follows_it(unit: Unit) -> None:
    acme = unit.tenant()
    anna, bob = person(unit, acme), person(unit, acme)
    made = unit.tasks.create(acme.owner, NewTask(title="Call", due_at=START, contact_id=anna.id))
    unit.tasks.update(acme.owner, made.id, TaskChanges(contact_id=bob.id), expected_version=1)
    assert task_titles(unit, acme.owner, contact_id=anna.id) == []
    assert task_titles(unit, acme.owner, contact_id=bob.id) == ["Call"]


def test_a_reopened_task_is_reminded_again(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    made = unit.tasks.create(acme.owner, NewTask(title="Call", due_at=START + timedelta(hours=2), remind_minutes=60))
    unit.reminders.sweep()
    closed = unit.tasks.update(acme.owner, made.id, TaskChanges(status="closed"), expected_version=1)
    unit.tasks.update(acme.owner, made.id, TaskChanges(status="open"), expected_version=closed.version)
    clock.advance(hours=1, minutes=1)
    assert unit.reminders.sweep() == 1
    unit.run_jobs()
    assert len(unit.notifier.inbox(acme.owner, PageRequest()).items) == 1


def test_a_closed_task_whose_due_time_moves_gets_no_reminder(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    made = unit.tasks.create(acme.owner, NewTask(title="Call", due_at=START + timedelta(hours=2), remind_minutes=60))
    unit.reminders.sweep()
    closed = unit.tasks.update(acme.owner, made.id, TaskChanges(status="closed"), expected_version=1)
    unit.tasks.update(
        acme.owner, made.id, TaskChanges(due_at=START + timedelta(hours=3)), expected_version=closed.version
    )
    clock.advance(hours=3)
    assert unit.reminders.sweep() == 0


def test_a_task_category_change_moves_the_use(unit: Unit) -> None:
    from chalicelib.domain.shared.errors import Conflict

    acme = unit.tenant()
    names = {e.name: e.id for e in unit.settings_lists.list(acme.owner, "task-categories")}
    made = unit.tasks.create(acme.owner, NewTask(title="Call", due_at=START, category_id=names["Demo"]))
    unit.tasks.update(acme.owner, made.id, TaskChanges(category_id=names["Lunch"]), expected_version=1)
    unit.settings_lists.delete(acme.owner, "task-categories", names["Demo"])
    with pytest.raises(Conflict):
        unit.settings_lists.delete(acme.owner, "task-categories", names["Lunch"])


# ---- deals and cases ----


def test_a_private_deal_listed_user_sees_its_stage_change_in_the_pipeline(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    stages = {s.name: s.id for s in unit.settings_lists.list(acme.owner, "deal-stages")}
    deal = unit.deals.create(ann, acme.record, NewDeal(title="D", amount="100.00", access_list=[bob.user_id]))
    unit.deals.change_stage(ann, acme.record, deal.id, StageChange(stage_id=stages["Proposal"]), expected_version=1)
    rows = {r.name: (r.count, r.sum) for r in unit.deal_pipeline.get(bob).stages}
    assert rows["Initial contact"] == (0, "0.00") and rows["Proposal"] == (1, "100.00")


def test_a_deal_handed_to_another_user_moves_between_responsible_filters(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="D"))
    unit.deals.update(acme.owner, deal.id, DealChanges(responsible_id=ann.user_id), expected_version=1)
    assert [
        d.id for d in unit.deals.list(acme.owner, DealQuery(responsible_id=acme.owner.user_id), PageRequest()).items
    ] == []
    assert [d.id for d in unit.deals.list(acme.owner, DealQuery(responsible_id=ann.user_id), PageRequest()).items] == [
        deal.id
    ]


def test_a_removed_member_leaves_the_deals_contact_filter(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="D", member_ids=[anna.id]))
    unit.deals.update(acme.owner, deal.id, DealChanges(member_ids=[]), expected_version=1)
    assert unit.deals.list(acme.owner, DealQuery(contact_id=anna.id), PageRequest()).items == []


def test_a_moved_close_date_moves_the_deal_in_the_close_range(unit: Unit) -> None:
    from datetime import date

    acme = unit.tenant()
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="D", expected_close_date=date(2026, 5, 1)))
    unit.deals.update(acme.owner, deal.id, DealChanges(expected_close_date=date(2026, 7, 1)), expected_version=1)
    may = DealQuery(close_from=date(2026, 5, 1), close_to=date(2026, 5, 31))
    july = DealQuery(close_from=date(2026, 7, 1), close_to=date(2026, 7, 31))
    assert unit.deals.list(acme.owner, may, PageRequest()).items == []
    assert [d.id for d in unit.deals.list(acme.owner, july, PageRequest()).items] == [deal.id]


def test_a_case_made_private_leaves_unlisted_users_lists(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    case = unit.cases.create(ann, NewCase(title="C"))
    assert [c.id for c in unit.cases.list(bob, CaseQuery(), PageRequest()).items] == [case.id]
    unit.cases.update(ann, case.id, CaseChanges(access_list=[ann.user_id]), expected_version=1)
    assert unit.cases.list(bob, CaseQuery(), PageRequest()).items == []


def test_a_closed_case_moves_from_the_open_to_the_closed_filter(unit: Unit) -> None:
    acme = unit.tenant()
    case = unit.cases.create(acme.owner, NewCase(title="C"))
    unit.cases.set_closed(acme.owner, case.id, True, expected_version=1)
    assert unit.cases.list(acme.owner, CaseQuery(closed=False), PageRequest()).items == []
    assert [c.id for c in unit.cases.list(acme.owner, CaseQuery(closed=True), PageRequest()).items] == [case.id]


def test_a_history_event_whose_category_is_removed_frees_it(unit: Unit) -> None:
    acme = unit.tenant()
    call = next(e.id for e in unit.settings_lists.list(acme.owner, "history-categories") if e.name == "Phone call")
    anna = person(unit, acme)
    event = unit.history.create(acme.owner, "contact", anna.id, NewHistoryEvent(text="x", category_id=call))
    unit.history.update(acme.owner, event.id, HistoryChanges(category_id=None), expected_version=1)
    unit.settings_lists.delete(acme.owner, "history-categories", call)
