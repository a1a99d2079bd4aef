"""Cases (CAS-1..4) as users work with them: participants, access list,
open and close, tags, filters, cascades, over in-memory twins."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.cases.models import Case, CaseChanges, CaseQuery, NewCase
from chalicelib.domain.contacts.merge import MergeRequest
from chalicelib.domain.contacts.models import Contact, NewContact
from chalicelib.domain.records.history import HistoryFilter, NewHistoryEvent
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import NewTask
from tests.unit.conftest import START, FixedClock, Unit, UnitTenant


def case(unit: Unit, by: Principal, title: str = "Spring fair", **fields: Any) -> Case:
    return unit.cases.create(by, NewCase(title=title, **fields))


def change(unit: Unit, by: Principal, found: Case, **changes: Any) -> Case:
    current = unit.memory.cases.get(found.tenant_id, found.id)
    assert current is not None
    return unit.cases.update(by, found.id, CaseChanges(**changes), expected_version=current.version)


def close(unit: Unit, by: Principal, found: Case, closed: bool = True) -> Case:
    current = unit.memory.cases.get(found.tenant_id, found.id)
    assert current is not None
    return unit.cases.set_closed(by, found.id, closed, expected_version=current.version)


def contact(unit: Unit, acme: UnitTenant, last: str = "Lee", by: Principal | None = None, **fields: Any) -> Contact:
    return unit.contacts.create(
        by or acme.owner, acme.record, NewContact(kind="person", first_name="Anna", last_name=last, **fields)
    )


def titles(unit: Unit, by: Principal, **query: Any) -> list[str]:
    return sorted(c.title for c in unit.cases.list(by, CaseQuery(**query), PageRequest()).items)


def history(unit: Unit, by: Principal, found: Case) -> list[str]:
    return [e.text for e in unit.history.list(by, "case", found.id, HistoryFilter(), PageRequest()).items]


def test_a_new_case_is_open_public_and_stamped(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    made = case(unit, acme.owner)
    assert (made.closed, made.closed_at, made.access_list, made.version) == (False, None, [], 1)
    assert made.created_at == clock.now


def test_a_case_needs_a_title() -> None:
    with pytest.raises(ValidationError):
        NewCase(title=" ")


def test_a_case_title_cannot_be_cleared() -> None:
    with pytest.raises(ValidationError, match="may not be null"):
        CaseChanges(title=None)


def test_closed_is_not_a_field_of_a_patch() -> None:
    with pytest.raises(ValidationError):
        CaseChanges.model_validate({"closed": True})


def test_participants_must_be_visible_contacts(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    secret = contact(unit, acme, by=ann)
    with pytest.raises(ValidationFailed) as err:
        case(unit, bob, member_ids=[secret.id])
    assert err.value.errors[0].field == "member_ids"


def test_a_participant_hidden_from_a_later_editor_stays(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    secret = contact(unit, acme, by=ann)
    made = case(unit, ann, member_ids=[secret.id])
    assert change(unit, bob, made, title="Renamed").member_ids == [secret.id]


def test_participants_are_kept_once(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    assert case(unit, acme.owner, member_ids=[anna.id, anna.id]).member_ids == [anna.id]


def test_at_most_twenty_participants() -> None:
    with pytest.raises(ValidationError):
        NewCase(title="x", member_ids=[f"c{n}" for n in range(21)])


def test_closing_records_the_time_and_a_history_event(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    made = case(unit, acme.owner)
    clock.advance(days=1)
    closed = close(unit, acme.owner, made)
    assert (closed.closed, closed.closed_at, closed.version) == (True, clock.now, 2)
    assert history(unit, acme.owner, made) == ["Case closed"]


def test_reopening_clears_the_closing_and_is_recorded(unit: Unit) -> None:
    acme = unit.tenant()
    made = close(unit, acme.owner, case(unit, acme.owner))
    reopened = close(unit, acme.owner, made, closed=False)
    assert (reopened.closed, reopened.closed_at) == (False, None)
    assert sorted(history(unit, acme.owner, made)) == ["Case closed", "Case reopened"]


def test_closing_a_closed_case_is_a_conflict(unit: Unit) -> None:
    acme = unit.tenant()
    made = close(unit, acme.owner, case(unit, acme.owner))
    with pytest.raises(Conflict, match="already closed"):
        close(unit, acme.owner, made)


def test_reopening_an_open_case_is_a_conflict(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(Conflict, match="already open"):
        close(unit, acme.owner, case(unit, acme.owner), closed=False)


def test_closing_names_the_version(unit: Unit) -> None:
    acme = unit.tenant()
    made = case(unit, acme.owner)
    change(unit, acme.owner, made, title="Autumn fair")
    with pytest.raises(PreconditionFailed):
        unit.cases.set_closed(acme.owner, made.id, True, expected_version=1)


def test_closing_needs_write_access(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = case(unit, ann, access_list=[ann.user_id])
    with pytest.raises(NotFound):
        close(unit, bob, made)


def test_the_list_filters_open_and_closed_cases(unit: Unit) -> None:
    acme = unit.tenant()
    close(unit, acme.owner, case(unit, acme.owner, "done"))
    case(unit, acme.owner, "running")
    assert titles(unit, acme.owner, closed=True) == ["done"]
    assert titles(unit, acme.owner, closed=False) == ["running"]


def test_the_list_filters_by_participant(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    case(unit, acme.owner, "with anna", member_ids=[anna.id])
    case(unit, acme.owner, "without")
    assert titles(unit, acme.owner, contact_id=anna.id) == ["with anna"]


def test_the_list_filters_by_tag(unit: Unit) -> None:
    acme = unit.tenant()
    case(unit, acme.owner, "tagged", tags=["Trade Fair"])
    case(unit, acme.owner, "plain")
    assert titles(unit, acme.owner, tag="trade fair") == ["tagged"]


def test_a_private_case_is_seen_by_its_list_only(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob, eve = acme.add_user("ann"), acme.add_user("bob"), acme.add_user("eve")
    made = case(unit, ann, "board meeting", access_list=[bob.user_id])
    assert made.access_list == [ann.user_id, bob.user_id]
    assert titles(unit, bob) == ["board meeting"]
    assert titles(unit, eve) == []
    with pytest.raises(NotFound):
        unit.cases.get(eve, made.id)


def test_listed_users_are_told_once(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = case(unit, ann, "board meeting", access_list=[bob.user_id])
    change(unit, ann, made, title="Board meeting 2")
    assert [n.subject for n in unit.notifier.inbox(bob, PageRequest()).items] == [
        "You were given access to the case board meeting"
    ]


def test_a_listed_user_may_not_change_the_list(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = case(unit, ann, access_list=[bob.user_id])
    with pytest.raises(Forbidden):
        change(unit, bob, made, access_list=[])
    assert change(unit, bob, made, title="Changed by bob").title == "Changed by bob"


def test_an_admin_may_open_a_private_case_to_everyone(unit: Unit) -> None:
    acme = unit.tenant()
    ann, eve, boss = acme.add_user("ann"), acme.add_user("eve"), acme.admin()
    made = case(unit, ann, access_list=[ann.user_id])
    change(unit, boss, made, access_list=[])
    assert unit.cases.get(eve, made.id).access_list == []


def test_the_access_list_names_only_users_of_the_tenant(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        case(unit, acme.owner, access_list=["ghost"])
    assert err.value.errors[0].field == "access_list"


def test_deleting_a_case_takes_its_history_and_unlinks_its_tasks(unit: Unit) -> None:
    acme = unit.tenant()
    made = case(unit, acme.owner)
    event = unit.history.create(acme.owner, "case", made.id, NewHistoryEvent(text="Booked the hall"))
    task = unit.tasks.create(acme.owner, NewTask(title="Print flyers", due_at=START, case_id=made.id))
    unit.cases.delete(acme.owner, made.id, expected_version=1)
    unit.run_jobs()
    with pytest.raises(NotFound):
        unit.cases.get(acme.owner, made.id)
    assert unit.tasks.get(acme.owner, task.id).case_id is None
    assert unit.memory.history.find_event(acme.id, event.id) is None


def test_deleting_needs_the_current_version(unit: Unit) -> None:
    acme = unit.tenant()
    made = case(unit, acme.owner)
    change(unit, acme.owner, made, title="New")
    with pytest.raises(PreconditionFailed):
        unit.cases.delete(acme.owner, made.id, expected_version=1)


def test_a_deleted_contact_leaves_the_cases_it_took_part_in(unit: Unit) -> None:
    acme = unit.tenant()
    anna, bo = contact(unit, acme), contact(unit, acme, "Ek")
    made = case(unit, acme.owner, member_ids=[anna.id, bo.id])
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    unit.run_jobs()
    assert unit.cases.get(acme.owner, made.id).member_ids == [bo.id]
    assert titles(unit, acme.owner, contact_id=anna.id) == []


def test_a_merge_replaces_the_participant_once(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = contact(unit, acme), contact(unit, acme)
    made = case(unit, acme.owner, member_ids=[into.id, dup.id])
    unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.cases.get(acme.owner, made.id).member_ids == [into.id]


def test_the_contact_cascade_is_idempotent(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    case(unit, acme.owner, member_ids=[anna.id])
    assert unit.cases.unlink_contact(acme.id, anna.id) == 1
    assert unit.cases.unlink_contact(acme.id, anna.id) == 0


def test_a_case_of_another_tenant_does_not_exist(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    made = case(unit, acme.owner)
    with pytest.raises(NotFound):
        unit.cases.get(globex.owner, made.id)
    assert titles(unit, globex.owner) == []


def test_a_changed_case_is_in_its_change_log(unit: Unit) -> None:
    acme = unit.tenant()
    made = case(unit, acme.owner)
    change(unit, acme.owner, made, title="Autumn fair")
    log = unit.changelog.for_record(acme.owner, "case", made.id, PageRequest()).items
    assert [(c.field, c.old, c.new) for c in log[0].changes] == [("title", "Spring fair", "Autumn fair")]
