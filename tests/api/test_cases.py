"""Cases through the real API (CAS-1..4): fields, access, filters, close and
reopen with history events, delete with cascade, contact cascade, isolation."""

from tests.api.test_deals import contact
from tests.conftest import bearer


def create_case(api, token, expect=201, **fields):
    status, case, _ = api.call("POST", "/v1/cases", {"title": "Partner summit", **fields}, headers=bearer(token))
    assert status == expect, case
    return case


def ids(api, token, query=""):
    status, page, _ = api.call("GET", f"/v1/cases{query}", headers=bearer(token))
    assert status == 200, page
    return [c["id"] for c in page["items"]]


def history_texts(api, token, case_id):
    status, page, _ = api.call("GET", f"/v1/cases/{case_id}/history", headers=bearer(token))
    assert status == 200, page
    return [e["text"] for e in page["items"]]


def test_create_edit_and_validation(api, tenant):
    token = tenant.owner_token
    anna = contact(api, token, "Anna")
    case = create_case(api, token, member_ids=[anna["id"], anna["id"]], tags=["Summit"])
    assert case["member_ids"] == [anna["id"]] and case["closed"] is False and case["access_list"] == []
    create_case(api, token, expect=422, title=" ")
    create_case(api, token, expect=422, member_ids=["ghost"])
    status, problem, _ = api.call(
        "PATCH", f"/v1/cases/{case['id']}", {"closed": True}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 422
    status, edited, _ = api.call(
        "PATCH", f"/v1/cases/{case['id']}", {"title": "Summit 2027"}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 200 and edited["title"] == "Summit 2027" and edited["version"] == 2
    status, _, _ = api.call(
        "PATCH", f"/v1/cases/{case['id']}", {"title": "x"}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 412


def test_close_and_reopen_write_history(api, tenant):
    token = tenant.owner_token
    case = create_case(api, token)
    status, closed, _ = api.call("POST", f"/v1/cases/{case['id']}/close", headers=bearer(token))
    assert status == 200 and closed["closed"] is True and closed["closed_at"]
    status, _, _ = api.call("POST", f"/v1/cases/{case['id']}/close", headers=bearer(token))
    assert status == 409
    status, _, _ = api.call("POST", f"/v1/cases/{case['id']}/reopen", headers=bearer(token, **{"If-Match": '"1"'}))
    assert status == 412
    status, reopened, _ = api.call("POST", f"/v1/cases/{case['id']}/reopen", headers=bearer(token))
    assert status == 200 and reopened["closed"] is False and reopened["closed_at"] is None
    assert history_texts(api, token, case["id"]) == ["Case reopened", "Case closed"]


def test_access_list_and_notification(api, tenant):
    listed_id, listed = tenant.add_user("listed@acme.example")
    other_id, other = tenant.add_user("other@acme.example")
    admin_id, admin = tenant.add_user("admin@acme.example", role="admin")
    case = create_case(api, tenant.owner_token, title="Board meeting", access_list=[listed_id])
    assert set(case["access_list"]) == {tenant.owner_id, listed_id}
    status, inbox, _ = api.call("GET", "/v1/notifications", headers=bearer(listed))
    assert any("Board meeting" in n["subject"] for n in inbox["items"])
    for token, expected in ((listed, 200), (other, 404), (admin, 200), (tenant.owner_token, 200)):
        assert api.call("GET", f"/v1/cases/{case['id']}", headers=bearer(token))[0] == expected
        assert (case["id"] in ids(api, token)) == (expected == 200)
    status, _, _ = api.call("POST", f"/v1/cases/{case['id']}/close", headers=bearer(other))
    assert status == 404
    status, _, _ = api.call(
        "PATCH", f"/v1/cases/{case['id']}", {"access_list": []}, headers=bearer(listed, **{"If-Match": '"1"'})
    )
    assert status == 403
    status, public, _ = api.call(
        "PATCH", f"/v1/cases/{case['id']}", {"access_list": []}, headers=bearer(admin, **{"If-Match": '"1"'})
    )
    assert status == 200 and public["access_list"] == []
    assert api.call("GET", f"/v1/cases/{case['id']}", headers=bearer(other))[0] == 200


def test_filters(api, tenant):
    token = tenant.owner_token
    anna = contact(api, token, "Anna")
    a = create_case(api, token, member_ids=[anna["id"]], tags=["Fair"])
    b = create_case(api, token, tags=["fair", "Board"])
    c = create_case(api, token)
    api.call("POST", f"/v1/cases/{c['id']}/close", headers=bearer(token))
    assert ids(api, token) == [c["id"], b["id"], a["id"]]
    assert ids(api, token, "?closed=true") == [c["id"]]
    assert ids(api, token, "?closed=false") == [b["id"], a["id"]]
    assert ids(api, token, f"?contact_id={anna['id']}") == [a["id"]]
    assert ids(api, token, "?tag=FAIR") == [b["id"], a["id"]]
    assert ids(api, token, "?tag=fair&closed=true") == []


def test_delete_cascades_history_and_contact_deletion_unlinks(api, tenant, run_jobs):
    token = tenant.owner_token
    anna, bert = contact(api, token, "Anna"), contact(api, token, "Bert")
    case = create_case(api, token, member_ids=[anna["id"], bert["id"]])
    status, _, _ = api.call(
        "POST", f"/v1/cases/{case['id']}/history", {"text": "Booked the venue"}, headers=bearer(token)
    )
    assert status == 201
    api.call("DELETE", f"/v1/contacts/{anna['id']}", headers=bearer(token))
    assert run_jobs()["failures"] == []
    status, after, _ = api.call("GET", f"/v1/cases/{case['id']}", headers=bearer(token))
    assert after["member_ids"] == [bert["id"]] and after["title"] == case["title"]
    status, _, _ = api.call("DELETE", f"/v1/cases/{case['id']}", headers=bearer(token))
    assert status == 204
    assert run_jobs()["failures"] == []
    assert api.call("GET", f"/v1/cases/{case['id']}", headers=bearer(token))[0] == 404
    assert ids(api, token) == []
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.dynamo.table import SortKey, Table

    left = Table().query(keys.case(tenant.id, case["id"])["pk"], sort=SortKey.begins_with("HIST#"))
    assert left.items == []


def test_other_tenant_sees_nothing(api, tenant, other_tenant):
    case = create_case(api, tenant.owner_token)
    foreign = other_tenant.owner_token
    for method, path in (
        ("GET", f"/v1/cases/{case['id']}"),
        ("DELETE", f"/v1/cases/{case['id']}"),
        ("POST", f"/v1/cases/{case['id']}/close"),
        ("GET", f"/v1/cases/{case['id']}/history"),
    ):
        assert api.call(method, path, headers=bearer(foreign))[0] == 404, (method, path)
    assert ids(api, foreign) == []
    create_case(api, tenant.owner_token)
    status, page, _ = api.call("GET", "/v1/cases?limit=1", headers=bearer(tenant.owner_token))
    status, _, _ = api.call("GET", f"/v1/cases?limit=1&cursor={page['next_cursor']}", headers=bearer(foreign))
    assert status == 400


def test_custom_fields_scope_case(api, tenant):
    token = tenant.owner_token
    status, field, _ = api.call(
        "POST", "/v1/custom-fields", {"entity": "case", "label": "Venue", "type": "text"}, headers=bearer(token)
    )
    assert status == 201, field
    case = create_case(api, token, custom_fields={field["id"]: "Berlin"})
    assert case["custom_fields"] == {field["id"]: "Berlin"}
    status, deal_field, _ = api.call(
        "POST", "/v1/custom-fields", {"entity": "deal", "label": "D", "type": "text"}, headers=bearer(token)
    )
    create_case(api, token, expect=422, custom_fields={deal_field["id"]: "x"})


def test_create_with_idempotency_key_creates_once(api, tenant):
    headers = bearer(tenant.owner_token, **{"Idempotency-Key": "case-1"})
    first = api.call("POST", "/v1/cases", {"title": "Once"}, headers=headers)
    again = api.call("POST", "/v1/cases", {"title": "Once"}, headers=headers)
    assert first[0] == again[0] == 201 and first[1]["id"] == again[1]["id"]
    assert len(ids(api, tenant.owner_token)) == 1
    status, _, _ = api.call("POST", "/v1/deals", {"title": "Once"}, headers=headers)
    assert status == 201
