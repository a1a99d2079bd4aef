"""The field-level change log's pure diff: what a create, an update and a
delete list, and which values it takes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.records.changelog import ChangeAction, FieldChange, change_entry, diff

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def changes(before: Any, after: Any, **options: Any) -> dict[str, tuple[Any, Any]]:
    return {c.field: (c.old, c.new) for c in diff(before, after, **options)}


def test_a_create_lists_every_field_with_a_value():
    after = {
        "id": "c1",
        "version": 1,
        "created_at": T0,
        "first_name": "Anna",
        "last_name": "Müller",
        "tags": ["Lead"],
        "job_title": None,
        "description": "",
        "custom_fields": {},
        "phones": [],
    }
    assert changes(None, after) == {
        "first_name": (None, "Anna"),
        "last_name": (None, "Müller"),
        "tags": (None, ["Lead"]),
    }


def test_a_delete_lists_every_field_with_a_value_as_gone():
    before = {"id": "c1", "updated_by": "u1", "title": "ERP", "amount": "12000.00", "member_ids": []}
    assert changes(before, None) == {"title": ("ERP", None), "amount": ("12000.00", None)}


def test_an_update_lists_only_what_changed():
    before = {
        "id": "c1",
        "version": 3,
        "updated_at": T0,
        "updated_by": "u1",
        "first_name": "Anna",
        "last_name": "Müller",
        "job_title": "CFO",
        "tags": ["Lead"],
        "company_id": "x",
    }
    after = {
        **before,
        "version": 4,
        "updated_at": T0 + timedelta(hours=1),
        "updated_by": "u2",
        "job_title": "CEO",
        "tags": ["Lead", "Customer"],
        "company_id": None,
        "temperature_id": "hot",
    }
    assert diff(before, after) == [
        FieldChange(field="company_id", old="x", new=None),
        FieldChange(field="job_title", old="CFO", new="CEO"),
        FieldChange(field="tags", old=["Lead"], new=["Lead", "Customer"]),
        FieldChange(field="temperature_id", old=None, new="hot"),
    ]
    assert diff(before, dict(before)) == []


def test_nested_values_are_compared_as_whole_json_values():
    before = {
        "address": {"city": "Berlin", "zip": "10115"},
        "emails": [{"value": "a@x.de", "primary": True}],
        "custom_fields": {"size": 1},
    }
    same_keys_other_order = {
        "address": {"zip": "10115", "city": "Berlin"},
        "emails": [{"primary": True, "value": "a@x.de"}],
        "custom_fields": {"size": 1},
    }
    assert diff(before, same_keys_other_order) == []
    assert changes(before, {**before, "address": {"city": "Hamburg", "zip": "10115"}}) == {
        "address": ({"city": "Berlin", "zip": "10115"}, {"city": "Hamburg", "zip": "10115"})
    }
    assert changes(before, {**before, "emails": [{"value": "a@x.de", "primary": 1}]}) != {}, "true is not 1"
    assert changes(before, {**before, "custom_fields": {"size": 1.0}}) != {}, "1 is not 1.0"
    assert changes({"tags": ["a", "b"]}, {"tags": ["b", "a"]}) == {"tags": (["a", "b"], ["b", "a"])}


def test_values_become_json_and_anything_else_is_refused():
    before = {
        "due": date(2026, 3, 1),
        "amount": Decimal("10.50"),
        "at": T0,
        "ids": {"b", "a"},
        "kind": ChangeAction.CREATED,
    }
    assert changes(None, before) == {
        "due": (None, "2026-03-01"),
        "amount": (None, "10.50"),
        "at": (None, "2026-03-01T12:00:00+00:00"),
        "ids": (None, ["a", "b"]),
        "kind": (None, "created"),
    }
    with pytest.raises(TypeError):
        diff(None, {"blob": object()})
    with pytest.raises(TypeError):
        diff(None, {"ratio": float("nan")})


def test_ignored_fields_are_left_out():
    assert changes({"a": 1, "b": 1}, {"a": 2, "b": 2}, ignore={"b"}) == {"a": (1, 2)}


def test_an_entry_per_write_and_none_for_a_write_that_changed_nothing():
    created = change_entry("contact", "c1", None, {"first_name": "Anna"}, by="u1", at=T0)
    assert created is not None and created.action == ChangeAction.CREATED
    assert (created.at, created.by, created.created_at, created.version) == (T0, "u1", T0, 1)
    assert (
        change_entry(
            "contact", "c1", {"first_name": "Anna", "version": 1}, {"first_name": "Anna", "version": 2}, by="u1", at=T0
        )
        is None
    )
    deleted = change_entry("deal", "d1", {"title": "ERP"}, None, by="u1", at=T0)
    assert deleted is not None and deleted.action == ChangeAction.DELETED
    assert change_entry("task", "t1", {}, None, by=None, at=T0).changes == [], "a delete is logged even when empty"
    with pytest.raises(ValueError):  # products have no change log (invoices have one since issue 13)
        change_entry("product", "p1", None, {"x": 1}, by="u1", at=T0)
