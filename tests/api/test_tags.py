"""Tags (CON-6, SET-12): GET /v1/tags with counts that respect access,
admins rename (merging onto an existing tag) and delete tags on every contact."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, Tenant, bearer

# no_default_tags changes what a new tenant gets: these tests share a start without the default tags.
pytestmark = pytest.mark.start_variant("no default tags")


@pytest.fixture(autouse=True)
def no_default_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count exactly the tags they make; the seeded defaults
    (Lead, Customer, ...) are tested in test_contacts_integration.py."""
    from chalicelib.bootstrap import events

    monkeypatch.setattr(events, "DEFAULT_CONTACT_TAGS", ())


def make_contact(
    api: Api, token: str, name: str, tags: list[str], access: str = "private", **fields: Any
) -> dict[str, Any]:
    status, body, _ = api.call(
        "POST",
        "/v1/contacts",
        {"kind": "person", "first_name": name, "last_name": "Test", "tags": tags, "access": access, **fields},
        headers=bearer(token),
    )
    assert status == 201, body
    return body


def tag_list(api: Api, token: str, query: str = "?entity=contact") -> dict[str, int]:
    status, body, _ = api.call("GET", f"/v1/tags{query}", headers=bearer(token))
    assert status == 200, body
    assert all(item["entity"] == "contact" for item in body["items"])
    return {item["name"]: item["count"] for item in body["items"]}


def contact_tags(api: Api, token: str, contact_id: str) -> list[str]:
    status, body, _ = api.call("GET", f"/v1/contacts/{contact_id}", headers=bearer(token))
    assert status == 200, body
    return body["tags"]


def tagged_ids(api: Api, token: str, tag: str) -> list[str]:
    status, body, _ = api.call("GET", f"/v1/contacts?tag={tag}", headers=bearer(token))
    assert status == 200, body
    return [c["id"] for c in body["items"]]


def test_list_is_sorted_by_name_and_counts_only_what_the_caller_may_see(api: Api, tenant: Tenant) -> None:
    owner = tenant.owner_token
    _, anna = tenant.add_user("anna@acme.example")
    _, admin = tenant.add_user("admin@acme.example", role="admin")
    make_contact(api, owner, "Shared1", ["Lead"], access="shared_read")
    make_contact(api, owner, "Shared2", ["lead", "vip"], access="shared_write")  # one tag, the first spelling
    make_contact(api, owner, "Private1", ["Lead", "Board"])  # the owner's, private
    make_contact(api, owner, "Private2", ["Board"])
    make_contact(api, anna, "Annas", ["Lead", "zebra"])  # Anna's own, private

    everything = {"Board": 2, "Lead": 4, "vip": 1, "zebra": 1}
    assert tag_list(api, owner) == everything
    assert tag_list(api, admin) == everything
    # Anna sees the shared contacts and her own; she still sees every tag name to pick from.
    assert tag_list(api, anna) == {"Board": 0, "Lead": 3, "vip": 1, "zebra": 1}
    status, body, _ = api.call("GET", "/v1/tags", headers=bearer(anna))  # entity defaults to contact
    assert status == 200 and [i["name"] for i in body["items"]] == ["Board", "Lead", "vip", "zebra"]


def test_list_is_paged(api: Api, tenant: Tenant) -> None:
    make_contact(api, tenant.owner_token, "Many", ["c", "A", "b"])
    status, first, _ = api.call("GET", "/v1/tags?entity=contact&limit=2", headers=bearer(tenant.owner_token))
    assert status == 200 and [i["name"] for i in first["items"]] == ["A", "b"] and first["next_cursor"]
    status, second, _ = api.call(
        "GET", f"/v1/tags?entity=contact&limit=2&cursor={first['next_cursor']}", headers=bearer(tenant.owner_token)
    )
    assert status == 200 and [i["name"] for i in second["items"]] == ["c"] and second["next_cursor"] is None
    status, body, _ = api.call("GET", "/v1/tags?entity=invoice", headers=bearer(tenant.owner_token))
    assert status == 422
    status, body, _ = api.call("GET", "/v1/tags?entity=deal", headers=bearer(tenant.owner_token))
    assert status == 200 and body["items"] == []


def test_rename_reaches_every_contact_and_the_tag_filter(api: Api, tenant: Tenant) -> None:
    owner = tenant.owner_token
    _, anna = tenant.add_user("anna@acme.example")
    mine = make_contact(api, owner, "Mine", ["VIP", "Lead", "Board"])
    annas = make_contact(api, anna, "Annas", ["lead"])  # private to Anna: the admin renames it too
    other = make_contact(api, owner, "Other", ["Board"])

    status, body, _ = api.call("PATCH", "/v1/tags/contact/LEAD", {"name": "  Hot   prospect "}, headers=bearer(owner))
    assert status == 200, body
    assert body == {"name": "Hot prospect", "entity": "contact", "count": 2}

    assert contact_tags(api, owner, mine["id"]) == ["VIP", "Hot prospect", "Board"]  # order kept
    assert contact_tags(api, anna, annas["id"]) == ["Hot prospect"]
    assert contact_tags(api, owner, other["id"]) == ["Board"]
    assert sorted(tagged_ids(api, owner, "hot%20prospect")) == sorted([mine["id"], annas["id"]])
    assert tagged_ids(api, anna, "Hot%20Prospect") == [annas["id"]]
    assert tagged_ids(api, owner, "Lead") == []  # no index entry left behind
    assert tag_list(api, owner) == {"Board": 2, "Hot prospect": 2, "VIP": 1}
    # The rewritten contacts are new versions, as after any other change.
    status, body, _ = api.call("GET", f"/v1/contacts/{mine['id']}", headers=bearer(owner))
    assert body["version"] == mine["version"] + 1
    status, body, _ = api.call("GET", f"/v1/contacts/{mine['id']}/changes", headers=bearer(owner))
    assert status == 200 and body["items"][0]["changes"] == [
        {"field": "tags", "old": ["VIP", "Lead", "Board"], "new": ["VIP", "Hot prospect", "Board"]}
    ]
    # A later contact picking the tag in another case gets the new spelling.
    assert make_contact(api, anna, "Later", ["HOT PROSPECT"])["tags"] == ["Hot prospect"]


def test_names_in_the_path_are_url_encoded_and_case_insensitive(api: Api, tenant: Tenant) -> None:
    owner = tenant.owner_token
    contact = make_contact(api, owner, "Enc", ["Key Account & Co/EU", "Bürgermeister"])
    status, body, _ = api.call(
        "PATCH", "/v1/tags/contact/key%20account%20%26%20co%2Feu", {"name": "Key"}, headers=bearer(owner)
    )
    assert status == 200 and body["name"] == "Key", body
    status, _, _ = api.call("DELETE", "/v1/tags/contact/BURGERMEISTER", headers=bearer(owner))  # accents too
    assert status == 204
    assert contact_tags(api, owner, contact["id"]) == ["Key"]


def test_a_case_only_rename_respells_the_tag(api: Api, tenant: Tenant) -> None:
    owner = tenant.owner_token
    one = make_contact(api, owner, "One", ["lead"])
    two = make_contact(api, owner, "Two", ["Lead", "x"])
    status, body, _ = api.call("PATCH", "/v1/tags/contact/lead", {"name": "LEAD"}, headers=bearer(owner))
    assert status == 200 and body == {"name": "LEAD", "entity": "contact", "count": 2}
    assert contact_tags(api, owner, one["id"]) == ["LEAD"]
    assert contact_tags(api, owner, two["id"]) == ["LEAD", "x"]
    assert tag_list(api, owner) == {"LEAD": 2, "x": 1}
    assert sorted(tagged_ids(api, owner, "lead")) == sorted([one["id"], two["id"]])


def test_renaming_onto_an_existing_tag_merges_them(api: Api, tenant: Tenant) -> None:
    owner = tenant.owner_token
    lead = make_contact(api, owner, "Lead", ["Lead"])
    customer = make_contact(api, owner, "Customer", ["Customer"])
    both = make_contact(api, owner, "Both", ["Lead", "VIP", "Customer"])

    status, body, _ = api.call("PATCH", "/v1/tags/contact/Lead", {"name": "customer"}, headers=bearer(owner))
    assert status == 200, body
    assert body == {"name": "Customer", "entity": "contact", "count": 3}  # the existing tag's spelling stays
    assert contact_tags(api, owner, lead["id"]) == ["Customer"]
    assert contact_tags(api, owner, customer["id"]) == ["Customer"]
    assert contact_tags(api, owner, both["id"]) == ["Customer", "VIP"]  # once, where the first one was
    assert sorted(tagged_ids(api, owner, "Customer")) == sorted([lead["id"], customer["id"], both["id"]])
    assert tagged_ids(api, owner, "Lead") == []
    assert tag_list(api, owner) == {"Customer": 3, "VIP": 1}


def test_delete_removes_the_tag_everywhere(api: Api, tenant: Tenant) -> None:
    owner = tenant.owner_token
    _, anna = tenant.add_user("anna@acme.example")
    one = make_contact(api, owner, "One", ["Old", "Keep"])
    two = make_contact(api, anna, "Two", ["old"])
    status, body, _ = api.call("DELETE", "/v1/tags/contact/OLD", headers=bearer(owner))
    assert status == 204, body
    assert contact_tags(api, owner, one["id"]) == ["Keep"]
    assert contact_tags(api, anna, two["id"]) == []
    assert tagged_ids(api, owner, "Old") == []
    assert tag_list(api, owner) == {"Keep": 1}
    status, body, _ = api.call("DELETE", "/v1/tags/contact/Old", headers=bearer(owner))
    assert status == 404 and body["status"] == 404
    # The name is free again: a new contact creates it afresh, in its own spelling.
    assert make_contact(api, owner, "Three", ["OLD"])["tags"] == ["OLD"]


def test_a_tag_no_contact_holds_any_more_is_renamed_and_deleted_in_the_registry(api: Api, tenant: Tenant) -> None:
    owner = tenant.owner_token
    gone = make_contact(api, owner, "Gone", ["Orphan"])
    assert api.call("DELETE", f"/v1/contacts/{gone['id']}", headers=bearer(owner))[0] == 204
    assert tag_list(api, owner) == {"Orphan": 0}
    status, body, _ = api.call("PATCH", "/v1/tags/contact/orphan", {"name": "Stray"}, headers=bearer(owner))
    assert status == 200 and body == {"name": "Stray", "entity": "contact", "count": 0}
    assert tag_list(api, owner) == {"Stray": 0}
    assert api.call("DELETE", "/v1/tags/contact/stray", headers=bearer(owner))[0] == 204
    assert tag_list(api, owner) == {}


def test_only_owners_and_admins_rename_or_delete(api: Api, tenant: Tenant) -> None:
    _, anna = tenant.add_user("anna@acme.example")
    _, admin = tenant.add_user("admin@acme.example", role="admin")
    contact = make_contact(api, anna, "Annas", ["Lead"], access="shared_write")

    status, body, headers = api.call("PATCH", "/v1/tags/contact/Lead", {"name": "X"}, headers=bearer(anna))
    assert status == 403 and headers["content-type"] == "application/problem+json", body
    status, body, _ = api.call("DELETE", "/v1/tags/contact/Lead", headers=bearer(anna))
    assert status == 403, body
    status, body, _ = api.call("PATCH", "/v1/tags/contact/Nope", {"name": "X"}, headers=bearer(anna))
    assert status == 403, body  # users learn nothing from rename attempts
    assert contact_tags(api, anna, contact["id"]) == ["Lead"]
    assert tag_list(api, anna) == {"Lead": 1}

    status, body, _ = api.call("PATCH", "/v1/tags/contact/Lead", {"name": "Client"}, headers=bearer(admin))
    assert status == 200 and body["name"] == "Client"
    assert contact_tags(api, anna, contact["id"]) == ["Client"]


def test_rename_errors(api: Api, tenant: Tenant) -> None:
    contact = make_contact(api, tenant.owner_token, "Err", ["Lead"])
    for path, payload, expected in [
        ("/v1/tags/contact/Nope", {"name": "X"}, 404),
        ("/v1/tags/deal/Lead", {"name": "X"}, 404),
        ("/v1/tags/contact/Lead", {"name": "   "}, 422),
        ("/v1/tags/contact/Lead", {"name": "x" * 51}, 422),
        ("/v1/tags/contact/Lead", {"name": "X", "color": "red"}, 422),
        ("/v1/tags/contact/Lead", {}, 422),
    ]:
        status, body, _ = api.call("PATCH", path, payload, headers=bearer(tenant.owner_token))
        assert status == expected, (path, payload, body)
    assert contact_tags(api, tenant.owner_token, contact["id"]) == ["Lead"]
    assert api.call("DELETE", "/v1/tags/deal/Lead", headers=bearer(tenant.owner_token))[0] == 404


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tags on more than 2 contacts go to a job, in messages of 2 contacts."""
    from chalicelib.domain.records import tags

    monkeypatch.setattr(tags, "MAX_SYNC_RECORDS", 2)
    monkeypatch.setattr(tags, "CHUNK_SIZE", 2)


def job_of(api: Api, token: str, answer: tuple[int, Any, dict[str, str]]) -> str:
    status, body, headers = answer
    assert status == 202, body
    assert headers["location"] == body["status_url"] == f"/v1/jobs/{body['job_id']}"
    return body["job_id"]


def test_a_tag_on_many_contacts_is_renamed_by_a_background_job(
    api: Api, tenant: Tenant, run_jobs: Any, small_batches: None
) -> None:
    owner = tenant.owner_token
    _, anna = tenant.add_user("anna@acme.example")
    ids = [make_contact(api, owner, f"C{i}", ["Big", "Keep"])["id"] for i in range(4)]
    annas = make_contact(api, anna, "Annas", ["big"])["id"]  # private to Anna
    run_jobs()  # what adding Anna queued
    job = job_of(api, owner, api.call("PATCH", "/v1/tags/contact/BIG", {"name": "Huge"}, headers=bearer(owner)))
    # Nothing moved yet but the new name, so contacts can pick it meanwhile.
    assert tag_list(api, owner) == {"Big": 5, "Huge": 0, "Keep": 4}
    status, body, _ = api.call("GET", f"/v1/jobs/{job}", headers=bearer(owner))
    assert status == 200 and body["kind"] == "tags.rename" and body["total"] == 5 and body["status"] == "queued"

    assert run_jobs() == {"handled": 3, "failures": []}, "one message per 2 contacts"
    status, body, _ = api.call("GET", f"/v1/jobs/{job}", headers=bearer(owner))
    assert (body["status"], body["succeeded"], body["failed"]) == ("done", 5, 0), body
    assert all(contact_tags(api, owner, i) == ["Huge", "Keep"] for i in ids)
    assert contact_tags(api, anna, annas) == ["Huge"]
    assert tag_list(api, owner) == {"Huge": 5, "Keep": 4}
    assert tagged_ids(api, owner, "Big") == []


def test_a_tag_on_many_contacts_is_deleted_by_a_background_job(
    api: Api, tenant: Tenant, run_jobs: Any, small_batches: None
) -> None:
    owner = tenant.owner_token
    ids = [make_contact(api, owner, f"C{i}", ["Big", "Keep"])["id"] for i in range(3)]
    job = job_of(api, owner, api.call("DELETE", "/v1/tags/contact/big", headers=bearer(owner)))
    assert run_jobs()["failures"] == []
    status, body, _ = api.call("GET", f"/v1/jobs/{job}", headers=bearer(owner))
    assert (body["kind"], body["status"], body["succeeded"]) == ("tags.delete", "done", 3), body
    assert all(contact_tags(api, owner, i) == ["Keep"] for i in ids)
    assert tag_list(api, owner) == {"Keep": 3}


def test_the_job_acts_with_its_creators_rights_when_it_runs(
    api: Api, tenant: Tenant, run_jobs: Any, small_batches: None
) -> None:
    owner = tenant.owner_token
    admin_id, admin = tenant.add_user("admin@acme.example", role="admin")
    ids = [make_contact(api, owner, f"C{i}", ["Big"])["id"] for i in range(3)]
    job = job_of(api, admin, api.call("DELETE", "/v1/tags/contact/Big", headers=bearer(admin)))
    _, user, _ = api.call("GET", f"/v1/users/{admin_id}", headers=bearer(owner))
    status, body, _ = api.call(
        "PATCH",
        f"/v1/users/{admin_id}",
        {"role": "user"},
        headers=bearer(owner, **{"If-Match": f'"{user["version"]}"'}),
    )
    assert status == 200, body

    assert run_jobs()["failures"] == []  # the messages were handled; their items failed
    status, body, _ = api.call("GET", f"/v1/jobs/{job}", headers=bearer(owner))
    assert (body["status"], body["succeeded"], body["failed"]) == ("done", 0, 3), body
    assert {f["status"] for f in body["failures"]} == {403}
    assert all(contact_tags(api, owner, i) == ["Big"] for i in ids)
    assert tag_list(api, owner) == {"Big": 3}  # still held, so still listed


def test_tenants_see_and_change_only_their_own_tags(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    a, b = tenant.owner_token, other_tenant.owner_token
    a_contact = make_contact(api, a, "A", ["Lead", "Alpha"])
    b_contact = make_contact(api, b, "B", ["Lead"])
    assert tag_list(api, a) == {"Alpha": 1, "Lead": 1}
    assert tag_list(api, b) == {"Lead": 1}

    status, body, _ = api.call("PATCH", "/v1/tags/contact/Lead", {"name": "Client"}, headers=bearer(b))
    assert status == 200 and body["count"] == 1
    assert contact_tags(api, b, b_contact["id"]) == ["Client"]
    assert contact_tags(api, a, a_contact["id"]) == ["Lead", "Alpha"]
    assert tag_list(api, a) == {"Alpha": 1, "Lead": 1}
    assert tagged_ids(api, a, "Lead") == [a_contact["id"]]

    for method, payload in (("PATCH", {"name": "Mine"}), ("DELETE", None)):
        status, _, _ = api.call(method, "/v1/tags/contact/Alpha", payload, headers=bearer(b))
        assert status == 404
    assert contact_tags(api, a, a_contact["id"]) == ["Lead", "Alpha"]
    status, _, _ = api.call("DELETE", "/v1/tags/contact/Lead", headers=bearer(a))
    assert status == 204
    assert tag_list(api, b) == {"Client": 1}


def test_the_contact_tag_filter_ignores_accents_like_the_tags_do(api: Api, tenant: Tenant) -> None:
    contact = make_contact(api, tenant.owner_token, "Acc", ["Bürgermeister"])
    assert tagged_ids(api, tenant.owner_token, "B%C3%BCrgermeister") == [contact["id"]]


# ---- rules without AWS ----
