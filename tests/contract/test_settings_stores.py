"""The settings ports: lists (seeded once, unique names, counters and their
guards, entries in use, retiring, reordering), money settings and custom
field definitions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.settings.currency import MoneySettings
from chalicelib.domain.settings.custom_fields import CustomField, FieldEntity, FieldType
from chalicelib.domain.settings.lists import CounterChange, EntryState, ListEntry
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from tests.contract.conftest import NOW, Stores, person, task

TAKEN = Conflict("name taken")
FULL = Conflict("full")
IN_USE = Conflict("in use")
GONE = ValidationFailed("replacement gone")


def new_entry(list_name: str, name: str, order: int = 99, **extras: object) -> ListEntry:
    return ListEntry(id=new_id(), list_name=list_name, name=name, order=order, created_at=NOW, updated_at=NOW, **extras)


def test_lists_keep_names_unique_counters_guarded_and_versions_checked(stores: Stores) -> None:
    acme, owner = stores.tenant()
    assert not stores.settings_lists.seed_lists(acme.id, {"contact-types": ([], {"count": 0})})  # seeded once
    before = stores.settings_lists.load_list(acme.id, "contact-types", consistent=True)
    assert before is not None and [e.name for e in before.entries] == ["Client", "Supplier", "Partner", "Competitor"]
    assert before.counters["count"] == 4

    extra = new_entry("contact-types", "Reseller")
    stores.settings_lists.add_entry(
        acme.id, extra, CounterChange({"count": 1}), max_entries=90, name_taken=TAKEN, full=FULL
    )
    with pytest.raises(Conflict, match="name taken"):  # names are unique ignoring case
        stores.settings_lists.add_entry(
            acme.id,
            new_entry("contact-types", " reseller"),
            CounterChange({"count": 1}),
            max_entries=90,
            name_taken=TAKEN,
            full=FULL,
        )
    with pytest.raises(Conflict, match="full"):
        stores.settings_lists.add_entry(
            acme.id,
            new_entry("contact-types", "Sixth"),
            CounterChange({"count": 1}),
            max_entries=5,
            name_taken=TAKEN,
            full=FULL,
        )
    after_add = stores.settings_lists.load_list(acme.id, "contact-types", consistent=True)
    assert after_add is not None and after_add.counters["count"] == 5 and after_add.version == before.version + 1

    renamed = extra.model_copy(update={"name": "Dealer", "updated_at": NOW + timedelta(minutes=1)})
    stores.settings_lists.save_entry(acme.id, extra, renamed, CounterChange({}), expected_version=1, name_taken=TAKEN)
    stored = stores.settings_lists.get_entry(acme.id, "contact-types", extra.id)
    assert stored is not None and stored.name == "Dealer" and stored.version == 2
    with pytest.raises(PreconditionFailed):
        stores.settings_lists.save_entry(
            acme.id, extra, renamed, CounterChange({}), expected_version=1, name_taken=TAKEN
        )
    stores.settings_lists.add_entry(  # the old name is free again
        acme.id,
        new_entry("contact-types", "Reseller"),
        CounterChange({"count": 1}),
        max_entries=90,
        name_taken=TAKEN,
        full=FULL,
    )

    stages = stores.settings_lists.load_list(acme.id, "deal-stages", consistent=True)
    assert stages is not None
    won = next(e for e in stages.entries if e.status == "won")
    with pytest.raises(Conflict, match="last won"):  # a guarded counter stays at least 1
        stores.settings_lists.delete_entry(
            acme.id,
            won,
            CounterChange({"count": -1, "status_won": -1}, "status_won", Conflict("the last won stage")),
            at=NOW,
            by=owner.user_id,
            in_use=IN_USE,
        )


def test_entries_in_use_are_kept_retired_or_reordered_conditionally(stores: Stores) -> None:
    acme, owner = stores.tenant()
    phone, follow_up = stores.entry(acme.id, "task-categories", 0), stores.entry(acme.id, "task-categories", 5)
    stores.tasks.create_task(owner, task(owner, "call", NOW, category_id=phone.id), reminder=None)
    with pytest.raises(Conflict, match="in use"):
        stores.settings_lists.delete_entry(
            acme.id,
            stores.entry(acme.id, "task-categories", 0),
            CounterChange({"count": -1}),
            at=NOW,
            by="x",
            in_use=IN_USE,
        )
    in_use = stores.entry(acme.id, "task-categories", 0)
    stores.settings_lists.retire_entry(
        acme.id, in_use, CounterChange({"count": -1}), replacement=follow_up.id, at=NOW, by="x", replacement_gone=GONE
    )
    retired = stores.settings_lists.get_entry(acme.id, "task-categories", phone.id)
    assert retired is not None and retired.state == EntryState.RETIRED and retired.replaced_by == follow_up.id
    listed = stores.settings_lists.load_list(acme.id, "task-categories", consistent=True)
    assert listed is not None and phone.id not in [e.id for e in listed.entries]

    unused = stores.entry(acme.id, "task-categories", 1)
    stores.settings_lists.delete_entry(acme.id, unused, CounterChange({"count": -1}), at=NOW, by="x", in_use=IN_USE)
    assert stores.settings_lists.get_entry(acme.id, "task-categories", unused.id) is None
    with pytest.raises(ValidationFailed):
        stores.settings_lists.retire_entry(
            acme.id,
            follow_up,
            CounterChange({"count": -1}),
            replacement=unused.id,
            at=NOW,
            by="x",
            replacement_gone=GONE,
        )

    state = stores.settings_lists.load_list(acme.id, "temperatures", consistent=True)
    assert state is not None
    cold, warm, hot = state.entries
    stores.settings_lists.reorder(
        acme.id, "temperatures", [(hot, 1), (cold, 3)], list_version=state.version, at=NOW, by="x"
    )
    reordered = stores.settings_lists.load_list(acme.id, "temperatures", consistent=True)
    assert reordered is not None and [e.name for e in reordered.entries] == ["Hot", "Warm", "Cold"]
    with pytest.raises(Conflict):  # the list changed since its version was read
        stores.settings_lists.reorder(acme.id, "temperatures", [(cold, 1)], list_version=state.version, at=NOW, by="x")


def test_money_settings_and_custom_fields(stores: Stores) -> None:
    acme, owner = stores.tenant()
    assert stores.money.get(acme.id) is None
    assert stores.money.create(acme.id, MoneySettings(id="money", created_at=NOW, updated_at=NOW))
    assert not stores.money.create(acme.id, MoneySettings(id="money", currency="USD", created_at=NOW, updated_at=NOW))
    rates = [{"from": "USD", "to": "EUR", "rate": "0.9"}]
    saved = stores.money.update(acme.id, {"currency": "CHF", "rates": rates}, expected_version=1, at=NOW, by="x")
    assert saved.currency == "CHF" and saved.version == 2 and stores.money.get(acme.id) == saved
    assert [r.pair for r in saved.rates] == [("USD", "EUR")]
    with pytest.raises(PreconditionFailed):
        stores.money.update(acme.id, {"currency": "EUR"}, expected_version=1, at=NOW, by="x")
    with pytest.raises(NotFound):
        stores.money.update("other-tenant", {"currency": "EUR"}, expected_version=None, at=NOW, by="x")

    field = CustomField(
        id=new_id(),
        entity=FieldEntity.CONTACT,
        label="Size",
        type=FieldType.TEXT,
        order=1,
        created_at=NOW,
        updated_at=NOW,
    )
    stores.custom_fields.add_field(acme.id, field)
    with pytest.raises(Conflict):
        stores.custom_fields.add_field(acme.id, field)
    assert stores.custom_fields.list_fields(acme.id) == [field]
    holder = person(acme.id, "Ann", "Lee", owner.user_id, custom_fields={field.id: "XL"})
    stores.contacts.create(holder, by=owner.user_id)
    used = stores.custom_fields.get_field(acme.id, field.id, consistent=True)
    assert used is not None and used.in_use == 1
    changed = Conflict("changed meanwhile")
    with pytest.raises(Conflict, match="changed meanwhile"):  # a value holds it
        stores.custom_fields.save_field(acme.id, used, expected_version=1, require_unused=True, changed=changed)
    stores.custom_fields.save_field(
        acme.id,
        used.model_copy(update={"label": "T-shirt size"}),
        expected_version=1,
        require_unused=False,
        changed=changed,
    )
    with pytest.raises(Conflict, match="changed meanwhile"):
        stores.custom_fields.delete_field(acme.id, used, at=NOW, by="x", changed=changed)  # stale and in use
    stores.contacts.update(holder, holder.model_copy(update={"custom_fields": {}}), by=owner.user_id)
    current = stores.custom_fields.get_field(acme.id, field.id, consistent=True)
    assert current is not None and current.in_use == 0 and current.label == "T-shirt size"
    stores.custom_fields.delete_field(acme.id, current, at=NOW, by="x", changed=changed)
    assert stores.custom_fields.list_fields(acme.id) == []
    with pytest.raises(ValidationFailed):  # values of a field that is gone
        stores.contacts.create(person(acme.id, "Bo", "Ek", owner.user_id, custom_fields={field.id: "S"}), by="x")
