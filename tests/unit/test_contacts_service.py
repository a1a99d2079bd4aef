"""Contacts as their services decide (CON-1..13), over in-memory twins."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.contacts.bulk import BulkRequest, BulkResult
from chalicelib.domain.contacts.merge import MergeRequest
from chalicelib.domain.contacts.models import Contact, ContactChanges, ContactQuery, NewContact
from chalicelib.domain.records.history import HistoryFilter, NewHistoryEvent
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import NewTask, TaskQuery
from tests.unit.conftest import START, Unit, UnitTenant


def person(
    unit: Unit, acme: UnitTenant, by: Principal, first: str = "Anna", last: str = "Müller", **fields: Any
) -> Contact:
    return unit.contacts.create(by, acme.record, NewContact(kind="person", first_name=first, last_name=last, **fields))


def company(unit: Unit, acme: UnitTenant, name: str = "Acme Tools", **fields: Any) -> Contact:
    return unit.contacts.create(acme.owner, acme.record, NewContact(kind="company", company_name=name, **fields))


def names(found: list[Contact]) -> list[str]:
    return [c.display_name for c in found]


def test_a_private_contact_is_hidden_from_users_who_do_not_manage_it(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    secret = person(unit, acme, ann, "Sam", "Secret")

    with pytest.raises(NotFound):  # hidden: as if it did not exist
        unit.contacts.get(bob, secret.id)
    assert unit.contacts.list(bob, ContactQuery(), PageRequest()).items == []
    assert unit.contacts.get(acme.owner, secret.id) == secret  # owners see every contact

    shared = unit.contacts.update(ann, acme.record, secret.id, ContactChanges(access="shared_read"), expected_version=1)
    assert unit.contacts.get(bob, secret.id) == shared
    with pytest.raises(Forbidden):  # readable, not writable
        unit.contacts.update(bob, acme.record, secret.id, ContactChanges(job_title="CEO"), expected_version=2)


def test_search_folds_accents_and_spelling_and_finds_phone_numbers(unit: Unit) -> None:
    acme = unit.tenant()
    person(unit, acme, acme.owner, "Anna", "Müller", details=[{"type": "phone", "value": "030 1234567"}])
    person(unit, acme, acme.owner, "Bernd", "Mueller")
    person(unit, acme, acme.owner, "Łukasz", "Żółć")

    def search(q: str) -> list[str]:
        return sorted(names(unit.contacts.list(acme.owner, ContactQuery(q=q), PageRequest()).items))

    assert search("muller") == ["Anna Müller"]
    assert search("mueller") == ["Anna Müller", "Bernd Mueller"]  # Müller is also written Mueller
    assert search("zolc luk") == ["Łukasz Żółć"]
    assert search("+49 30 1234567") == ["Anna Müller"]  # any common format of the number


def test_changes_name_the_version_they_change_and_new_managers_are_told(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    anna = person(unit, acme, acme.owner)
    unit.contacts.update(acme.owner, acme.record, anna.id, ContactChanges(job_title="CEO"), expected_version=1)
    with pytest.raises(PreconditionFailed):  # someone changed it since version 1 was read
        unit.contacts.update(acme.owner, acme.record, anna.id, ContactChanges(job_title="CTO"), expected_version=1)

    changes = ContactChanges(managers=[acme.owner.user_id, ann.user_id])
    unit.contacts.update(acme.owner, acme.record, anna.id, changes, expected_version=2)
    assert [n.subject for n in unit.notifier.inbox(ann, PageRequest()).items] == [
        "You are now a manager of Anna Müller"
    ]
    unit.run_jobs()
    assert [(m.to, m.subject) for m in unit.mail] == [(acme.user(ann).email, "You are now a manager of Anna Müller")]
    with pytest.raises(ValidationFailed):  # managers are users of the tenant
        unit.contacts.update(acme.owner, acme.record, anna.id, ContactChanges(managers=["ghost"]), expected_version=3)


def test_a_contact_type_in_use_cannot_be_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    client = unit.settings_lists.list(acme.owner, "contact-types")[0]
    anna = person(unit, acme, acme.owner, type_id=client.id)
    with pytest.raises(Conflict, match="used by 1 record"):
        unit.settings_lists.delete(acme.owner, "contact-types", client.id)
    unit.contacts.update(acme.owner, acme.record, anna.id, ContactChanges(type_id=None), expected_version=1)
    unit.settings_lists.delete(acme.owner, "contact-types", client.id)
    with pytest.raises(ValidationFailed):  # and a contact cannot point at it any more
        person(unit, acme, acme.owner, "Bo", "Ek", type_id=client.id)


def test_a_deleted_company_lets_its_persons_go_and_takes_its_tasks_along(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme)
    anna = person(unit, acme, acme.owner, company_id=tools.id)
    assert anna.company_name == "Acme Tools"
    unit.tasks.create(acme.owner, NewTask(title="Call Tools", due_at=START, contact_id=tools.id))

    unit.contacts.delete(acme.owner, tools.id, expected_version=1)
    assert unit.contacts.get(acme.owner, anna.id).company_id == tools.id  # the cascade runs in the background
    unit.run_jobs()
    after = unit.contacts.get(acme.owner, anna.id)
    assert (after.company_id, after.company_name) == (None, None)
    assert unit.tasks.list(acme.owner, TaskQuery(), PageRequest()).items == []


def test_a_merge_keeps_both_contacts_data_and_moves_what_hangs_off(unit: Unit) -> None:
    acme = unit.tenant()
    into = person(unit, acme, acme.owner, tags=["Lead"])
    duplicate = person(unit, acme, acme.owner, job_title="CEO", tags=["VIP"])
    unit.history.create(acme.owner, "contact", duplicate.id, NewHistoryEvent(text="Met at the fair"))
    unit.tasks.create(acme.owner, NewTask(title="Follow up", due_at=START, contact_id=duplicate.id))

    survivor = unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=duplicate.id, into_id=into.id))
    assert (survivor.job_title, survivor.tags) == ("CEO", ["Lead", "VIP"])
    with pytest.raises(NotFound):
        unit.contacts.get(acme.owner, duplicate.id)
    texts = [e.text for e in unit.history.list(acme.owner, "contact", into.id, HistoryFilter(), PageRequest()).items]
    assert texts[1:] == ["Met at the fair"] and texts[0].startswith("Merged Anna Müller")
    assert [t.contact_id for t in unit.tasks.list(acme.owner, TaskQuery(), PageRequest()).items] == [into.id]


def test_bulk_tags_each_visible_contact_and_reports_the_rest(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    mine = [person(unit, acme, ann, "A", f"Nr{n}") for n in range(3)]
    hidden = person(unit, acme, acme.owner, "Hidden", "One")

    request = BulkRequest(action="add_tags", tags=["Fair 2026"], ids=[*(c.id for c in mine), hidden.id])
    result = unit.contact_bulk.submit(ann, acme.record, request)
    assert isinstance(result, BulkResult)
    assert result.succeeded == [c.id for c in mine]
    assert [(f["id"], f["status"]) for f in result.failed] == [(hidden.id, 404)]  # not 403: it stays hidden
    tagged = unit.contacts.list(ann, ContactQuery(tag="fair 2026"), PageRequest()).items
    assert sorted(c.id for c in tagged) == sorted(c.id for c in mine)
