"""Parents (records other records hang off) and the delete guards other
features add: hidden or missing parents are NotFound, a guarded parent stays."""

from __future__ import annotations

import pytest

from chalicelib.domain.cases.models import NewCase
from chalicelib.domain.contacts.merge import MergeRequest
from chalicelib.domain.contacts.models import NewContact
from chalicelib.domain.deals.models import NewDeal
from chalicelib.domain.records.parents import ParentRef, Parents
from chalicelib.domain.shared.access import ContactAccess, ContactShare
from chalicelib.domain.shared.errors import Conflict, NotFound
from chalicelib.domain.shared.principal import Principal, Role
from tests.unit.conftest import Unit

ME = Principal(tenant_id="t", user_id="me", role=Role.USER)


def ref(share: ContactShare) -> ParentRef:
    return ParentRef("contact", "c1", "Anna", ContactAccess(frozenset({"other"}), share, "other"))


def test_a_readable_parent_resolves_with_its_title() -> None:
    parents = Parents({"contact": lambda p, i: ref(ContactShare.SHARED_READ)})
    assert parents.resolve(ME, "contact", "c1").title == "Anna"


def test_a_hidden_parent_is_not_found() -> None:
    parents = Parents({"contact": lambda p, i: ref(ContactShare.PRIVATE)})
    with pytest.raises(NotFound, match="contact does not exist"):
        parents.resolve(ME, "contact", "c1")


def test_a_missing_parent_is_not_found() -> None:
    parents = Parents({"contact": lambda p, i: None})
    with pytest.raises(NotFound):
        parents.resolve(ME, "contact", "c1")


def test_a_kind_without_resolver_is_not_found() -> None:
    with pytest.raises(NotFound):
        Parents({}).resolve(ME, "deal", "d1")


def test_only_contacts_deals_and_cases_are_parents() -> None:
    with pytest.raises(ValueError, match="task"):
        Parents({"task": lambda p, i: None})


def test_guards_give_every_reason_to_keep_a_parent() -> None:
    parents = Parents(
        {}, guards=[lambda p, k, i: ["an invoice names it"], lambda p, k, i: [], lambda p, k, i: ["a form uses it"]]
    )
    assert parents.delete_blockers(ME, "contact", "c1") == ["an invoice names it", "a form uses it"]


def guarded(unit: Unit, reason: str) -> None:
    unit.override(delete_guards=(lambda principal, kind, record_id: [f"{reason} names this {kind}"],))


def test_a_guarded_contact_cannot_be_deleted(unit: Unit) -> None:
    guarded(unit, "invoice 7")
    acme = unit.tenant()
    anna = unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B"))
    with pytest.raises(Conflict, match="invoice 7 names this contact"):
        unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    assert unit.contacts.get(acme.owner, anna.id).id == anna.id


def test_a_guarded_contact_cannot_be_merged_away(unit: Unit) -> None:
    guarded(unit, "invoice 7")
    acme = unit.tenant()
    into = unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B"))
    dup = unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", job_title="CEO")
    )
    with pytest.raises(Conflict, match="cannot be merged"):
        unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.contacts.get(acme.owner, into.id).job_title is None  # nothing changed


def test_a_guarded_deal_cannot_be_deleted(unit: Unit) -> None:
    guarded(unit, "project X")
    acme = unit.tenant()
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="D"))
    with pytest.raises(Conflict, match="project X names this deal"):
        unit.deals.delete(acme.owner, deal.id, expected_version=1)


def test_a_guarded_case_cannot_be_deleted(unit: Unit) -> None:
    guarded(unit, "invoice 9")
    acme = unit.tenant()
    case = unit.cases.create(acme.owner, NewCase(title="C"))
    with pytest.raises(Conflict, match="invoice 9 names this case"):
        unit.cases.delete(acme.owner, case.id, expected_version=1)


def test_the_container_resolves_each_parent_kind(unit: Unit) -> None:
    acme = unit.tenant()
    anna = unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="Anna", last_name="Lee"))
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="Website"))
    case = unit.cases.create(acme.owner, NewCase(title="Fair"))
    titles = [
        unit.parents.resolve(acme.owner, k, i).title
        for k, i in (("contact", anna.id), ("deal", deal.id), ("case", case.id))
    ]
    assert titles == ["Anna Lee", "Website", "Fair"]
