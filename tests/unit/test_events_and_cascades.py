"""The event table (bootstrap/events.py) as it runs: which subscribers a
deletion, a merge, a new tenant or a replaced category set off, each queued
subscriber its own message that fails alone, and every one safe to run twice."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.bootstrap.events import (
    DEFAULT_CONTACT_TAGS,
    SUBSCRIBERS,
    EventDelivery,
    UnknownSubscriber,
    deliver,
)
from chalicelib.domain.contacts.models import Contact, NewContact
from chalicelib.domain.deals.models import NewDeal
from chalicelib.domain.records.history import NewHistoryEvent
from chalicelib.domain.shared.errors import NotFound
from chalicelib.domain.shared.events import EVENT_TYPES, RecordDeleted
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.tasks.models import NewTask, TaskQuery
from tests.unit.conftest import START, Unit, UnitTenant


def contact(unit: Unit, acme: UnitTenant, **fields: Any) -> Contact:
    return unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", **fields)
    )


def deliveries(unit: Unit) -> list[EventDelivery]:
    return [EventDelivery.model_validate(m) for m in unit.queued("event")]


def test_deleting_a_contact_queues_one_message_per_subscriber(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    unit.memory.queue.take()
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    assert sorted(d.subscriber for d in deliveries(unit)) == sorted(
        [
            "history.delete_for_parent",
            "tasks.follow_deleted_parent",
            "contacts.forget_photo",
            "contacts.unlink_persons",
            "deals.unlink_contact",
            "cases.unlink_contact",
        ]
    )
    assert {d.tenant_id for d in deliveries(unit)} == {acme.id}


def test_deleting_a_deal_queues_its_own_cascade(unit: Unit) -> None:
    acme = unit.tenant()
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="D"))
    unit.memory.queue.take()
    unit.deals.delete(acme.owner, deal.id, expected_version=1)
    assert sorted(d.subscriber for d in deliveries(unit)) == [
        "deals.forget_projects",
        "history.delete_for_parent",
        "invoices.unlink_deal",
        "tasks.follow_deleted_parent",
    ]


def test_a_failing_subscriber_fails_alone(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    unit.history.create(acme.owner, "contact", anna.id, NewHistoryEvent(text="note"))
    unit.tasks.create(acme.owner, NewTask(title="T", due_at=START, contact_id=anna.id))

    def broken(tenant_id: str, contact_id: str) -> int:
        raise RuntimeError("deals are down")

    monkeypatch.setattr(unit.deals, "unlink_contact", broken)
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    run = unit.run_jobs(raise_errors=False)
    assert [m["subscriber"] for m, _ in run.failed] == ["deals.unlink_contact"]
    assert unit.tasks.list(acme.owner, TaskQuery(), PageRequest()).items == []  # the others ran


def test_a_subscriber_run_twice_changes_nothing_more(unit: Unit) -> None:
    acme = unit.tenant()
    tools = unit.contacts.create(acme.owner, acme.record, NewContact(kind="company", company_name="Tools"))
    anna = contact(unit, acme, company_id=tools.id)
    unit.contacts.delete(acme.owner, tools.id, expected_version=1)
    queued = unit.queued("event")
    unit.run_jobs()
    version = unit.contacts.get(acme.owner, anna.id).version
    for message in queued:
        unit.memory.queue.send(message)
    unit.run_jobs()
    assert unit.contacts.get(acme.owner, anna.id).version == version


def test_an_unknown_subscriber_is_refused_loudly(unit: Unit) -> None:
    acme = unit.tenant()
    event = RecordDeleted(tenant_id=acme.id, record_kind="contact", record_id="x")
    delivery = EventDelivery(
        tenant_id=acme.id, topic=event.topic, subscriber="nobody", event=event.model_dump(mode="json")
    )
    with pytest.raises(UnknownSubscriber):
        deliver(unit, delivery)


def test_an_unknown_event_type_is_refused_loudly(unit: Unit) -> None:
    acme = unit.tenant()
    delivery = EventDelivery(
        tenant_id=acme.id,
        topic="record.deleted:contact",
        subscriber="contacts.forget_photo",
        event={"type": "record.exploded", "tenant_id": acme.id},
    )
    with pytest.raises(UnknownSubscriber):
        deliver(unit, delivery)


def test_a_message_from_before_the_event_table_is_fanned_out(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    unit.tasks.create(acme.owner, NewTask(title="T", due_at=START, contact_id=anna.id))
    unit.memory.contacts.delete(unit.memory.contacts.get(acme.id, anna.id), by="system", at=START)  # type: ignore[arg-type]
    unit.memory.queue.take()
    unit.memory.queue.send(
        {"kind": "records.cascade_delete", "tenant_id": acme.id, "record_kind": "contact", "record_id": anna.id}
    )
    unit.run_jobs()
    assert unit.tasks.list(acme.owner, TaskQuery(), PageRequest()).items == []


def test_a_new_tenant_is_complete_when_created(unit: Unit) -> None:
    acme = unit.tenant()
    assert [t.name for t in unit.tags.list(acme.owner, "contact", PageRequest()).items] == sorted(DEFAULT_CONTACT_TAGS)
    assert unit.settings_lists.list(acme.owner, "deal-stages")
    assert unit.queued("event") == []  # seeding runs inline, nothing waits in the queue


def test_a_merge_moves_everything_inline_before_the_merged_contact_goes(unit: Unit) -> None:
    from chalicelib.domain.contacts.merge import MergeRequest

    acme = unit.tenant()
    into, dup = contact(unit, acme), contact(unit, acme)
    task = unit.tasks.create(acme.owner, NewTask(title="T", due_at=START, contact_id=dup.id))
    unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.tasks.get(acme.owner, task.id).contact_id == into.id  # before any queued job ran
    unit.run_jobs()  # and the merged contact's delete cascade finds nothing of it left
    assert unit.tasks.get(acme.owner, task.id).contact_id == into.id
    with pytest.raises(NotFound):
        unit.contacts.get(acme.owner, dup.id)


def test_every_subscriber_name_is_unique_within_its_topic() -> None:
    for topic, subscribers in SUBSCRIBERS.items():
        names = [s.name for s in subscribers]
        assert len(names) == len(set(names)), topic


def test_every_topic_belongs_to_a_known_event() -> None:
    types = set(EVENT_TYPES)
    assert all(topic.split(":")[0] in types for topic in SUBSCRIBERS)
