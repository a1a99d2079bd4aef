"""The field-level change log: the pure diff, and the log written in the
record's own transaction and read through the API."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.records.changelog import ChangeAction, FieldChange, change_entry, diff
from tests.conftest import bearer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def changes(before: Any, after: Any, **options: Any) -> dict[str, tuple[Any, Any]]:
    return {c.field: (c.old, c.new) for c in diff(before, after, **options)}


# ---- diff ----


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


# ---- the log through the API ----


def write(
    tenant_id: str, record_id: str, before: Any, after: Any, *, by: str, minutes: int, entity: str = "contact"
) -> None:
    """A fake record's write: the record item and its log entry in one transaction."""
    from chalicelib.storage.dynamo.table import Delete, Put, Table
    from chalicelib.storage.records.changelog import change_entry_op

    entry = change_entry(entity, record_id, before, after, by=by, at=T0 + timedelta(minutes=minutes))
    key = {"pk": f"T#{tenant_id}#{entity.upper()}#{record_id}", "sk": "META"}
    record_op = Delete(key) if after is None else Put({**key, "state": json.dumps(after)}, must_not_exist=False)
    Table().transact([record_op, change_entry_op(tenant_id, entry)])


def log(api: Any, token: str, path: str) -> tuple[int, Any]:
    status, body, _ = api.call("GET", path, headers=bearer(token))
    return status, body


def test_the_log_is_written_with_the_record_and_read_newest_first(api, tenant, fake_parents):
    from chalicelib.domain.shared.errors import Conflict
    from chalicelib.storage.dynamo.table import Put, Table
    from chalicelib.storage.records.changelog import change_ops

    user_id, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id, share="shared_read")
    v1 = {"first_name": "Anna", "custom_fields": {"score": 1.5}}
    v2 = {**v1, "first_name": "Anne", "custom_fields": {"score": 2.25}}
    write(tenant.id, contact, None, v1, by=user_id, minutes=0)
    write(tenant.id, contact, v1, v2, by=tenant.owner_id, minutes=1)
    # A transaction that fails writes no entry either.
    key = {"pk": f"T#{tenant.id}#CONTACT#{contact}", "sk": "META"}
    with pytest.raises(Conflict):
        Table().transact(
            [Put(key), *change_ops(tenant.id, "contact", contact, v2, {"first_name": "X"}, by=user_id, at=T0)]
        )
    assert change_ops(tenant.id, "contact", contact, v2, dict(v2), by=user_id, at=T0) == []

    status, page = log(api, token, f"/v1/contacts/{contact}/changes")
    assert status == 200 and page["next_cursor"] is None
    updated, created = page["items"]
    assert (updated["action"], updated["by"], updated["entity"], updated["record_id"]) == (
        "updated",
        tenant.owner_id,
        "contact",
        contact,
    )
    assert updated["changes"] == [
        {"field": "custom_fields", "old": {"score": 1.5}, "new": {"score": 2.25}},
        {"field": "first_name", "old": "Anna", "new": "Anne"},
    ]
    assert created["action"] == "created" and created["at"] == "2026-03-01T12:00:00Z"


def test_the_log_is_paged_and_its_cursor_bound_to_the_record(api, tenant, other_tenant, fake_parents):
    user_id, token = tenant.add_user("u@acme.example")
    contact, other = fake_parents.add(tenant.id), fake_parents.add(tenant.id)
    versions = [{"n": n} for n in range(5)]
    write(tenant.id, contact, None, versions[0], by=user_id, minutes=0)
    for n in range(1, 5):
        write(tenant.id, contact, versions[n - 1], versions[n], by=user_id, minutes=n)
    status, page = log(api, token, f"/v1/contacts/{contact}/changes?limit=3")
    assert [e["changes"][0]["new"] for e in page["items"]] == [4, 3, 2]
    status, rest = log(api, token, f"/v1/contacts/{contact}/changes?limit=3&cursor={page['next_cursor']}")
    assert [e["changes"][0]["new"] for e in rest["items"]] == [1, 0] and rest["next_cursor"] is None
    assert log(api, token, f"/v1/contacts/{other}/changes?cursor={page['next_cursor']}")[0] == 400
    fake_parents.add(other_tenant.id, record_id=contact)
    b = other_tenant.owner_token
    assert log(api, b, f"/v1/contacts/{contact}/changes?cursor={page['next_cursor']}")[0] == 400
    assert log(api, b, f"/v1/contacts/{contact}/changes")[1]["items"] == [], "B's record of the same id has no log"


def test_who_may_read_the_log(api, tenant, other_tenant, fake_parents):
    manager_id, manager = tenant.add_user("m@acme.example")
    _, outsider = tenant.add_user("o@acme.example")
    _, admin = tenant.add_user("a@acme.example", role="admin")
    private = fake_parents.add(tenant.id, managers=(manager_id,), share="private")
    deal = fake_parents.add(tenant.id, "deal")
    write(tenant.id, private, None, {"first_name": "Anna"}, by=manager_id, minutes=0)
    write(tenant.id, deal, None, {"title": "ERP"}, by=manager_id, minutes=0, entity="deal")
    assert len(log(api, manager, f"/v1/contacts/{private}/changes")[1]["items"]) == 1
    assert log(api, outsider, f"/v1/contacts/{private}/changes")[0] == 404
    assert len(log(api, outsider, f"/v1/deals/{deal}/changes")[1]["items"]) == 1, "public deal"
    assert log(api, manager, f"/v1/cases/{deal}/changes")[0] == 404

    # Deleted: the record's own path is gone for everyone; admins read the log by entity and id.
    write(tenant.id, private, {"first_name": "Anna"}, None, by=manager_id, minutes=5)
    fake_parents.remove(tenant.id, "contact", private)
    assert log(api, manager, f"/v1/contacts/{private}/changes")[0] == 404
    assert log(api, admin, f"/v1/contacts/{private}/changes")[0] == 404
    any_record = f"/v1/changes?entity=contact&record_id={private}"
    assert log(api, manager, any_record)[0] == 403
    status, page = log(api, admin, any_record)
    assert status == 200 and [e["action"] for e in page["items"]] == ["deleted", "created"]
    assert page["items"][0]["changes"] == [{"field": "first_name", "old": "Anna", "new": None}]
    assert log(api, tenant.owner_token, any_record)[0] == 200
    assert log(api, admin, "/v1/changes?entity=product&record_id=x")[0] == 422
    assert log(api, admin, "/v1/changes?entity=contact&record_id=a%23b")[0] == 422
    assert log(api, admin, "/v1/changes?entity=contact")[0] == 422
    # Another tenant's admin finds nothing under the same id.
    assert log(api, other_tenant.owner_token, any_record)[1]["items"] == []


def test_the_log_outlives_its_record_in_a_partition_of_its_own(api, tenant, fake_parents):
    from chalicelib.domain.shared.pagination import PageRequest
    from chalicelib.storage.records import history as history_storage
    from chalicelib.storage.records.changelog import list_changes

    user_id, _ = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    write(tenant.id, contact, None, {"first_name": "Anna"}, by=user_id, minutes=0)
    write(tenant.id, contact, {"first_name": "Anna"}, None, by=user_id, minutes=1)
    history_storage.delete_all_for_parent(tenant.id, "contact", contact)  # the record's cascade
    found = list_changes(tenant.id, "contact", contact, PageRequest(limit=10))
    assert [e.action for e in found.items] == [ChangeAction.DELETED, ChangeAction.CREATED]


def test_openapi_lists_the_change_log_endpoints(api):
    spec = api.call("GET", "/openapi.json")[1]
    for collection, param in (("contacts", "contact_id"), ("deals", "deal_id"), ("cases", "case_id")):
        assert "get" in spec["paths"][f"/v1/{collection}/{{{param}}}/changes"]
    params = {p["name"] for p in spec["paths"]["/v1/changes"]["get"]["parameters"]}
    assert {"entity", "record_id", "limit", "cursor"} <= params
