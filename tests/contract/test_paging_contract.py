"""Paging as both backends do it when a filter hides items: a page that
fills up while rows remain says "more may follow" (``after`` set) even when
every remaining row is hidden; the next page is then empty and final. The
DynamoDB Query cannot know what the remaining rows hold without reading them
(storage/dynamo/table.Table.query), so the twin must not know better: a unit
test that passes on the twin must not rely on a last page without a cursor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.domain.contacts.models import ContactQuery
from chalicelib.domain.notifications.service import Notification
from chalicelib.domain.records.files import ParentLink
from chalicelib.domain.records.history import HistoryEvent, HistoryKind
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.pagination import PageRequest
from tests.contract.conftest import NOW, Stores, person, walk


def test_a_full_page_before_hidden_rows_names_a_position_and_the_next_page_is_empty(stores: Stores) -> None:
    acme, owner = stores.tenant()
    for given, family in (("Ann", "Adams"), ("Bea", "Brown"), ("Cem", "Cole"), ("Dan", "Dale")):
        stores.contacts.create(person(acme.id, given, family, owner.user_id), by=owner.user_id)

    def visible(entry: dict[str, Any]) -> bool:  # hides the last two by name order
        return entry.get("cid") not in hidden

    everyone = stores.contacts.query_contacts(acme.id, ContactQuery(), PageRequest(), visible=lambda e: True).items
    hidden = {c.id for c in everyone if c.last_name in ("Cole", "Dale")}

    first = stores.contacts.query_contacts(acme.id, ContactQuery(), PageRequest(limit=2), visible=visible)
    assert [c.last_name for c in first.items] == ["Adams", "Brown"]
    assert first.after is not None  # rows remain: the page cannot say they are all hidden
    rest = stores.contacts.query_contacts(
        acme.id, ContactQuery(), PageRequest(limit=2, after=first.after), visible=visible
    )
    assert (rest.items, rest.after) == ([], None)


def test_a_full_page_at_the_end_of_the_rows_names_no_position(stores: Stores) -> None:
    acme, owner = stores.tenant()
    for first, last in (("Ann", "Adams"), ("Bea", "Brown")):
        stores.contacts.create(person(acme.id, first, last, owner.user_id), by=owner.user_id)
    found = stores.contacts.query_contacts(acme.id, ContactQuery(), PageRequest(limit=2), visible=lambda e: True)
    assert ([c.last_name for c in found.items], found.after) == (["Adams", "Brown"], None)


def test_filtered_walks_fill_their_pages_and_end_alike(stores: Stores) -> None:
    """History filtered by kind and the unread inbox, one item a page: every
    match once, in order, whatever lies between them."""
    acme, owner = stores.tenant()
    parent = ParentLink.of("contact", new_id())
    for n in range(6):
        stores.history.add_event(
            HistoryEvent(
                id=new_id(),
                tenant_id=acme.id,
                parent=parent,
                kind=HistoryKind.CALL if n in (1, 4) else HistoryKind.NOTE,
                text=f"e{n}",
                happened_at=NOW + timedelta(minutes=n),
                author_id=owner.user_id,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    calls = walk(lambda page: stores.history.list_events(acme.id, parent, page, equals={"kind": "call"}), 1)
    assert [e.text for e in calls] == ["e4", "e1"]

    notes = [
        Notification(
            id=new_id(),
            tenant_id=acme.id,
            user_id=owner.user_id,
            kind="k",
            subject=f"n{n}",
            created_at=NOW + timedelta(seconds=n),
            updated_at=NOW,
        )
        for n in range(5)
    ]
    stores.notifications.add_notifications(notes)
    for read in (0, 2, 3):
        stores.notifications.mark_read(acme.id, owner.user_id, notes[read].id, NOW)
    unread = walk(
        lambda page: stores.notifications.list_notifications(acme.id, owner.user_id, page, unread_only=True), 1
    )
    assert [n.subject for n in unread] == ["n4", "n1"]
