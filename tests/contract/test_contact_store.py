"""The contact port (ContactStorage, the one indexed store as contacts use it)
and the photo blobs: conditional create, version-checked update and delete,
lists through index entries (order, paging, filters, search), the tag
registry, and what a contact's write moves besides (change log, use counters)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.contacts.models import Contact, ContactQuery, entry_access
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import ContactShare
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal, Role
from tests.contract.conftest import NOW, Stores, pages, person, walk


def everything(entry: dict[str, Any]) -> bool:
    return True


def names(contacts: list[Contact]) -> list[str]:
    return [c.display_name for c in contacts]


def test_create_get_update_delete_are_conditional(stores: Stores) -> None:
    acme, owner = stores.tenant()
    ann = person(acme.id, "Ann", "Lee", owner.user_id)
    assert stores.contacts.create(ann, by=owner.user_id) == ann
    with pytest.raises(Conflict):
        stores.contacts.create(ann, by=owner.user_id)
    assert stores.contacts.get(acme.id, ann.id) == ann

    changed = ann.model_copy(update={"job_title": "CEO", "updated_at": NOW + timedelta(minutes=1)})
    saved = stores.contacts.update(ann, changed, by=owner.user_id)
    assert saved.version == 2 and stores.contacts.get(acme.id, ann.id) == saved
    with pytest.raises(PreconditionFailed):  # written over version 1, which is gone
        stores.contacts.update(ann, changed.model_copy(update={"job_title": "CTO"}), by=owner.user_id)
    cleared = stores.contacts.update(saved, saved.model_copy(update={"job_title": None}), by=owner.user_id)
    stored = stores.contacts.get(acme.id, ann.id)
    assert stored is not None and stored.job_title is None and stored.version == cleared.version == 3

    with pytest.raises(PreconditionFailed):
        stores.contacts.delete(saved, by=owner.user_id, at=NOW)  # version 2
    stores.contacts.delete(cleared, by=owner.user_id, at=NOW)
    assert stores.contacts.get(acme.id, ann.id) is None
    with pytest.raises(PreconditionFailed):  # gone: nothing to delete at that version
        stores.contacts.delete(cleared, by=owner.user_id, at=NOW)
    assert stores.contacts.query_contacts(acme.id, ContactQuery(), PageRequest(), visible=everything).items == []


def test_lists_page_in_name_order_filter_and_search_within_the_tenant(stores: Stores) -> None:
    acme, owner = stores.tenant("Acme")
    globex, globex_owner = stores.tenant("Globex")
    people = [("Carl", "Zeiss"), ("Anna", "Müller"), ("Bernd", "Mueller"), ("Dora", "Adams"), ("Emil", "Berg")]
    created = [
        person(acme.id, first, last, owner.user_id, tags=["Lead"] if n % 2 else [])
        for n, (first, last) in enumerate(people)
    ]
    for contact in created:
        stores.contacts.create(contact, by=owner.user_id)
    stores.contacts.create(person(globex.id, "Anna", "Müller", globex_owner.user_id), by=globex_owner.user_id)

    def listed(query: ContactQuery, limit: int = 2, **kwargs: Any) -> list[Contact]:
        return walk(
            lambda page: stores.contacts.query_contacts(acme.id, query, page, visible=everything, **kwargs), limit
        )

    assert names(listed(ContactQuery())) == ["Dora Adams", "Emil Berg", "Bernd Mueller", "Anna Müller", "Carl Zeiss"]
    assert names(listed(ContactQuery(sort="-name"), limit=3)) == [
        "Carl Zeiss",
        "Anna Müller",
        "Bernd Mueller",
        "Emil Berg",
        "Dora Adams",
    ]
    assert [
        len(page)
        for page in pages(lambda p: stores.contacts.query_contacts(acme.id, ContactQuery(), p, visible=everything), 2)
    ] == [2, 2, 1]
    assert names(listed(ContactQuery(tag="lead"))) == ["Dora Adams", "Anna Müller"]  # the tag's facet
    assert set(names(listed(ContactQuery(q="muel")))) == {"Anna Müller", "Bernd Mueller"}  # "Müller" is also "Mueller"
    assert names(listed(ContactQuery(q="anna mu"))) == ["Anna Müller"]  # only Acme's

    # What the caller may not see is dropped while the page fills.
    stranger = Principal(tenant_id=acme.id, user_id="stranger", role=Role.USER)
    readable = access.readable(stranger)
    stores.contacts.update(
        created[0], created[0].model_copy(update={"access": ContactShare.SHARED_READ}), by=owner.user_id
    )
    shown = walk(
        lambda page: stores.contacts.query_contacts(
            acme.id, ContactQuery(), page, visible=lambda e: readable(entry_access(e))
        ),
        limit=1,
    )
    assert names(shown) == ["Carl Zeiss"]


def test_tag_registry_and_what_a_write_moves_besides(stores: Stores) -> None:
    acme, owner = stores.tenant()
    client_type = stores.entry(acme.id, "contact-types")
    ann = person(acme.id, "Ann", "Lee", owner.user_id, tags=["VIP", "Lead"], type_id=client_type.id)
    stores.contacts.create(ann, by=owner.user_id)

    assert stores.contacts.tag_names(acme.id) == {"vip": "VIP", "lead": "Lead"}
    assert stores.contacts.count_tagged(acme.id, "vip", everything) == 1
    assert stores.contacts.count_tagged(acme.id, "vip", lambda e: False) == 0
    stores.contacts.save_tag(acme.id, "Customer")
    stores.contacts.save_tag(acme.id, "vip")  # respelled
    stores.contacts.delete_tag(acme.id, "lead")
    assert stores.contacts.tag_names(acme.id) == {"vip": "vip", "customer": "Customer"}

    assert stores.entry(acme.id, "contact-types").in_use == 1
    changes = stores.changelog.list_changes(acme.id, "contact", ann.id, PageRequest())
    assert [c.action for c in changes.items] == ["created"]

    with pytest.raises(ValidationFailed) as refused:  # an entry that does not exist
        stores.contacts.create(person(acme.id, "Bo", "Ek", owner.user_id, type_id="no-such-type"), by=owner.user_id)
    assert refused.value.errors[0].field == "type_id"
    assert stores.contacts.query_contacts(acme.id, ContactQuery(q="ek"), PageRequest(), visible=everything).items == []

    stores.contacts.delete(ann, by=owner.user_id, at=NOW + timedelta(hours=1))
    assert stores.entry(acme.id, "contact-types").in_use == 0
    log = stores.changelog.list_changes(acme.id, "contact", ann.id, PageRequest())
    assert [c.action for c in log.items] == ["deleted", "created"]  # newest first, outliving the contact


def test_photo_blobs(stores: Stores) -> None:
    acme, _ = stores.tenant()
    stores.photos.put(acme.id, "c1", b"\x89PNG...", "image/png")
    assert stores.photos.get(acme.id, "c1") == (b"\x89PNG...", "image/png")
    assert stores.photos.download_url(acme.id, "c1", 300)
    stores.photos.delete(acme.id, "c1")
    stores.photos.delete(acme.id, "c1")  # idempotent
    with pytest.raises(NotFound):
        stores.photos.get(acme.id, "c1")


def test_owners_of_a_phone_number_or_an_email_address(stores: Stores) -> None:
    acme, owner = stores.tenant("Acme")
    globex, globex_owner = stores.tenant("Globex")

    def details(email: str, phone: str) -> list[dict[str, Any]]:
        return [{"type": "email", "value": email, "label": "work"}, {"type": "phone", "value": phone, "label": "work"}]

    ann = person(acme.id, "Ann", "Lee", owner.user_id, details=details("Ann@Example.com", "+4930123456"))
    bob = person(acme.id, "Bob", "Lee", owner.user_id, details=details("ann@example.com.au", "+4930999999"))
    other = person(globex.id, "Ann", "Lee", globex_owner.user_id, details=details("ann@example.com", "+4930123456"))
    for contact, by in ((ann, owner), (bob, owner), (other, globex_owner)):
        stores.contacts.create(contact, by=by.user_id)

    assert stores.contacts.phone_owners(acme.id, "+4930123456") == [ann.id]
    assert stores.contacts.phone_owners(acme.id, "+4930000000") == []
    # Folded and trimmed; a whole word, not a prefix of a longer address.
    assert stores.contacts.email_owners(acme.id, " ANN@example.com ") == [ann.id]
    assert stores.contacts.email_owners(acme.id, "ann@example.com.au") == [bob.id]
    assert stores.contacts.email_owners(acme.id, "x") == []


def test_an_email_address_finds_its_contacts_by_one_exact_key_kept_in_step_with_every_write(stores: Stores) -> None:
    """Import duplicate matching (storage/imports.ContactIndex.by_email) and web
    form duplicates (email_owners) read the address's own entries: exact, case
    aside, written, moved and removed in the contact's own transaction."""
    from chalicelib.storage.memory.imports import MemoryContactIndex

    if stores.backend == "dynamo":
        from chalicelib.storage.imports import ContactIndex

        index: Any = ContactIndex()
    else:
        index = MemoryContactIndex(stores.contacts)
    acme, owner = stores.tenant("Acme")
    globex, globex_owner = stores.tenant("Globex")

    def mails(*addresses: str) -> list[dict[str, Any]]:
        return [{"type": "email", "value": a, "label": "work"} for a in addresses]

    ann = person(acme.id, "Ann", "Lee", owner.user_id, details=mails("Ann.Lee@Example.com", "ann@home.example"))
    twin = person(
        acme.id, "Anne", "Lee", owner.user_id, details=mails("ann.lee@example.com"), access=ContactShare.SHARED_READ
    )
    jurgen = person(acme.id, "Jürgen", "Ost", owner.user_id, details=mails("jürgen@example.com"))
    elsewhere = person(globex.id, "Ann", "Lee", globex_owner.user_id, details=mails("ann.lee@example.com"))
    for contact, by in ((ann, owner), (twin, owner), (jurgen, owner), (elsewhere, globex_owner)):
        stores.contacts.create(contact, by=by.user_id)

    def owners(address: str) -> list[str]:
        ids = sorted(stores.contacts.email_owners(acme.id, address))
        assert sorted(e["cid"] for e in index.by_email(acme.id, address)) == ids
        return ids

    assert owners(" ANN.LEE@example.com ") == sorted([ann.id, twin.id])
    assert owners("ann@home.example") == [ann.id]
    # Exact: neither a prefix, nor a longer address, nor the folded spelling of another.
    assert owners("ann.lee@example.co") == owners("ann.lee@example.com.au") == owners("jurgen@example.com") == []
    assert owners("jürgen@example.com") == [jurgen.id]
    assert owners("") == []
    # The entries carry what the access policy reads (the import matches only contacts its caller may see).
    found = {e["cid"]: entry_access(e) for e in index.by_email(acme.id, "ann.lee@example.com")}
    assert found[twin.id].share == ContactShare.SHARED_READ and found[ann.id].share == ContactShare.PRIVATE
    assert found[ann.id].managers == frozenset([owner.user_id]) and found[ann.id].created_by == owner.user_id

    # An address changed or removed moves its entry in the same write; a rename leaves it as it is.
    moved = ann.model_copy(update={"details": mails("ann@new.example"), "updated_at": NOW + timedelta(minutes=1)})
    ann2 = stores.contacts.update(ann, moved, by=owner.user_id)
    assert owners("ann.lee@example.com") == [twin.id] and owners("ann@home.example") == []
    assert owners("ann@new.example") == [ann.id]
    shared = ann2.model_copy(update={"access": ContactShare.SHARED_WRITE, "last_name": "Lang"})
    ann3 = stores.contacts.update(ann2, shared, by=owner.user_id)
    assert entry_access(index.by_email(acme.id, "ann@new.example")[0]).share == ContactShare.SHARED_WRITE
    # Deleted (as GDPR erasure and a merge's loser are): no entry is left.
    stores.contacts.delete(ann3, by=owner.user_id, at=NOW)
    assert owners("ann@new.example") == []
    assert sorted(stores.contacts.email_owners(globex.id, "ann.lee@example.com")) == [elsewhere.id]
