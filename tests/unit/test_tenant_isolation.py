"""Tenants see nothing of each other, whatever their role: every list is
empty and every record is NotFound for the owner of another tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.domain.cases.models import CaseQuery, NewCase
from chalicelib.domain.contacts.models import ContactQuery, NewContact
from chalicelib.domain.deals.models import DealQuery, NewDeal
from chalicelib.domain.records.files import NewFile
from chalicelib.domain.records.history import HistoryFilter, NewHistoryEvent
from chalicelib.domain.shared.errors import NotFound
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import NewTask, TaskQuery
from tests.unit.conftest import START, Unit


def acme_with_everything(unit: Unit) -> dict[str, Any]:
    acme = unit.tenant("Acme")
    o = acme.owner
    contact = unit.contacts.create(o, acme.record, NewContact(kind="person", first_name="A", last_name="B", tags=["T"]))
    deal = unit.deals.create(o, acme.record, NewDeal(title="D", tags=["T"]))
    case = unit.cases.create(o, NewCase(title="C", tags=["T"]))
    task = unit.tasks.create(o, NewTask(title="T", due_at=START, contact_id=contact.id))
    event = unit.history.create(o, "contact", contact.id, NewHistoryEvent(text="x"))
    upload = unit.files.create(
        o,
        NewFile(filename="a.pdf", content_type="application/pdf", size=1, parent={"kind": "contact", "id": contact.id}),
    )
    job = unit.background_jobs.start(o, "test", 1)
    return {
        "contact": contact,
        "deal": deal,
        "case": case,
        "task": task,
        "event": event,
        "file": upload.file,
        "job": job,
    }


READS: dict[str, Callable[[Unit, Principal, dict[str, Any]], Any]] = {
    "contact": lambda u, p, r: u.contacts.get(p, r["contact"].id),
    "deal": lambda u, p, r: u.deals.get(p, r["deal"].id),
    "case": lambda u, p, r: u.cases.get(p, r["case"].id),
    "task": lambda u, p, r: u.tasks.get(p, r["task"].id),
    "history event": lambda u, p, r: u.history.get(p, r["event"].id),
    "history of the contact": lambda u, p, r: u.history.list(
        p, "contact", r["contact"].id, HistoryFilter(), PageRequest()
    ),
    "file": lambda u, p, r: u.files.get(p, r["file"].id),
    "change log": lambda u, p, r: u.changelog.for_record(p, "contact", r["contact"].id, PageRequest()),
    "job": lambda u, p, r: u.background_jobs.get(p, r["job"].id),
    "persons of a company": lambda u, p, r: u.contacts.persons(p, r["contact"].id, PageRequest()),
}


@pytest.mark.parametrize("what", list(READS))
def test_another_tenants_record_is_not_found(unit: Unit, what: str) -> None:
    records = acme_with_everything(unit)
    globex = unit.tenant("Globex")
    with pytest.raises(NotFound):
        READS[what](unit, globex.owner, records)


LISTS: dict[str, Callable[[Unit, Principal], list[Any]]] = {
    "contacts": lambda u, p: u.contacts.list(p, ContactQuery(), PageRequest()).items,
    "contacts by tag": lambda u, p: u.contacts.list(p, ContactQuery(tag="t"), PageRequest()).items,
    "deals": lambda u, p: u.deals.list(p, DealQuery(), PageRequest()).items,
    "cases": lambda u, p: u.cases.list(p, CaseQuery(), PageRequest()).items,
    "tasks": lambda u, p: u.tasks.list(p, TaskQuery(), PageRequest()).items,
    "notifications": lambda u, p: u.notifier.inbox(p, PageRequest()).items,
    "custom fields": lambda u, p: u.custom_fields.list(p),
    "deal tags": lambda u, p: u.tags.list(p, "deal", PageRequest()).items,
    "case tags": lambda u, p: u.tags.list(p, "case", PageRequest()).items,
}


@pytest.mark.parametrize("what", list(LISTS))
def test_another_tenants_lists_are_empty(unit: Unit, what: str) -> None:
    acme_with_everything(unit)
    globex = unit.tenant("Globex")
    assert LISTS[what](unit, globex.owner) == []


def test_another_tenants_pipeline_and_contact_tags_hold_only_its_own(unit: Unit) -> None:
    acme_with_everything(unit)
    globex = unit.tenant("Globex")
    assert unit.deal_pipeline.get(globex.owner).count == 0
    assert "T" not in [t.name for t in unit.tags.list(globex.owner, "contact", PageRequest()).items]
