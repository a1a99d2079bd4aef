"""Contacts as users work with them (CON-1..13): create, change, delete,
search, tags, company names, merge, bulk and photos, over in-memory twins."""

from __future__ import annotations

import io
from typing import Any

import pytest

from chalicelib.domain.contacts.bulk import BulkRequest, BulkResult
from chalicelib.domain.contacts.merge import MergeRequest
from chalicelib.domain.contacts.models import Contact, ContactChanges, ContactQuery, NewContact
from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.jobs.service import BackgroundJob
from chalicelib.domain.shared.errors import (
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from tests.unit.conftest import FixedClock, Unit, UnitTenant


def person(
    unit: Unit, acme: UnitTenant, by: Principal | None = None, first: str = "Anna", last: str = "Müller", **fields: Any
) -> Contact:
    return unit.contacts.create(
        by or acme.owner, acme.record, NewContact(kind="person", first_name=first, last_name=last, **fields)
    )


def company(
    unit: Unit, acme: UnitTenant, name: str = "Acme Tools", by: Principal | None = None, **fields: Any
) -> Contact:
    return unit.contacts.create(by or acme.owner, acme.record, NewContact(kind="company", company_name=name, **fields))


def update(unit: Unit, acme: UnitTenant, by: Principal, contact: Contact, **changes: Any) -> Contact:
    current = unit.memory.contacts.get(acme.id, contact.id)
    assert current is not None
    return unit.contacts.update(
        by, acme.record, contact.id, ContactChanges(**changes), expected_version=current.version
    )


def search(unit: Unit, by: Principal, **query: Any) -> list[str]:
    return [c.display_name for c in unit.contacts.list(by, ContactQuery(**query), PageRequest()).items]


def image(size: tuple[int, int] = (400, 300), mode: str = "RGB", fmt: str = "PNG", color: Any = (200, 10, 10)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt)
    return out.getvalue()


# ---- create ----


def test_the_creator_is_the_first_manager_of_a_private_contact(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    anna = person(unit, acme, ann)
    assert (anna.managers, anna.access.value, anna.version) == ([ann.user_id], "private", 1)
    assert (anna.created_by, anna.updated_by) == (ann.user_id, ann.user_id)


def test_a_new_contact_is_stamped_with_the_clock(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    assert anna.created_at == anna.updated_at == clock.now


def test_named_managers_replace_the_creator_and_are_told(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    anna = person(unit, acme, acme.owner, managers=[ann.user_id])
    assert anna.managers == [ann.user_id]
    assert [n.subject for n in unit.notifier.inbox(ann, PageRequest()).items] == [
        "You are now a manager of Anna Müller"
    ]


def test_the_creator_is_not_told_about_managing_their_own_contact(unit: Unit) -> None:
    acme = unit.tenant()
    person(unit, acme)
    assert unit.notifier.inbox(acme.owner, PageRequest()).items == []


def test_a_deactivated_user_cannot_be_a_manager(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    unit.memory.identity.update_user(
        acme.user(ann),
        acme.user(ann).model_copy(update={"status": UserStatus.DEACTIVATED}),
        expected_version=acme.user(ann).version,
    )
    with pytest.raises(ValidationFailed) as err:
        person(unit, acme, managers=[ann.user_id])
    assert err.value.errors[0].field == "managers"


def test_a_user_of_another_tenant_cannot_be_a_manager(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    gus = globex.add_user("gus")
    with pytest.raises(ValidationFailed):
        person(unit, acme, managers=[gus.user_id])


def test_duplicate_managers_are_kept_once(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, managers=[acme.owner.user_id, acme.owner.user_id])
    assert anna.managers == [acme.owner.user_id]


def test_a_person_takes_its_company_name_from_the_company(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme)
    assert person(unit, acme, company_id=tools.id).company_name == "Acme Tools"


def test_a_person_cannot_link_a_company_that_does_not_exist(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        person(unit, acme, company_id="nope")
    assert err.value.errors[0].field == "company_id"


def test_a_person_cannot_link_another_person_as_company(unit: Unit) -> None:
    acme = unit.tenant()
    bob = person(unit, acme, first="Bob")
    with pytest.raises(ValidationFailed):
        person(unit, acme, company_id=bob.id)


def test_a_person_cannot_link_a_company_hidden_from_its_creator(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    secret = company(unit, acme, "Secret Inc", by=ann)
    with pytest.raises(ValidationFailed):
        person(unit, acme, bob, company_id=secret.id)


def test_a_person_cannot_link_a_company_of_another_tenant(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    theirs = company(unit, globex, "Globex Corp")
    with pytest.raises(ValidationFailed):
        person(unit, acme, company_id=theirs.id)


def test_existing_tags_keep_their_spelling_when_typed_differently(unit: Unit) -> None:
    acme = unit.tenant()
    person(unit, acme, tags=["Fair 2026"])
    assert person(unit, acme, first="Bob", tags=["FAIR 2026", "new"]).tags == ["Fair 2026", "new"]


def test_phone_numbers_are_stored_in_the_tenants_region(unit: Unit) -> None:
    acme = unit.tenant(phone_region="US")
    anna = person(unit, acme, details=[{"type": "phone", "value": "(212) 555-0100"}])
    assert anna.details[0]["value"] == "+12125550100"


def test_a_contact_type_must_be_an_entry_of_the_tenant(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed):
        person(unit, acme, type_id="no-such-type")


def test_a_contact_type_of_another_tenant_is_refused(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    theirs = unit.settings_lists.list(globex.owner, "contact-types")[0]
    with pytest.raises(ValidationFailed):
        person(unit, acme, type_id=theirs.id)


# ---- read and access (CON-8, CON-9) ----


def test_a_contact_of_another_tenant_does_not_exist(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    anna = person(unit, acme)
    with pytest.raises(NotFound):
        unit.contacts.get(globex.owner, anna.id)


def test_an_admin_reads_and_changes_private_contacts(unit: Unit) -> None:
    acme = unit.tenant()
    ann, boss = acme.add_user("ann"), acme.admin()
    anna = person(unit, acme, ann)
    assert unit.contacts.get(boss, anna.id).id == anna.id
    assert update(unit, acme, boss, anna, job_title="CEO").job_title == "CEO"


def test_shared_for_writing_lets_others_change_but_not_delete(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann, access="shared_write")
    assert update(unit, acme, bob, anna, job_title="CTO").job_title == "CTO"
    with pytest.raises(Forbidden):
        unit.contacts.delete(bob, anna.id, expected_version=2)


def test_shared_for_writing_does_not_let_others_change_the_managers(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann, access="shared_write")
    with pytest.raises(Forbidden):
        update(unit, acme, bob, anna, managers=[bob.user_id])
    with pytest.raises(Forbidden):
        update(unit, acme, bob, anna, access="private")


def test_a_creator_removed_from_the_managers_loses_a_private_contact(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann)
    update(unit, acme, ann, anna, managers=[bob.user_id])
    with pytest.raises(NotFound):
        unit.contacts.get(ann, anna.id)
    assert unit.contacts.get(bob, anna.id).managers == [bob.user_id]


def test_the_list_shows_shared_contacts_and_hides_private_ones(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    person(unit, acme, ann, "Private", "One")
    person(unit, acme, ann, "Shared", "Two", access="shared_read")
    assert search(unit, bob) == ["Shared Two"]
    assert sorted(search(unit, ann)) == ["Private One", "Shared Two"]


def test_the_list_sorts_persons_by_last_name_by_default(unit: Unit) -> None:
    acme = unit.tenant()
    for first, last in (("Zoe", "Adams"), ("Adam", "Zander"), ("Max", "Meier")):
        person(unit, acme, first=first, last=last)
    assert search(unit, acme.owner) == ["Zoe Adams", "Max Meier", "Adam Zander"]
    assert search(unit, acme.owner, sort="-name") == ["Adam Zander", "Max Meier", "Zoe Adams"]


def test_the_list_sorts_by_creation_when_asked(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    for last in ("B", "C", "A"):
        person(unit, acme, last=last * 3)
        clock.advance(minutes=1)
    assert search(unit, acme.owner, sort="created") == ["Anna BBB", "Anna CCC", "Anna AAA"]
    assert search(unit, acme.owner, sort="-created") == ["Anna AAA", "Anna CCC", "Anna BBB"]


def test_the_list_filters_by_kind(unit: Unit) -> None:
    acme = unit.tenant()
    person(unit, acme)
    company(unit, acme)
    assert search(unit, acme.owner, kind="company") == ["Acme Tools"]
    assert search(unit, acme.owner, kind="person") == ["Anna Müller"]


def test_the_list_filters_by_tag_ignoring_case(unit: Unit) -> None:
    acme = unit.tenant()
    person(unit, acme, tags=["VIP"])
    person(unit, acme, first="Bob")
    assert search(unit, acme.owner, tag="vip") == ["Anna Müller"]


def test_the_list_filters_by_manager(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    person(unit, acme, managers=[ann.user_id])
    person(unit, acme, first="Bob")
    assert search(unit, acme.owner, manager_id=ann.user_id) == ["Anna Müller"]


def test_the_persons_of_a_company(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme)
    person(unit, acme, company_id=tools.id)
    person(unit, acme, first="Bob")
    assert [c.display_name for c in unit.contacts.persons(acme.owner, tools.id, PageRequest()).items] == ["Anna Müller"]


def test_a_person_has_no_persons_of_its_own(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(NotFound):
        unit.contacts.persons(acme.owner, anna.id, PageRequest())


def test_the_list_pages_without_losing_or_repeating_contacts(unit: Unit) -> None:
    acme = unit.tenant()
    for n in range(7):
        person(unit, acme, last=f"Nr{n}")
    seen: list[str] = []
    page = PageRequest(limit=3)
    while True:
        found = unit.contacts.list(acme.owner, ContactQuery(), page)
        assert len(found.items) <= 3
        seen += [c.last_name or "" for c in found.items]
        if found.after is None:
            break
        page = PageRequest(limit=3, after=found.after)
    assert seen == [f"Nr{n}" for n in range(7)]


def test_search_finds_by_email_address(unit: Unit) -> None:
    acme = unit.tenant()
    person(unit, acme, details=[{"type": "email", "value": "anna@example.com"}])
    person(unit, acme, first="Bob")
    assert search(unit, acme.owner, q="anna@exa") == ["Anna Müller"]


def test_search_finds_persons_by_their_companys_name(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme, "Globex")
    person(unit, acme, company_id=tools.id)
    assert sorted(search(unit, acme.owner, q="globex")) == ["Anna Müller", "Globex"]


def test_search_words_may_come_in_any_order(unit: Unit) -> None:
    acme = unit.tenant()
    person(unit, acme)
    person(unit, acme, first="Bernd", last="Meier")
    assert search(unit, acme.owner, q="mül ann") == ["Anna Müller"]


def test_search_does_not_show_hidden_matches(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    person(unit, acme, ann)
    assert search(unit, bob, q="muller") == []


def test_a_phone_search_that_is_no_number_finds_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    person(unit, acme, details=[{"type": "phone", "value": "030 1234567"}])
    assert search(unit, acme.owner, q="000 00000 00000 00000 00000") == []


def test_search_follows_a_rename(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    update(unit, acme, acme.owner, anna, last_name="Schmidt")
    assert search(unit, acme.owner, q="muller") == []
    assert search(unit, acme.owner, q="schmidt") == ["Anna Schmidt"]


# ---- update ----


def test_an_update_raises_the_version_and_stamps_the_editor(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    anna = person(unit, acme, access="shared_write")
    clock.advance(hours=1)
    changed = update(unit, acme, ann, anna, job_title="CEO")
    assert (changed.version, changed.updated_by, changed.updated_at) == (2, ann.user_id, clock.now)
    assert changed.created_at == anna.created_at


def test_fields_left_out_of_an_update_keep_their_values(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, job_title="CEO", description="Met at the fair")
    changed = update(unit, acme, acme.owner, anna, job_title="CTO")
    assert (changed.job_title, changed.description) == ("CTO", "Met at the fair")


def test_null_clears_a_field(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, job_title="CEO")
    assert update(unit, acme, acme.owner, anna, job_title=None).job_title is None


def test_an_update_cannot_clear_a_persons_last_name(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(ValidationFailed, match="last_name"):
        update(unit, acme, acme.owner, anna, last_name=None)


def test_an_update_cannot_give_a_company_a_first_name(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme)
    with pytest.raises(ValidationFailed):
        update(unit, acme, acme.owner, tools, first_name="Anna")


def test_a_stale_version_is_refused_and_nothing_changes(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    update(unit, acme, acme.owner, anna, job_title="CEO")
    with pytest.raises(PreconditionFailed):
        unit.contacts.update(acme.owner, acme.record, anna.id, ContactChanges(job_title="CTO"), expected_version=1)
    assert unit.contacts.get(acme.owner, anna.id).job_title == "CEO"


def test_a_reader_may_not_change_a_shared_for_reading_contact(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann, access="shared_read")
    with pytest.raises(Forbidden):
        update(unit, acme, bob, anna, job_title="x")


def test_changing_a_private_contact_of_someone_else_is_not_found(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann)
    with pytest.raises(NotFound):
        update(unit, acme, bob, anna, job_title="x")


def test_unlinking_the_company_clears_the_company_name(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme)
    anna = person(unit, acme, company_id=tools.id)
    after = update(unit, acme, acme.owner, anna, company_id=None)
    assert (after.company_id, after.company_name) == (None, None)


def test_moving_a_person_to_another_company_takes_the_new_name(unit: Unit) -> None:
    acme = unit.tenant()
    tools, globex = company(unit, acme), company(unit, acme, "Globex")
    anna = person(unit, acme, company_id=tools.id)
    assert update(unit, acme, acme.owner, anna, company_id=globex.id).company_name == "Globex"


def test_a_company_cannot_be_its_own_company(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(ValidationFailed):
        update(unit, acme, acme.owner, anna, company_id=anna.id)


def test_only_new_managers_are_notified(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, managers=[acme.owner.user_id, ann.user_id])
    update(unit, acme, acme.owner, anna, managers=[acme.owner.user_id, ann.user_id, bob.user_id])
    assert len(unit.notifier.inbox(ann, PageRequest()).items) == 1
    assert len(unit.notifier.inbox(bob, PageRequest()).items) == 1


def test_every_change_is_in_the_change_log_with_old_and_new_values(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    update(unit, acme, acme.owner, anna, job_title="CEO")
    entries = unit.changelog.for_record(acme.owner, "contact", anna.id, PageRequest()).items
    assert [e.action.value for e in entries] == ["updated", "created"]  # newest first
    assert [(c.field, c.old, c.new) for c in entries[0].changes] == [("job_title", None, "CEO")]
    assert entries[0].by == acme.owner.user_id


def test_an_update_that_changes_nothing_is_not_logged(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, job_title="CEO")
    update(unit, acme, acme.owner, anna, job_title="CEO")
    assert len(unit.changelog.for_record(acme.owner, "contact", anna.id, PageRequest()).items) == 1


# ---- company renamed (CompanyRenamed) ----


def test_a_renamed_company_renames_its_persons_in_the_background(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme)
    anna = person(unit, acme, company_id=tools.id)
    update(unit, acme, acme.owner, tools, company_name="Acme Power Tools")
    assert unit.contacts.get(acme.owner, anna.id).company_name == "Acme Tools"
    unit.run_jobs()
    assert unit.contacts.get(acme.owner, anna.id).company_name == "Acme Power Tools"
    assert sorted(search(unit, acme.owner, q="power")) == ["Acme Power Tools", "Anna Müller"]


def test_a_company_change_that_keeps_the_name_publishes_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme)
    unit.memory.queue.take()
    update(unit, acme, acme.owner, tools, description="Hardware")
    assert unit.queued() == []


def test_refreshing_company_names_twice_changes_each_person_once(unit: Unit) -> None:
    acme = unit.tenant()
    tools = company(unit, acme)
    anna = person(unit, acme, company_id=tools.id)
    update(unit, acme, acme.owner, tools, company_name="Tools AG")
    events = unit.queued()
    unit.run_jobs()
    for message in events:  # a redelivered message finds nothing left to do
        unit.memory.queue.send(message)
    unit.run_jobs()
    assert unit.contacts.get(acme.owner, anna.id).version == 2


def test_a_rename_reaches_persons_hidden_from_the_renamer(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    tools = company(unit, acme, access="shared_write")
    secret = person(unit, acme, ann, "Sam", "Secret", company_id=tools.id)
    update(unit, acme, ann, tools, company_name="Renamed")
    unit.run_jobs()
    assert unit.contacts.get(acme.owner, secret.id).company_name == "Renamed"


# ---- delete ----


def test_a_deleted_contact_is_gone_and_logged(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    with pytest.raises(NotFound):
        unit.contacts.get(acme.owner, anna.id)
    assert search(unit, acme.owner) == []


def test_deleting_needs_the_current_version(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    update(unit, acme, acme.owner, anna, job_title="CEO")
    with pytest.raises(PreconditionFailed):
        unit.contacts.delete(acme.owner, anna.id, expected_version=1)


def test_a_user_who_only_reads_may_not_delete(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann, access="shared_read")
    with pytest.raises(Forbidden):
        unit.contacts.delete(bob, anna.id, expected_version=1)


def test_a_deleted_tag_user_frees_the_tag_search(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, tags=["VIP"])
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    assert search(unit, acme.owner, tag="VIP") == []


# ---- merge ----


def test_a_merge_into_itself_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(ValidationFailed):
        unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=anna.id, into_id=anna.id))


def test_a_person_cannot_be_merged_into_a_company(unit: Unit) -> None:
    acme = unit.tenant()
    anna, tools = person(unit, acme), company(unit, acme)
    with pytest.raises(ValidationFailed, match="person cannot be merged into a company"):
        unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=anna.id, into_id=tools.id))


def test_a_merge_needs_delete_on_the_merged_contact(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    theirs = person(unit, acme, ann, access="shared_write")
    mine = person(unit, acme, bob, first="Anne")
    with pytest.raises(Forbidden):
        unit.contact_merge.merge(bob, acme.record, MergeRequest(from_id=theirs.id, into_id=mine.id))
    assert unit.contacts.get(ann, theirs.id).id == theirs.id


def test_a_merge_with_a_hidden_contact_is_not_found(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    hidden = person(unit, acme, ann)
    mine = person(unit, acme, bob, first="Anne")
    with pytest.raises(NotFound):
        unit.contact_merge.merge(bob, acme.record, MergeRequest(from_id=mine.id, into_id=hidden.id))


def test_a_merge_with_a_stale_version_of_the_survivor_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = person(unit, acme), person(unit, acme, job_title="CEO")
    with pytest.raises(PreconditionFailed):
        unit.contact_merge.merge(
            acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id), expected_version=7
        )
    assert unit.contacts.get(acme.owner, dup.id).id == dup.id


def test_a_merge_keeps_the_survivors_values_and_fills_only_its_gaps(unit: Unit) -> None:
    acme = unit.tenant()
    into = person(unit, acme, job_title="CTO")
    dup = person(unit, acme, job_title="CEO", description="From the fair", currency="USD")
    survivor = unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert (survivor.job_title, survivor.description, survivor.currency) == ("CTO", "From the fair", "USD")


def test_a_merge_adds_missing_details_and_keeps_the_survivors_primary(unit: Unit) -> None:
    acme = unit.tenant()
    into = person(unit, acme, details=[{"type": "email", "value": "anna@a.de"}])
    dup = person(unit, acme, details=[{"type": "email", "value": "ANNA@A.DE"}, {"type": "email", "value": "anna@b.de"}])
    survivor = unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert [(d["value"], d["primary"]) for d in survivor.details] == [("anna@a.de", True), ("anna@b.de", False)]


def test_a_merge_unions_managers_and_tags(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    into = person(unit, acme, tags=["VIP"])
    dup = person(unit, acme, managers=[ann.user_id], tags=["vip", "Lead"])
    survivor = unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert survivor.managers == [acme.owner.user_id, ann.user_id]
    assert survivor.tags == ["VIP", "Lead"]


def test_a_merge_that_would_exceed_ten_tags_changes_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    into = person(unit, acme, tags=[f"a{n}" for n in range(6)])
    dup = person(unit, acme, tags=[f"b{n}" for n in range(6)])
    with pytest.raises(ValidationFailed, match="limit"):
        unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.contacts.get(acme.owner, dup.id).id == dup.id
    assert unit.contacts.get(acme.owner, into.id).version == 1


def test_merging_companies_moves_their_persons(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = company(unit, acme, "Acme"), company(unit, acme, "ACME GmbH")
    anna = person(unit, acme, company_id=dup.id)
    unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    moved = unit.contacts.get(acme.owner, anna.id)
    assert (moved.company_id, moved.company_name) == (into.id, "Acme")


def test_a_merge_does_not_take_a_company_the_caller_cannot_see(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    secret = company(unit, acme, "Secret", by=ann)
    dup = person(unit, acme, ann, access="shared_write", managers=[ann.user_id, bob.user_id])
    update(unit, acme, ann, dup, company_id=secret.id)
    into = person(unit, acme, bob)
    survivor = unit.contact_merge.merge(bob, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert survivor.company_id is None


# ---- bulk (CON-13) ----


def test_bulk_needs_the_field_of_its_action() -> None:
    with pytest.raises(ValueError, match="add_tags needs tags"):
        BulkRequest(action="add_tags", ids=["a"])


def test_bulk_refuses_a_field_of_another_action() -> None:
    with pytest.raises(ValueError, match="does not go with"):
        BulkRequest(action="delete", ids=["a"], tags=["x"])


def test_bulk_ignores_duplicate_ids() -> None:
    assert BulkRequest(action="delete", ids=["a", "b", "a"]).ids == ["a", "b"]


def test_bulk_remove_tags_removes_them_ignoring_case(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, tags=["VIP", "Lead"])
    result = unit.contact_bulk.submit(
        acme.owner, acme.record, BulkRequest(action="remove_tags", tags=["vip"], ids=[anna.id])
    )
    assert isinstance(result, BulkResult) and result.succeeded == [anna.id]
    assert unit.contacts.get(acme.owner, anna.id).tags == ["Lead"]


def test_bulk_counts_a_contact_already_as_asked_as_done_without_writing_it(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme, tags=["VIP"])
    result = unit.contact_bulk.submit(
        acme.owner, acme.record, BulkRequest(action="add_tags", tags=["vip"], ids=[anna.id])
    )
    assert isinstance(result, BulkResult) and result.succeeded == [anna.id]
    assert unit.contacts.get(acme.owner, anna.id).version == 1


def test_bulk_tags_beyond_ten_fail_that_contact_only(unit: Unit) -> None:
    acme = unit.tenant()
    full = person(unit, acme, tags=[f"t{n}" for n in range(10)])
    empty = person(unit, acme, first="Bob")
    result = unit.contact_bulk.submit(
        acme.owner, acme.record, BulkRequest(action="add_tags", tags=["new"], ids=[full.id, empty.id])
    )
    assert isinstance(result, BulkResult)
    assert result.succeeded == [empty.id]
    assert [(f["id"], f["status"]) for f in result.failed] == [(full.id, 422)]


def test_bulk_set_access_needs_change_access(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann, access="shared_write")
    result = unit.contact_bulk.submit(
        bob, acme.record, BulkRequest(action="set_access", access="private", ids=[anna.id])
    )
    assert isinstance(result, BulkResult)
    assert [(f["id"], f["status"]) for f in result.failed] == [(anna.id, 403)]


def test_bulk_set_managers_with_an_unknown_user_is_one_error_for_the_request(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(ValidationFailed):
        unit.contact_bulk.submit(
            acme.owner, acme.record, BulkRequest(action="set_managers", managers=["ghost"], ids=[anna.id])
        )
    assert unit.contacts.get(acme.owner, anna.id).version == 1


def test_bulk_set_managers_sets_them(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    anna = person(unit, acme)
    unit.contact_bulk.submit(
        acme.owner, acme.record, BulkRequest(action="set_managers", managers=[ann.user_id], ids=[anna.id])
    )
    assert unit.contacts.get(acme.owner, anna.id).managers == [ann.user_id]


def test_bulk_delete_deletes_and_reports_missing_ones(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    result = unit.contact_bulk.submit(acme.owner, acme.record, BulkRequest(action="delete", ids=[anna.id, "gone"]))
    assert isinstance(result, BulkResult)
    assert result.succeeded == [anna.id]
    assert [f["reason"] for f in result.failed] == ["not_found"]


def test_more_than_a_hundred_ids_run_as_a_job_of_chunks(unit: Unit) -> None:
    acme = unit.tenant()
    mine = [person(unit, acme, last=f"N{n}").id for n in range(3)]
    ids = mine + [f"missing-{n}" for n in range(150)]
    job = unit.contact_bulk.submit(acme.owner, acme.record, BulkRequest(action="add_tags", tags=["Fair"], ids=ids))
    assert isinstance(job, BackgroundJob)
    assert len(unit.queued("contacts.bulk")) == 2
    unit.run_jobs()
    done, failures = unit.background_jobs.get(acme.owner, job.id)
    assert (done.status, done.succeeded, done.failed, done.chunks_done) == ("done", 3, 150, 2)
    assert len(failures) == 100  # the status shows the first hundred failures
    assert all("Fair" in unit.contacts.get(acme.owner, i).tags for i in mine)


def test_a_bulk_job_of_a_deactivated_user_fails_its_items(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    mine = person(unit, acme, ann)
    ids = [mine.id] + [f"x{n}" for n in range(120)]
    job = unit.contact_bulk.submit(ann, acme.record, BulkRequest(action="add_tags", tags=["Fair"], ids=ids))
    assert isinstance(job, BackgroundJob)
    user = acme.user(ann)
    unit.memory.identity.update_user(
        user, user.model_copy(update={"status": UserStatus.DEACTIVATED}), expected_version=user.version
    )
    unit.run_jobs()
    assert unit.contacts.get(acme.owner, mine.id).tags == []


# ---- photos (CON-7) ----


def test_a_photo_is_scaled_to_fit_200_by_300_keeping_its_aspect(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    saved = unit.contact_photos.put(acme.owner, anna.id, image((800, 400)))
    assert saved.photo is not None
    assert (saved.photo["width"], saved.photo["height"], saved.photo["content_type"]) == (200, 100, "image/jpeg")


def test_a_small_photo_is_not_scaled_up(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    saved = unit.contact_photos.put(acme.owner, anna.id, image((50, 40)))
    assert saved.photo is not None and (saved.photo["width"], saved.photo["height"]) == (50, 40)


def test_a_transparent_photo_stays_png(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    saved = unit.contact_photos.put(acme.owner, anna.id, image((40, 40), "RGBA", color=(0, 0, 0, 0)))
    assert saved.photo is not None and saved.photo["content_type"] == "image/png"


def test_an_opaque_png_is_stored_as_jpeg(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    saved = unit.contact_photos.put(acme.owner, anna.id, image((40, 40), "RGBA", color=(1, 2, 3, 255)))
    assert saved.photo is not None and saved.photo["content_type"] == "image/jpeg"
    data, content_type = unit.memory.photos.get(acme.id, anna.id)
    assert content_type == "image/jpeg" and data[:2] == b"\xff\xd8"


def test_a_photo_over_one_megabyte_is_refused_before_decoding(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(PayloadTooLarge):
        unit.contact_photos.put(acme.owner, anna.id, b"x" * (1024 * 1024 + 1))


def test_bytes_that_are_no_image_are_unsupported(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(UnsupportedMediaType):
        unit.contact_photos.put(acme.owner, anna.id, b"%PDF-1.7 not an image")


def test_a_damaged_image_is_invalid(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(ValidationFailed):
        unit.contact_photos.put(acme.owner, anna.id, image((60, 60), fmt="PNG")[:60])


def test_a_photo_needs_write_on_the_contact(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = person(unit, acme, ann, access="shared_read")
    with pytest.raises(Forbidden):
        unit.contact_photos.put(bob, anna.id, image())
    with pytest.raises(NotFound):  # nothing was stored
        unit.memory.photos.get(acme.id, anna.id)


def test_a_photo_with_a_stale_version_is_refused_and_not_stored(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(PreconditionFailed):
        unit.contact_photos.put(acme.owner, anna.id, image(), expected_version=5)
    with pytest.raises(NotFound):
        unit.memory.photos.get(acme.id, anna.id)


def test_a_contact_without_photo_has_no_download(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with pytest.raises(NotFound):
        unit.contact_photos.download_url(acme.owner, anna.id)


def test_removing_the_photo_clears_record_and_image(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    unit.contact_photos.put(acme.owner, anna.id, image())
    after = unit.contact_photos.delete(acme.owner, anna.id)
    assert after.photo is None
    with pytest.raises(NotFound):
        unit.memory.photos.get(acme.id, anna.id)
    with pytest.raises(NotFound):  # and a second removal finds nothing
        unit.contact_photos.delete(acme.owner, anna.id)


def test_a_deleted_contact_takes_its_photo_along(unit: Unit) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    with_photo = unit.contact_photos.put(acme.owner, anna.id, image())
    unit.contacts.delete(acme.owner, anna.id, expected_version=with_photo.version)
    unit.run_jobs()
    with pytest.raises(NotFound):
        unit.memory.photos.get(acme.id, anna.id)


def test_a_merge_copies_the_photo_to_a_survivor_without_one(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = person(unit, acme), person(unit, acme)
    unit.contact_photos.put(acme.owner, dup.id, image())
    survivor = unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert survivor.photo is not None
    assert unit.memory.photos.get(acme.id, into.id)[1] == "image/jpeg"


def test_a_merge_keeps_the_survivors_own_photo(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = person(unit, acme), person(unit, acme)
    unit.contact_photos.put(acme.owner, into.id, image((30, 30)))
    unit.contact_photos.put(acme.owner, dup.id, image((60, 60)))
    survivor = unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert survivor.photo is not None and survivor.photo["width"] == 30


def test_merging_a_contact_deleted_meanwhile_is_not_found(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = person(unit, acme), person(unit, acme, job_title="CEO")
    unit.contacts.delete(acme.owner, dup.id, expected_version=1)
    with pytest.raises(NotFound):
        unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.contacts.get(acme.owner, into.id).version == 1


def test_a_merge_that_would_exceed_five_managers_changes_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    users = [acme.add_user(f"u{n}") for n in range(6)]
    into = person(unit, acme, managers=[u.user_id for u in users[:5]])
    dup = person(unit, acme, managers=[users[5].user_id])
    with pytest.raises(ValidationFailed, match="managers"):
        unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.contacts.get(acme.owner, dup.id).id == dup.id


def test_a_null_company_name_sent_for_a_person_keeps_its_companys_name(unit: Unit) -> None:
    """A person's company_name is copied from its company: a PATCH with
    ``company_name: null`` (a client echoing a form) must not clear the copy
    while the person stays linked, or the person would no longer show, nor be
    found by, its company's name. Fixed in Contacts._apply."""
    acme = unit.tenant()
    globex = company(unit, acme, "Globex")
    anna = person(unit, acme, company_id=globex.id)
    after = update(unit, acme, acme.owner, anna, company_name=None)
    assert (after.company_id, after.company_name) == (globex.id, "Globex")
    assert sorted(search(unit, acme.owner, q="globex")) == ["Anna Müller", "Globex"]
