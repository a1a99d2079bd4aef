"""Pagination: limits, and cursors that are tamper-proof and bound to their
tenant and query, carried through real lists over the twins."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib.domain.contacts.models import ContactQuery, NewContact
from chalicelib.domain.shared.errors import BadRequest, ValidationFailed
from chalicelib.domain.shared.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    CursorCodec,
    PageRequest,
    QueryScope,
    Slice,
    parse_limit,
)
from tests.unit.conftest import Unit

CODEC = CursorCodec(b"unit-secret")
SCOPE = QueryScope("t1", "contacts.list", {"kind": "person", "tag": "vip"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        CursorCodec(b"")


def test_a_cursor_of_another_secret_is_refused() -> None:
    token = CursorCodec(b"other").encode({"pk": "x"}, SCOPE)
    with pytest.raises(BadRequest):
        CODEC.decode(token, SCOPE)


def test_a_cursor_with_a_changed_position_is_refused() -> None:
    token = CODEC.encode({"pk": "T#t1#C#1"}, SCOPE)
    _, signature = token.split(".")
    forged = b64(json.dumps({"pk": "T#t2#C#1"}).encode()) + "." + signature
    with pytest.raises(BadRequest):
        CODEC.decode(forged, SCOPE)


@pytest.mark.parametrize("token", ["", ".", "abc", "a.b.c", "%%%.%%%", "eyJ9.e30"])
def test_garbage_is_not_a_cursor(token: str) -> None:
    with pytest.raises(BadRequest):
        CODEC.decode(token, SCOPE)


def test_a_signed_payload_that_is_not_an_object_is_refused() -> None:
    payload = b"[1, 2]"
    signature = CODEC._signature(SCOPE, payload)
    with pytest.raises(BadRequest):
        CODEC.decode(f"{b64(payload)}.{b64(signature)}", SCOPE)


@pytest.mark.parametrize(
    "scope",
    [
        QueryScope("t2", "contacts.list", {"kind": "person", "tag": "vip"}),
        QueryScope("t1", "deals.list", {"kind": "person", "tag": "vip"}),
        QueryScope("t1", "contacts.list", {"kind": "company", "tag": "vip"}),
        QueryScope("t1", "contacts.list", {"kind": "person"}),
        QueryScope("t1", "contacts.list", {"kind": "person", "tag": "vip", "q": "anna"}),
    ],
)
def test_a_cursor_is_valid_only_in_its_own_scope(scope: QueryScope) -> None:
    token = CODEC.encode({"pk": "x"}, SCOPE)
    with pytest.raises(BadRequest):
        CODEC.decode(token, scope)


def test_the_order_of_filters_does_not_change_the_scope() -> None:
    token = CODEC.encode({"pk": "x"}, SCOPE)
    assert CODEC.decode(token, QueryScope("t1", "contacts.list", {"tag": "vip", "kind": "person"})) == {"pk": "x"}


def test_positions_round_trip_with_their_types() -> None:
    position: dict[str, Any] = {"pk": "T#t1", "sk": "A#1", "n": 3, "nested": {"a": [1, "b"]}}
    assert CODEC.decode(CODEC.encode(position, SCOPE), SCOPE) == position


def test_a_cursor_is_url_safe() -> None:
    token = CODEC.encode({"pk": "ä/+?&=" * 10}, SCOPE)
    assert all(c.isalnum() or c in "-_." for c in token)


def test_a_page_request_without_cursor_starts_at_the_beginning() -> None:
    assert CODEC.page_request(SCOPE, limit=None, cursor=None) == PageRequest(limit=DEFAULT_LIMIT, after=None)


def test_a_page_request_decodes_its_cursor() -> None:
    token = CODEC.encode({"pk": "x"}, SCOPE)
    assert CODEC.page_request(SCOPE, limit="10", cursor=token) == PageRequest(limit=10, after={"pk": "x"})


def test_the_last_page_has_no_cursor() -> None:
    assert CODEC.page(Slice([1, 2], None), SCOPE).next_cursor is None
    assert CODEC.page(Slice([1, 2], {"pk": "x"}), SCOPE).next_cursor is not None


@pytest.mark.parametrize(("raw", "limit"), [(None, 50), ("", 50), ("1", 1), (200, 200), ("075", 75)])
def test_valid_limits(raw: Any, limit: int) -> None:
    assert parse_limit(raw) == limit


@pytest.mark.parametrize("raw", ["0", "201", "-1", "ten", "1.5", 1000, " "])
def test_a_limit_outside_1_to_200_is_refused_not_clamped(raw: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_limit(raw)
    assert err.value.errors[0].field == "limit"


def test_the_maximum_limit_is_200() -> None:
    assert MAX_LIMIT == 200


def test_the_container_codec_walks_a_real_list_to_its_end(unit: Unit) -> None:
    acme = unit.tenant()
    for n in range(7):
        unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name=f"N{n}"))
    scope = QueryScope(acme.id, "contacts.list", ContactQuery().filters())
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        request = unit.cursor_codec.page_request(scope, limit=3, cursor=cursor)
        page = unit.cursor_codec.page(unit.contacts.list(acme.owner, ContactQuery(), request), scope)
        seen += [c.last_name or "" for c in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"N{n}" for n in range(7)] and pages == 3


def test_a_cursor_of_one_tenants_list_opens_nothing_of_anothers(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    for n in range(3):
        unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name=f"N{n}"))
    scope = QueryScope(acme.id, "contacts.list", {})
    first = unit.cursor_codec.page(unit.contacts.list(acme.owner, ContactQuery(), PageRequest(limit=1)), scope)
    assert first.next_cursor is not None
    with pytest.raises(BadRequest):
        unit.cursor_codec.page_request(QueryScope(globex.id, "contacts.list", {}), limit=1, cursor=first.next_cursor)


def test_a_page_of_exactly_the_remaining_items_is_the_last(unit: Unit) -> None:
    acme = unit.tenant()
    for n in range(4):
        unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name=f"N{n}"))
    first = unit.contacts.list(acme.owner, ContactQuery(), PageRequest(limit=2))
    second = unit.contacts.list(acme.owner, ContactQuery(), PageRequest(limit=2, after=first.after))
    assert (len(second.items), second.after) == (2, None)


def test_a_full_page_before_hidden_contacts_says_more_may_follow(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    for last, share in (("A", "shared_read"), ("B", "shared_read"), ("C", "private")):
        unit.contacts.create(ann, acme.record, NewContact(kind="person", first_name="X", last_name=last, access=share))
    first = unit.contacts.list(bob, ContactQuery(), PageRequest(limit=2))
    assert [c.last_name for c in first.items] == ["A", "B"] and first.after is not None  # as a DynamoDB Query
    rest = unit.contacts.list(bob, ContactQuery(), PageRequest(limit=2, after=first.after))
    assert (rest.items, rest.after) == ([], None)


def test_a_filtered_list_fills_its_pages_past_hidden_records(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    for n in range(6):
        share = "shared_read" if n % 2 else "private"
        unit.contacts.create(
            ann, acme.record, NewContact(kind="person", first_name="A", last_name=f"N{n}", access=share)
        )
    seen: list[str] = []
    page = PageRequest(limit=2)
    while True:
        found = unit.contacts.list(bob, ContactQuery(), page)
        seen += [c.last_name or "" for c in found.items]
        if found.after is None:
            break
        page = PageRequest(limit=2, after=found.after)
    assert seen == ["N1", "N3", "N5"]
