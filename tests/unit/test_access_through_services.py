"""The access policy as the services apply it: role x record access x
operation, asserted through the real use cases (read, change, delete, change
access) of contacts, deals, cases, tasks and history events. Hidden is 404
(NotFound) whatever the operation; visible but not allowed is 403 (Forbidden).

The expected outcomes are written out by hand from the table in
domain/shared/access.py, never derived from the code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain.cases.models import CaseChanges, NewCase
from chalicelib.domain.contacts.models import ContactChanges, NewContact
from chalicelib.domain.deals.models import DealChanges, NewDeal
from chalicelib.domain.records.history import HistoryChanges, NewHistoryEvent
from chalicelib.domain.shared.errors import Forbidden, NotFound
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import NewTask, TaskChanges
from tests.unit.conftest import START, Unit, UnitTenant

OK, HIDDEN, REFUSED = "ok", "404", "403"
OPERATIONS = ("read", "write", "delete", "change_access")


@dataclass
class World:
    unit: Unit
    acme: UnitTenant
    creator: Principal  # makes every record
    me: Principal  # the user whose rights are asked
    other: Principal


def world(unit: Unit, role: str = "user") -> World:
    acme = unit.tenant()
    creator = acme.add_user("creator")
    me = acme.add_user("me", role)
    return World(unit, acme, creator, me, acme.add_user("other"))


def outcome(action: Callable[[], Any]) -> str:
    try:
        action()
    except NotFound:
        return HIDDEN
    except Forbidden:
        return REFUSED
    return OK


# ---- contacts (CON-8, CON-9) ----


def contact_actions(w: World, relation: str, share: str) -> dict[str, Callable[[], Any]]:
    managers = {"manager": [w.creator.user_id, w.me.user_id], "creator, not manager": [w.other.user_id]}.get(
        relation, [w.creator.user_id]
    )
    by = w.me if relation == "creator, not manager" else w.creator
    contact = w.unit.contacts.create(
        by, w.acme.record, NewContact(kind="person", first_name="A", last_name="B", access=share, managers=managers)
    )
    c, unit, acme, me = contact, w.unit, w.acme, w.me
    return {
        "read": lambda: unit.contacts.get(me, c.id),
        "write": lambda: unit.contacts.update(me, acme.record, c.id, ContactChanges(job_title="x"), expected_version=1),
        "delete": lambda: unit.contacts.delete(me, c.id, expected_version=1),
        "change_access": lambda: unit.contacts.update(
            me, acme.record, c.id, ContactChanges(access="shared_read"), expected_version=1
        ),
    }


CONTACT_TABLE = [
    ("private", "manager", (OK, OK, OK, OK)),
    ("private", "creator, not manager", (HIDDEN, HIDDEN, HIDDEN, HIDDEN)),
    ("private", "unrelated", (HIDDEN, HIDDEN, HIDDEN, HIDDEN)),
    ("shared_read", "manager", (OK, OK, OK, OK)),
    ("shared_read", "creator, not manager", (OK, REFUSED, REFUSED, REFUSED)),
    ("shared_read", "unrelated", (OK, REFUSED, REFUSED, REFUSED)),
    ("shared_write", "manager", (OK, OK, OK, OK)),
    ("shared_write", "creator, not manager", (OK, OK, REFUSED, REFUSED)),
    ("shared_write", "unrelated", (OK, OK, REFUSED, REFUSED)),
]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("share", "relation", "expected"), CONTACT_TABLE)
def test_a_user_on_a_contact(unit: Unit, share: str, relation: str, expected: tuple[str, ...], operation: str) -> None:
    w = world(unit)
    actions = contact_actions(w, relation, share)
    assert outcome(actions[operation]) == expected[OPERATIONS.index(operation)]


@pytest.mark.parametrize("role", ["admin", "owner"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_owners_and_admins_do_everything_to_a_private_contact(unit: Unit, role: str, operation: str) -> None:
    w = world(unit, role)
    assert outcome(contact_actions(w, "unrelated", "private")[operation]) == OK


# ---- deals and cases (DEA-6, CAS-2) ----


def listed_actions(w: World, kind: str, relation: str, private: bool) -> dict[str, Callable[[], Any]]:
    by = w.me if relation == "creator" else w.creator
    listed = [w.me.user_id] if relation == "listed" else [w.other.user_id]
    access_list = listed if private else []
    responsible = {"responsible_id": w.me.user_id} if relation == "responsible" else {}
    unit, acme, me = w.unit, w.acme, w.me
    if kind == "deal":
        deal = unit.deals.create(by, acme.record, NewDeal(title="D", access_list=access_list, **responsible))
        return {
            "read": lambda: unit.deals.get(me, deal.id),
            "write": lambda: unit.deals.update(me, deal.id, DealChanges(description="x"), expected_version=1),
            "delete": lambda: unit.deals.delete(me, deal.id, expected_version=1),
            "change_access": lambda: unit.deals.update(
                me, deal.id, DealChanges(access_list=[me.user_id, w.creator.user_id]), expected_version=1
            ),
        }
    case = unit.cases.create(by, NewCase(title="C", access_list=access_list))
    return {
        "read": lambda: unit.cases.get(me, case.id),
        "write": lambda: unit.cases.update(me, case.id, CaseChanges(title="x"), expected_version=1),
        "delete": lambda: unit.cases.delete(me, case.id, expected_version=1),
        "change_access": lambda: unit.cases.update(
            me, case.id, CaseChanges(access_list=[me.user_id, w.creator.user_id]), expected_version=1
        ),
    }


LISTED_TABLE = [
    (False, "creator", (OK, OK, OK, OK)),
    (False, "unrelated", (OK, OK, OK, REFUSED)),
    (False, "responsible", (OK, OK, OK, REFUSED)),
    (True, "creator", (OK, OK, OK, OK)),
    (True, "listed", (OK, OK, OK, REFUSED)),
    (True, "responsible", (HIDDEN, HIDDEN, HIDDEN, HIDDEN)),
    (True, "unrelated", (HIDDEN, HIDDEN, HIDDEN, HIDDEN)),
]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("private", "relation", "expected"), LISTED_TABLE)
def test_a_user_on_a_deal(unit: Unit, private: bool, relation: str, expected: tuple[str, ...], operation: str) -> None:
    w = world(unit)
    assert outcome(listed_actions(w, "deal", relation, private)[operation]) == expected[OPERATIONS.index(operation)]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("private", "relation", "expected"), [row for row in LISTED_TABLE if row[1] != "responsible"])
def test_a_user_on_a_case(unit: Unit, private: bool, relation: str, expected: tuple[str, ...], operation: str) -> None:
    w = world(unit)
    assert outcome(listed_actions(w, "case", relation, private)[operation]) == expected[OPERATIONS.index(operation)]


@pytest.mark.parametrize("kind", ["deal", "case"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_admin_does_everything_to_a_private_deal_or_case(unit: Unit, kind: str, operation: str) -> None:
    w = world(unit, "admin")
    assert outcome(listed_actions(w, kind, "unrelated", True)[operation]) == OK


# ---- tasks (TSK-*) ----


def task_actions(w: World, relation: str) -> dict[str, Callable[[], Any]]:
    unit, acme, me = w.unit, w.acme, w.me
    links: dict[str, Any] = {}
    if relation in ("reads the linked contact", "cannot read the linked contact"):
        share = "shared_read" if relation == "reads the linked contact" else "private"
        contact = unit.contacts.create(
            w.creator, acme.record, NewContact(kind="person", first_name="A", last_name="B", access=share)
        )
        links["contact_id"] = contact.id
    by = me if relation == "creator" else w.creator
    responsible = me.user_id if relation == "responsible" else w.creator.user_id
    task = unit.tasks.create(by, NewTask(title="T", due_at=START, responsible_id=responsible, **links))
    return {
        "read": lambda: unit.tasks.get(me, task.id),
        "write": lambda: unit.tasks.update(me, task.id, TaskChanges(title="x"), expected_version=1),
        "delete": lambda: unit.tasks.delete(me, task.id, expected_version=1),
        "change_access": lambda: unit.tasks.update(
            me, task.id, TaskChanges(responsible_id=w.other.user_id), expected_version=1
        ),
    }


TASK_TABLE = [
    ("responsible", (OK, OK, OK, OK)),
    ("creator", (OK, OK, OK, OK)),
    ("reads the linked contact", (OK, REFUSED, REFUSED, REFUSED)),
    ("cannot read the linked contact", (HIDDEN, HIDDEN, HIDDEN, HIDDEN)),
    ("unrelated", (HIDDEN, HIDDEN, HIDDEN, HIDDEN)),
]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("relation", "expected"), TASK_TABLE)
def test_a_user_on_a_task(unit: Unit, relation: str, expected: tuple[str, ...], operation: str) -> None:
    w = world(unit)
    assert outcome(task_actions(w, relation)[operation]) == expected[OPERATIONS.index(operation)]


# ---- history events (HIS-1) ----


def history_actions(w: World, relation: str) -> dict[str, Callable[[], Any]]:
    unit, acme, me = w.unit, w.acme, w.me
    share = "private" if relation == "author, parent hidden" else "shared_read"
    managers = [w.creator.user_id]
    if relation == "author, parent hidden":
        managers = [w.creator.user_id, me.user_id]
    contact = unit.contacts.create(
        w.creator,
        acme.record,
        NewContact(kind="person", first_name="A", last_name="B", access=share, managers=managers),
    )
    author = me if relation.startswith("author") else w.creator
    event = unit.history.create(author, "contact", contact.id, NewHistoryEvent(text="x"))
    if relation == "author, parent hidden":  # then taken off the managers
        unit.contacts.update(
            w.creator, acme.record, contact.id, ContactChanges(managers=[w.creator.user_id]), expected_version=1
        )
    return {
        "read": lambda: unit.history.get(me, event.id),
        "write": lambda: unit.history.update(me, event.id, HistoryChanges(text="y"), expected_version=1),
        "delete": lambda: unit.history.delete(me, event.id),
    }


HISTORY_TABLE = [
    ("author", (OK, OK, OK)),
    ("anyone else", (OK, REFUSED, REFUSED)),
    ("author, parent hidden", (HIDDEN, HIDDEN, HIDDEN)),
]


@pytest.mark.parametrize("operation", OPERATIONS[:3])
@pytest.mark.parametrize(("relation", "expected"), HISTORY_TABLE)
def test_a_user_on_a_history_event(unit: Unit, relation: str, expected: tuple[str, ...], operation: str) -> None:
    w = world(unit)
    assert outcome(history_actions(w, relation)[operation]) == expected[OPERATIONS.index(operation)]


# ---- across tenants ----


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_owner_of_another_tenant_finds_nothing(unit: Unit, operation: str) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    shared = unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", access="shared_write")
    )
    other = globex.owner
    calls: dict[str, Callable[[], Any]] = {
        "read": lambda: unit.contacts.get(other, shared.id),
        "write": lambda: unit.contacts.update(
            other, globex.record, shared.id, ContactChanges(job_title="x"), expected_version=1
        ),
        "delete": lambda: unit.contacts.delete(other, shared.id, expected_version=1),
        "change_access": lambda: unit.contacts.update(
            other, globex.record, shared.id, ContactChanges(access="private"), expected_version=1
        ),
    }
    assert outcome(calls[operation]) == HIDDEN
    assert unit.contacts.get(acme.owner, shared.id).version == 1
