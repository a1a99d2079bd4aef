"""History of contacts, deals and cases (HIS-1, HIS-2) over fake parents.

The parents (contacts, deals) are fakes handed to the container
(``Container.override(parents=...)``), so these tests need nothing of the
real contacts; the ``fake_parents`` fixture lives in conftest.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import bearer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def add_event(
    api: Any, token: str, parent: str, *, collection: str = "contacts", expect: int = 201, **body: Any
) -> dict[str, Any]:
    status, answer, _ = api.call(
        "POST", f"/v1/{collection}/{parent}/history", {"text": "Called about the offer", **body}, headers=bearer(token)
    )
    assert status == expect, answer
    return answer


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def history(api: Any, token: str, parent: str, query: str = "", *, collection: str = "contacts") -> tuple[int, Any]:
    status, body, _ = api.call("GET", f"/v1/{collection}/{parent}/history{query}", headers=bearer(token))
    return status, body


# ---- reading and writing ----


def test_events_are_added_and_listed_newest_first(api, tenant, fake_parents):
    user_id, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    first = add_event(api, token, contact, kind="call", text="First call", happened_at=at(0))
    second = add_event(api, token, contact, text="A note", happened_at="2026-03-01T15:30:00+02:00")
    assert second["happened_at"] == "2026-03-01T13:30:00Z", "stored in UTC"
    latest = add_event(api, token, contact, kind="email", text="Sent the offer")  # happened now
    assert first["author_id"] == user_id and first["parent"] == {"kind": "contact", "id": contact}
    assert (first["kind"], first["version"], first["file_ids"], first["category_id"]) == ("call", 1, [], None)
    assert abs(datetime.fromisoformat(latest["happened_at"]) - datetime.now(UTC)) < timedelta(minutes=1)

    status, page = history(api, token, contact)
    assert status == 200 and page["next_cursor"] is None
    assert [e["id"] for e in page["items"]] == [latest["id"], second["id"], first["id"]]
    status, one, headers = api.call("GET", f"/v1/history/{first['id']}", headers=bearer(token))
    assert status == 200 and one == first and headers["etag"] == '"1"'


@pytest.fixture
def cats(api, tenant):
    """Two of the tenant's seeded history categories (SET-9)."""
    _, page, _ = api.call("GET", "/v1/settings/history-categories", headers=bearer(tenant.owner_token))
    by_name = {entry["name"]: entry["id"] for entry in page["items"]}
    return {"a": by_name["Note"], "b": by_name["E-mail"]}


def test_filters_and_date_range_are_one_query_and_bind_the_cursor(api, tenant, fake_parents, cats):
    anna_id, anna = tenant.add_user("anna@acme.example")
    ben_id, ben = tenant.add_user("ben@acme.example")
    contact = fake_parents.add(tenant.id)
    made = {}
    for hour, (token, kind, category) in enumerate(
        [
            (anna, "note", cats["a"]),
            (ben, "call", cats["a"]),
            (anna, "call", cats["b"]),
            (ben, "note", None),
            (anna, "email", cats["a"]),
        ]
    ):
        made[hour] = add_event(api, token, contact, kind=kind, category_id=category, happened_at=at(hour))["id"]

    def ids(query: str) -> list[str]:
        status, page = history(api, anna, contact, query)
        assert status == 200, page
        return [e["id"] for e in page["items"]]

    assert ids(f"?category_id={cats['a']}") == [made[4], made[1], made[0]]
    assert ids(f"?author_id={ben_id}") == [made[3], made[1]]
    assert ids("?kind=call") == [made[2], made[1]]
    assert ids(f"?from={at(1).replace('+00:00', 'Z')}&to={at(3).replace('+00:00', 'Z')}") == [made[3], made[2], made[1]]
    assert ids(f"?from={at(3.5).replace('+00:00', 'Z')}") == [made[4]]
    assert ids(f"?to={at(0).replace('+00:00', 'Z')}&author_id={anna_id}") == [made[0]]
    # 15:30+02:00 is 13:30Z; an unencoded "+" (a space on arrival) means the same.
    assert (
        ids("?from=2026-03-01T15:30:00%2B02:00")
        == ids("?from=2026-03-01T15:30:00+02:00")
        == [made[4], made[3], made[2]]
    )
    assert (
        api.call(
            "GET",
            f"/v1/contacts/{contact}/history?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
            headers=bearer(anna),
        )[0]
        == 422
    )
    assert (
        api.call("GET", f"/v1/contacts/{contact}/history?from=2026-03-02T00:00:00", headers=bearer(anna))[0] == 422
    ), "times need an offset"
    assert api.call("GET", f"/v1/contacts/{contact}/history?colour=red", headers=bearer(anna))[0] == 422

    # Paging with a filter: pages do not overlap and the cursor belongs to that filter.
    status, page = history(api, anna, contact, f"?category_id={cats['a']}&limit=2")
    assert [e["id"] for e in page["items"]] == [made[4], made[1]] and page["next_cursor"]
    cursor = page["next_cursor"]
    status, rest = history(api, anna, contact, f"?category_id={cats['a']}&limit=2&cursor={cursor}")
    assert [e["id"] for e in rest["items"]] == [made[0]] and rest["next_cursor"] is None
    assert history(api, anna, contact, f"?category_id={cats['b']}&limit=2&cursor={cursor}")[0] == 400
    other = fake_parents.add(tenant.id)
    assert history(api, anna, other, f"?category_id={cats['a']}&limit=2&cursor={cursor}")[0] == 400


def test_a_hidden_parent_hides_its_history_even_from_authors(api, tenant, fake_parents):
    manager_id, manager = tenant.add_user("m@acme.example")
    _, outsider = tenant.add_user("o@acme.example")
    private = fake_parents.add(tenant.id, managers=(manager_id,), share="private")
    event = add_event(api, manager, private)
    assert history(api, outsider, private)[0] == 404
    add_event(api, outsider, private, expect=404)
    for method in ("GET", "PATCH", "DELETE"):
        status, body, _ = api.call(
            method, f"/v1/history/{event['id']}", {"text": "x"}, headers=bearer(outsider, **{"If-Match": '"1"'})
        )
        assert status == 404 and body["detail"] == "The history event does not exist."
    # Admins read and moderate everything (TEN-5).
    assert history(api, tenant.owner_token, private)[1]["items"][0]["id"] == event["id"]
    # The author loses access with the parent: removed from the managers, they see nothing.
    fake_parents.add(tenant.id, managers=("someone-else",), share="private", record_id=private)
    assert api.call("GET", f"/v1/history/{event['id']}", headers=bearer(manager))[0] == 404
    assert api.call("DELETE", f"/v1/history/{event['id']}", headers=bearer(manager))[0] == 404
    # A parent that is gone takes its events out of reach, admins included.
    fake_parents.remove(tenant.id, "contact", private)
    assert api.call("GET", f"/v1/history/{event['id']}", headers=bearer(tenant.owner_token))[0] == 404
    assert history(api, tenant.owner_token, private)[0] == 404


def test_only_the_author_or_an_admin_changes_or_deletes_an_event(api, tenant, fake_parents, cats):
    _, author = tenant.add_user("a@acme.example")
    _, colleague = tenant.add_user("c@acme.example")
    _, admin = tenant.add_user("admin@acme.example", role="admin")
    contact = fake_parents.add(tenant.id, share="shared_read")
    event = add_event(api, author, contact, category_id=cats["a"])
    path = f"/v1/history/{event['id']}"
    assert api.call("GET", path, headers=bearer(colleague))[0] == 200, "readers of the contact read its history"
    add_event(api, colleague, contact)  # adding needs read access only
    assert api.call("PATCH", path, {"text": "mine now"}, headers=bearer(colleague, **{"If-Match": '"1"'}))[0] == 403
    assert api.call("DELETE", path, headers=bearer(colleague))[0] == 403

    assert api.call("PATCH", path, {"text": "No version"}, headers=bearer(author))[0] == 428
    status, changed, headers = api.call(
        "PATCH",
        path,
        {"text": "Corrected", "category_id": None, "kind": "email"},
        headers=bearer(author, **{"If-Match": '"1"'}),
    )
    assert status == 200 and headers["etag"] == '"2"'
    assert (changed["text"], changed["category_id"], changed["kind"], changed["version"]) == (
        "Corrected",
        None,
        "email",
        2,
    )
    assert changed["happened_at"] == event["happened_at"] and changed["created_at"] == event["created_at"]
    assert api.call("PATCH", path, {"text": "Stale"}, headers=bearer(author, **{"If-Match": '"1"'}))[0] == 412
    assert api.call("PATCH", path, {"text": None}, headers=bearer(author, **{"If-Match": '"2"'}))[0] == 422
    assert api.call("PATCH", path, {"kind": "system"}, headers=bearer(author, **{"If-Match": '"2"'}))[0] == 422
    status, moderated, _ = api.call("PATCH", path, {"text": "Moderated"}, headers=bearer(admin, **{"If-Match": '"2"'}))
    assert status == 200 and moderated["author_id"] == event["author_id"], "the author stays"

    assert api.call("DELETE", path, headers=bearer(admin, **{"If-Match": '"1"'}))[0] == 412
    assert api.call("DELETE", path, headers=bearer(admin, **{"If-Match": '"3"'}))[0] == 204
    assert api.call("GET", path, headers=bearer(author))[0] == 404
    assert api.call("DELETE", path, headers=bearer(admin))[0] == 404
    assert [e["text"] for e in history(api, author, contact)[1]["items"]] == ["Called about the offer"]


def test_changing_when_it_happened_moves_the_event(api, tenant, fake_parents):
    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    old = add_event(api, token, contact, text="old", happened_at=at(0))
    new = add_event(api, token, contact, text="new", happened_at=at(5))
    status, moved, _ = api.call(
        "PATCH", f"/v1/history/{old['id']}", {"happened_at": at(10)}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 200 and moved["version"] == 2 and moved["happened_at"] == "2026-03-01T22:00:00Z"
    assert [e["id"] for e in history(api, token, contact)[1]["items"]] == [old["id"], new["id"]]
    assert api.call("GET", f"/v1/history/{old['id']}", headers=bearer(token))[1] == moved
    # A stale version moves nothing.
    assert (
        api.call(
            "PATCH", f"/v1/history/{old['id']}", {"happened_at": at(1)}, headers=bearer(token, **{"If-Match": '"1"'})
        )[0]
        == 412
    )
    assert len(history(api, token, contact)[1]["items"]) == 2


def test_requests_are_validated(api, tenant, fake_parents):
    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)

    def status_of(body: dict[str, Any]) -> int:
        return api.call("POST", f"/v1/contacts/{contact}/history", body, headers=bearer(token))[0]

    assert status_of({"text": "x" * 20_000}) == 201
    assert status_of({"text": "x" * 20_001}) == 422
    assert status_of({"text": ""}) == 422
    assert status_of({"text": "hi", "kind": "system"}) == 422, "system events come from services"
    assert status_of({"text": "hi", "kind": "fax"}) == 422
    assert status_of({"text": "hi", "happened_at": "2026-03-01T12:00:00"}) == 422
    assert status_of({"text": "hi", "author_id": "someone-else"}) == 422
    assert status_of({"text": "hi", "category_id": "a#b"}) == 422
    assert status_of({"text": "hi", "file_ids": ["f"] * 21}) == 422
    assert api.call("GET", "/v1/history/not%23an-id", headers=bearer(token))[0] == 404


def test_categories_must_be_the_tenants_history_categories(api, tenant, other_tenant, fake_parents, cats):
    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    status, body, _ = api.call(
        "POST", f"/v1/contacts/{contact}/history", {"text": "hi", "category_id": "nope"}, headers=bearer(token)
    )
    assert status == 422 and body["errors"][0]["field"] == "category_id"
    # Another tenant's category is unknown here too.
    _, theirs, _ = api.call("GET", "/v1/settings/history-categories", headers=bearer(other_tenant.owner_token))
    status, _, _ = api.call(
        "POST",
        f"/v1/contacts/{contact}/history",
        {"text": "hi", "category_id": theirs["items"][0]["id"]},
        headers=bearer(token),
    )
    assert status == 422
    event = add_event(api, token, contact, category_id=cats["a"])
    add_event(api, token, contact)  # no category: nothing to check
    assert (
        api.call(
            "PATCH", f"/v1/history/{event['id']}", {"category_id": "nope"}, headers=bearer(token, **{"If-Match": '"1"'})
        )[0]
        == 422
    )


def test_category_use_counters_move_in_the_events_transactions(api, tenant, fake_parents, cats):
    from chalicelib.storage.records import history as history_storage

    def uses(key: str) -> int:
        _, page, _ = api.call("GET", "/v1/settings/history-categories", headers=bearer(tenant.owner_token))
        return next(e["in_use"] for e in page["items"] if e["id"] == cats[key])

    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    first = add_event(api, token, contact, category_id=cats["a"])
    add_event(api, token, contact, category_id=cats["a"])
    add_event(api, token, contact, category_id=cats["b"], happened_at=at(0))
    assert (uses("a"), uses("b")) == (2, 1)
    # A category in use cannot be deleted.
    assert (
        api.call("DELETE", f"/v1/settings/history-categories/{cats['b']}", headers=bearer(tenant.owner_token))[0] == 409
    )
    api.call(
        "PATCH", f"/v1/history/{first['id']}", {"category_id": cats["b"]}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert (uses("a"), uses("b")) == (1, 2)
    api.call(
        "PATCH", f"/v1/history/{first['id']}", {"text": "same category"}, headers=bearer(token, **{"If-Match": '"2"'})
    )
    assert (uses("a"), uses("b")) == (1, 2)
    api.call("DELETE", f"/v1/history/{first['id']}", headers=bearer(token))
    assert (uses("a"), uses("b")) == (1, 1)
    history_storage.delete_all_for_parent(tenant.id, "contact", contact)
    assert (uses("a"), uses("b")) == (0, 0)


def test_history_is_generic_over_parent_kinds(api, tenant, fake_parents):
    creator_id, creator = tenant.add_user("c@acme.example")
    listed_id, listed = tenant.add_user("l@acme.example")
    _, outsider = tenant.add_user("o@acme.example")
    deal = fake_parents.add(tenant.id, "deal", access_list=(listed_id,), created_by=creator_id)
    event = add_event(api, listed, deal, collection="deals")
    assert event["parent"] == {"kind": "deal", "id": deal}
    assert history(api, creator, deal, collection="deals")[1]["items"][0]["id"] == event["id"]
    assert history(api, outsider, deal, collection="deals")[0] == 404
    # The same id under another kind is another record.
    assert history(api, creator, deal)[0] == 404
    # No resolver registered for cases yet: every case is unknown.
    assert history(api, tenant.owner_token, deal, collection="cases")[0] == 404


def test_system_events_join_the_callers_transaction(api, tenant, fake_parents):
    from chalicelib.domain.shared.errors import Conflict
    from chalicelib.domain.shared.principal import Principal, Role
    from chalicelib.storage.dynamo.table import Put, Table
    from chalicelib.storage.records.history import system_event_op

    user_id, token = tenant.add_user("u@acme.example")
    deal = fake_parents.add(tenant.id, "deal")
    principal = Principal(tenant_id=tenant.id, user_id=user_id, role=Role.USER)
    record = {"pk": f"T#{tenant.id}#DEAL#{deal}", "sk": "META", "title": "ERP"}
    Table().transact([Put(record), system_event_op(principal, "deal", deal, "Stage: Proposal -> Won")])
    # A transaction that fails writes no event either.
    with pytest.raises(Conflict):
        Table().transact([Put(record), system_event_op(principal, "deal", deal, "never written")])
    status, page = history(api, token, deal, collection="deals")
    assert [(e["kind"], e["text"], e["author_id"]) for e in page["items"]] == [
        ("system", "Stage: Proposal -> Won", user_id)
    ]
    event_id = page["items"][0]["id"]
    status, body, _ = api.call(
        "PATCH", f"/v1/history/{event_id}", {"text": "rewritten"}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 409 and body["detail"] == "System events cannot be changed."


# ---- cascades ----


def _upload(
    tenant_id: str, file_id: str, data: bytes = b"%PDF-1.7 test", content_type: str = "application/pdf"
) -> None:
    from chalicelib.storage.dynamo.aws import client

    client("s3").put_object(
        Bucket="crm-test-files", Key=f"t/{tenant_id}/files/{file_id}", Body=data, ContentType=content_type
    )


def _objects(tenant_id: str) -> list[str]:
    from chalicelib.storage.dynamo.aws import client

    listing = client("s3").list_objects_v2(Bucket="crm-test-files", Prefix=f"t/{tenant_id}/")
    return [o["Key"] for o in listing.get("Contents", [])]


def add_file(
    api: Any, token: str, kind: str, parent: str, *, upload: bool = True, tenant_id: str = "", **body: Any
) -> dict[str, Any]:
    status, created, _ = api.call(
        "POST",
        "/v1/files",
        {
            "filename": "offer.pdf",
            "content_type": "application/pdf",
            "size": 13,
            "parent": {"kind": kind, "id": parent},
            **body,
        },
        headers=bearer(token),
    )
    assert status == 201, created
    if upload:
        _upload(tenant_id, created["id"])
    return created


def test_a_deleted_parent_takes_its_history_and_files_along(api, tenant, fake_parents, monkeypatch):
    from chalicelib.storage.records import history as history_storage

    monkeypatch.setattr(history_storage, "BATCH", 4)  # several pages
    _, token = tenant.add_user("u@acme.example")
    doomed, kept = fake_parents.add(tenant.id), fake_parents.add(tenant.id)
    file = add_file(api, token, "contact", doomed, tenant_id=tenant.id)
    event = add_event(api, token, doomed, file_ids=[file["id"]])
    for n in range(9):
        add_event(api, token, doomed, text=f"note {n}")
    survivor = add_event(api, token, kept)
    assert _objects(tenant.id) == [f"t/{tenant.id}/files/{file['id']}"]

    fake_parents.remove(tenant.id, "contact", doomed)
    assert history_storage.delete_all_for_parent(tenant.id, "contact", doomed) == 11
    assert history_storage.delete_all_for_parent(tenant.id, "contact", doomed) == 0, "idempotent"
    assert _objects(tenant.id) == []
    fake_parents.add(tenant.id, record_id=doomed)  # even if the id came back, nothing is left
    assert history(api, token, doomed)[1]["items"] == []
    assert api.call("GET", f"/v1/history/{event['id']}", headers=bearer(token))[0] == 404
    assert history(api, token, kept)[1]["items"] == [survivor]


def test_the_cascade_is_in_the_event_table_for_every_parent_kind(api, tenant, fake_parents):
    from chalicelib.bootstrap.events import subscribers
    from chalicelib.domain.shared.events import RecordDeleted

    for kind in ("contact", "deal", "case"):
        assert "history.delete_for_parent" in [s.name for s in subscribers(f"record.deleted:{kind}")]

    _, token = tenant.add_user("u@acme.example")
    deal = fake_parents.add(tenant.id, "deal")
    add_event(api, token, deal, collection="deals")
    add_file(api, token, "deal", deal, tenant_id=tenant.id)
    fake_parents.remove(tenant.id, "deal", deal)
    cascade = {s.name: s for s in subscribers("record.deleted:deal")}["history.delete_for_parent"]
    from chalicelib.bootstrap import container

    cascade.run(container(), RecordDeleted(tenant_id=tenant.id, record_kind="deal", record_id=deal))
    fake_parents.add(tenant.id, "deal", record_id=deal)
    assert history(api, token, deal, collection="deals")[1]["items"] == []
    assert _objects(tenant.id) == []


def test_a_merge_moves_history_and_files_to_the_surviving_record(api, tenant, fake_parents, monkeypatch):
    from chalicelib.storage.records import history as history_storage

    monkeypatch.setattr(history_storage, "BATCH", 4)  # several pages
    _, token = tenant.add_user("u@acme.example")
    source, target = fake_parents.add(tenant.id), fake_parents.add(tenant.id)
    file = add_file(api, token, "contact", source, tenant_id=tenant.id)
    moved = [add_event(api, token, source, text=f"old {n}", happened_at=at(n)) for n in range(9)]
    attached = add_event(api, token, source, file_ids=[file["id"]], happened_at=at(100))
    own = add_event(api, token, target, text="target's own", happened_at=at(5.5))

    assert history_storage.move_all(tenant.id, "contact", source, target) == 11
    assert history_storage.move_all(tenant.id, "contact", source, target) == 0, "idempotent"
    assert history(api, token, source)[1]["items"] == []
    assert api.call("GET", f"/v1/contacts/{source}/files", headers=bearer(token))[1]["items"] == []
    status, page = history(api, token, target)
    ids = [e["id"] for e in page["items"]]
    assert len(ids) == 11 and ids[0] == attached["id"] and own["id"] in ids
    assert ids.index(own["id"]) == ids.index(moved[5]["id"]) - 1, "still ordered by happened_at"
    status, one, _ = api.call("GET", f"/v1/history/{attached['id']}", headers=bearer(token))
    assert one["parent"] == {"kind": "contact", "id": target} and one["version"] == 2
    assert one["file_ids"] == [file["id"]]
    status, meta, _ = api.call("GET", f"/v1/files/{file['id']}/meta", headers=bearer(token))
    assert status == 200 and meta["parent"] == {"kind": "contact", "id": target}
    assert api.call("GET", f"/v1/files/{file['id']}", headers=bearer(token))[0] == 302, "the object did not move"


def test_an_edit_during_a_merge_is_moved_not_lost(api, tenant, fake_parents, monkeypatch):
    from chalicelib.storage.records import history as history_storage

    _, token = tenant.add_user("u@acme.example")
    source, target = fake_parents.add(tenant.id), fake_parents.add(tenant.id)
    event = add_event(api, token, source, text="before")
    read_page = history_storage.HistoryStore._first_page
    edits = []

    def page_then_edit(self: Any, partition: str, prefix: str) -> Any:
        page = read_page(self, partition, prefix)
        if page.items and not edits:  # someone edits the event right after the merge read it
            edits.append(
                api.call(
                    "PATCH",
                    f"/v1/history/{event['id']}",
                    {"text": "edited meanwhile"},
                    headers=bearer(token, **{"If-Match": '"1"'}),
                )[0]
            )
        return page

    monkeypatch.setattr(history_storage.HistoryStore, "_first_page", page_then_edit)
    assert history_storage.move_all(tenant.id, "contact", source, target) == 1
    assert edits == [200]
    status, moved, _ = api.call("GET", f"/v1/history/{event['id']}", headers=bearer(token))
    assert (moved["text"], moved["parent"]["id"], moved["version"]) == ("edited meanwhile", target, 3)


# ---- tenants ----


def test_history_stays_with_its_tenant(api, tenant, other_tenant, fake_parents):
    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    event = add_event(api, token, contact)
    for n in range(2):
        add_event(api, token, contact, text=f"more {n}")
    b = other_tenant.owner_token
    assert history(api, b, contact)[0] == 404
    for method in ("GET", "PATCH", "DELETE"):
        assert (
            api.call(method, f"/v1/history/{event['id']}", {"text": "pwned"}, headers=bearer(b, **{"If-Match": '"1"'}))[
                0
            ]
            == 404
        )
    # Even a record of B's with the very same id shows none of A's events.
    fake_parents.add(other_tenant.id, record_id=contact)
    assert history(api, b, contact)[1]["items"] == []
    # A's cursor is refused for B, on the same path.
    status, page = history(api, token, contact, "?limit=2")
    assert page["next_cursor"]
    assert history(api, b, contact, f"?limit=2&cursor={page['next_cursor']}")[0] == 400


def test_openapi_lists_the_history_endpoints_with_strict_models(api):
    spec = api.call("GET", "/openapi.json")[1]
    for collection, param in (("contacts", "contact_id"), ("deals", "deal_id"), ("cases", "case_id")):
        assert {"get", "post"} <= set(spec["paths"][f"/v1/{collection}/{{{param}}}/history"])
    assert {"get", "patch", "delete"} <= set(spec["paths"]["/v1/history/{event_id}"])
    listing = spec["paths"]["/v1/contacts/{contact_id}/history"]["get"]
    assert {"category_id", "author_id", "kind", "from", "to", "limit", "cursor"} <= {
        p["name"] for p in listing["parameters"]
    }
    schemas = spec["components"]["schemas"]
    for model in ("NewHistoryEvent", "HistoryChanges"):
        found = [schema for name, schema in schemas.items() if name.endswith(model)]
        assert found and all(schema["additionalProperties"] is False for schema in found)
