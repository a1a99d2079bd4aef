"""Use counters of settings entries and custom fields (what keeps an entry
or field in use from being deleted) stay exact through merges, cascades and
deletions: a counter left too high blocks a delete forever, one too low lets
an entry go that records still name."""

from __future__ import annotations

import pytest

from chalicelib.domain.cases.models import NewCase
from chalicelib.domain.contacts.merge import MergeRequest
from chalicelib.domain.contacts.models import NewContact
from chalicelib.domain.deals.models import NewDeal
from chalicelib.domain.records.history import NewHistoryEvent
from chalicelib.domain.settings.custom_fields import NewCustomField
from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.tasks.models import NewTask
from tests.unit.conftest import START, Unit, UnitTenant


def entry(unit: Unit, acme: UnitTenant, list_name: str, name: str) -> str:
    return next(e.id for e in unit.settings_lists.list(acme.owner, list_name) if e.name == name)


def test_a_merge_moves_a_custom_value_without_counting_it_twice(unit: Unit) -> None:
    acme = unit.tenant()
    field = unit.custom_fields.create(acme.owner, NewCustomField(entity="contact", label="F", type="text"))
    into = unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="a", last_name="b"))
    dup = unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="a", last_name="b", custom_fields={field.id: "x"})
    )
    unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.custom_fields.get(acme.owner, field.id).in_use == 1
    survivor = unit.contacts.get(acme.owner, into.id)
    unit.contacts.delete(acme.owner, into.id, expected_version=survivor.version)
    assert unit.custom_fields.get(acme.owner, field.id).in_use == 0
    unit.custom_fields.delete(acme.owner, field.id)


def test_a_merge_moves_a_contact_type_without_counting_it_twice(unit: Unit) -> None:
    acme = unit.tenant()
    client = entry(unit, acme, "contact-types", "Client")
    into = unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="a", last_name="b"))
    dup = unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="a", last_name="b", type_id=client)
    )
    unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.settings_lists.get(acme.owner, "contact-types", client).in_use == 1


def test_a_deleted_contacts_tasks_and_history_free_their_categories(unit: Unit) -> None:
    acme = unit.tenant()
    demo = entry(unit, acme, "task-categories", "Demo")
    note = entry(unit, acme, "history-categories", "Note")
    anna = unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="a", last_name="b"))
    unit.tasks.create(acme.owner, NewTask(title="t", due_at=START, contact_id=anna.id, category_id=demo))
    unit.history.create(acme.owner, "contact", anna.id, NewHistoryEvent(text="x", category_id=note))
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    with pytest.raises(Conflict):  # the cascade has not run yet
        unit.settings_lists.delete(acme.owner, "task-categories", demo)
    unit.run_jobs()
    unit.settings_lists.delete(acme.owner, "task-categories", demo)
    unit.settings_lists.delete(acme.owner, "history-categories", note)


def test_a_deleted_deal_frees_its_stage(unit: Unit) -> None:
    acme = unit.tenant()
    suspect = entry(unit, acme, "deal-stages", "Suspect")
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="d", stage_id=suspect))
    unit.deals.delete(acme.owner, deal.id, expected_version=1)
    unit.settings_lists.delete(acme.owner, "deal-stages", suspect)


def test_a_stage_change_moves_the_stage_use(unit: Unit) -> None:
    from chalicelib.domain.deals.models import StageChange

    acme = unit.tenant()
    suspect, proposal = entry(unit, acme, "deal-stages", "Suspect"), entry(unit, acme, "deal-stages", "Proposal")
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="d", stage_id=suspect))
    unit.deals.change_stage(acme.owner, acme.record, deal.id, StageChange(stage_id=proposal), expected_version=1)
    unit.settings_lists.delete(acme.owner, "deal-stages", suspect)
    with pytest.raises(Conflict):
        unit.settings_lists.delete(acme.owner, "deal-stages", proposal)


def test_a_false_checkbox_is_a_value_and_counts(unit: Unit) -> None:
    acme = unit.tenant()
    field = unit.custom_fields.create(acme.owner, NewCustomField(entity="case", label="G", type="checkbox"))
    case = unit.cases.create(acme.owner, NewCase(title="c", custom_fields={field.id: False}))
    assert unit.custom_fields.get(acme.owner, field.id).in_use == 1
    unit.cases.delete(acme.owner, case.id, expected_version=1)
    assert unit.custom_fields.get(acme.owner, field.id).in_use == 0


def test_a_blank_text_is_no_value_and_does_not_count(unit: Unit) -> None:
    acme = unit.tenant()
    field = unit.custom_fields.create(acme.owner, NewCustomField(entity="contact", label="F", type="text"))
    anna = unit.contacts.create(
        acme.owner,
        acme.record,
        NewContact(kind="person", first_name="a", last_name="b", custom_fields={field.id: "  "}),
    )
    assert anna.custom_fields == {}
    assert unit.custom_fields.get(acme.owner, field.id).in_use == 0
