"""Deals through the real API (DEA-1..8): fields and budget rules, the stage
change, access, every list filter, projects, tenant isolation and the
contact cascade."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Tenant, bearer


def stages(api, token):
    status, body, _ = api.call("GET", "/v1/settings/deal-stages", headers=bearer(token))
    assert status == 200, body
    items = body["items"] if isinstance(body, dict) else body
    return {s["name"]: s for s in items}


def create_deal(api, token, expect=201, **fields):
    body = {"title": "ERP rollout", **fields}
    status, deal, _ = api.call("POST", "/v1/deals", body, headers=bearer(token))
    assert status == expect, deal
    return deal


def contact(api, token, name="Anna", **extra):
    status, body, _ = api.call(
        "POST", "/v1/contacts", {"kind": "person", "first_name": name, "last_name": "X", **extra}, headers=bearer(token)
    )
    assert status == 201, body
    return body


def patch(api, token, deal, body, expect=200):
    status, answer, _ = api.call(
        "PATCH", f"/v1/deals/{deal['id']}", body, headers=bearer(token, **{"If-Match": f'"{deal["version"]}"'})
    )
    assert status == expect, answer
    return answer


def set_stage(api, token, deal, stage_id, expect=200, version=None):
    status, answer, _ = api.call(
        "PUT",
        f"/v1/deals/{deal['id']}/stage",
        {"stage_id": stage_id},
        headers=bearer(token, **{"If-Match": f'"{version or deal["version"]}"'}),
    )
    assert status == expect, answer
    return answer


def ids(api, token, query=""):
    status, page, _ = api.call("GET", f"/v1/deals{query}", headers=bearer(token))
    assert status == 200, page
    return [d["id"] for d in page["items"]]


# ---- fields, defaults, budget ----


def test_defaults_first_open_stage_its_probability_and_the_creator_responsible(api, tenant):
    deal = create_deal(api, tenant.owner_token, amount="12000.00")
    first = stages(api, tenant.owner_token)["Initial contact"]
    assert deal["stage_id"] == first["id"] and deal["probability"] == 1 and deal["stage_status"] == "open"
    assert deal["responsible_id"] == tenant.owner_id and deal["currency"] == "EUR"
    assert deal["value"] == "12000.00" and deal["actual_close_date"] is None and deal["access_list"] == []
    status, again, headers = api.call("GET", f"/v1/deals/{deal['id']}", headers=bearer(tenant.owner_token))
    assert status == 200 and again == deal and headers["etag"] == '"1"'


@pytest.mark.parametrize(
    "budget, field",
    [
        ({"amount": "100", "bid_type": "hour"}, "periods"),
        ({"amount": "100", "bid_type": "fixed", "periods": 3}, "periods"),
        ({"amount": "100", "bid_type": "day", "periods": 0}, "periods"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.5", "currency": "JPY"}, "amount"),
        ({"amount": "12,50"}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"amount": "1", "currency": "XXZ"}, "currency"),
        ({"amount": "1", "bid_type": "fortnight", "periods": 2}, "bid_type"),
    ],
)
def test_budget_validation(api, tenant, budget, field):
    status, problem, _ = api.call("POST", "/v1/deals", {"title": "T", **budget}, headers=bearer(tenant.owner_token))
    assert status == 422, problem
    assert field in str(problem.get("errors")) or field in problem["detail"]


def test_value_is_amount_times_periods_unless_fixed(api, tenant):
    deal = create_deal(api, tenant.owner_token, amount="150.25", currency="USD", bid_type="month", periods=12)
    assert deal["value"] == "1803.00" and deal["periods"] == 12
    fixed = patch(api, tenant.owner_token, deal, {"bid_type": "fixed"})
    assert fixed["periods"] is None and fixed["value"] == "150.25"
    assert create_deal(api, tenant.owner_token)["value"] is None


def test_patch_cannot_change_the_stage_and_needs_if_match(api, tenant):
    deal = create_deal(api, tenant.owner_token)
    other = stages(api, tenant.owner_token)["Proposal"]["id"]
    status, problem, _ = api.call(
        "PATCH",
        f"/v1/deals/{deal['id']}",
        {"stage_id": other},
        headers=bearer(tenant.owner_token, **{"If-Match": '"1"'}),
    )
    assert status == 422 and "stage_id" in str(problem["errors"])
    status, _, _ = api.call("PATCH", f"/v1/deals/{deal['id']}", {"title": "New"}, headers=bearer(tenant.owner_token))
    assert status == 428
    changed = patch(api, tenant.owner_token, deal, {"title": "New", "probability": 40})
    assert changed["title"] == "New" and changed["probability"] == 40 and changed["version"] == 2
    patch(api, tenant.owner_token, deal, {"title": "Stale"}, expect=412)


def test_contacts_must_be_visible_and_responsible_active(api, tenant):
    user_id, user_token = tenant.add_user("u@acme.example")
    private = contact(api, tenant.owner_token, "Hidden")  # private to the owner (its manager)
    status, problem, _ = api.call(
        "POST", "/v1/deals", {"title": "T", "contact_id": private["id"]}, headers=bearer(user_token)
    )
    assert status == 422 and "contact_id" in str(problem["errors"])
    status, problem, _ = api.call(
        "POST", "/v1/deals", {"title": "T", "member_ids": ["nope"]}, headers=bearer(user_token)
    )
    assert status == 422 and "member_ids" in str(problem["errors"])
    status, problem, _ = api.call(
        "POST", "/v1/deals", {"title": "T", "responsible_id": "nobody"}, headers=bearer(user_token)
    )
    assert status == 422 and "responsible_id" in str(problem["errors"])
    deal = create_deal(api, tenant.owner_token, contact_id=private["id"], responsible_id=user_id)
    assert deal["contact_id"] == private["id"] and deal["responsible_id"] == user_id


# ---- stage change (DEA-4) ----


def test_stage_change_copies_probability_sets_and_clears_close_date_and_writes_history(api):
    berlin = Tenant.__new__(Tenant)
    from chalicelib.cli import create_tenant

    created = create_tenant(
        "Berlin", "owner@berlin.example", owner_password="owner-password-1", time_zone="Pacific/Kiritimati"
    )
    berlin.api, berlin.id, berlin.owner_id = api, created["tenant_id"], created["owner_id"]
    token = berlin.login("owner@berlin.example", "owner-password-1")
    by_name = stages(api, token)
    deal = create_deal(api, token, amount="100")
    won = set_stage(api, token, deal, by_name["Closed won"]["id"])
    today_there = datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    assert won["probability"] == 100 and won["stage_status"] == "won"
    assert won["actual_close_date"] == today_there and won["version"] == 2
    set_stage(api, token, deal, by_name["Proposal"]["id"], expect=412)  # stale If-Match
    status, _, _ = api.call(
        "PUT", f"/v1/deals/{deal['id']}/stage", {"stage_id": by_name["Proposal"]["id"]}, headers=bearer(token)
    )
    assert status == 428
    reopened = set_stage(api, token, won, by_name["Proposal"]["id"])
    assert reopened["probability"] == 75 and reopened["actual_close_date"] is None
    set_stage(api, token, reopened, "no-such-stage", expect=422)
    status, history, _ = api.call("GET", f"/v1/deals/{deal['id']}/history", headers=bearer(token))
    assert status == 200
    texts = [e["text"] for e in history["items"]]
    assert "Stage: Initial contact -> Closed won" in texts and "Stage: Closed won -> Proposal" in texts


def test_a_stage_in_use_cannot_be_deleted(api, tenant):
    proposal = stages(api, tenant.owner_token)["Proposal"]["id"]
    deal = create_deal(api, tenant.owner_token, stage_id=proposal)
    assert deal["probability"] == 75
    status, _, _ = api.call("DELETE", f"/v1/settings/deal-stages/{proposal}", headers=bearer(tenant.owner_token))
    assert status == 409
    status, _, _ = api.call("DELETE", f"/v1/deals/{deal['id']}", headers=bearer(tenant.owner_token))
    assert status == 204
    status, _, _ = api.call("DELETE", f"/v1/settings/deal-stages/{proposal}", headers=bearer(tenant.owner_token))
    assert status == 204


# ---- access (DEA-6) ----


def test_access_matrix_and_notification(api, tenant):
    creator_id, creator = tenant.add_user("creator@acme.example")
    listed_id, listed = tenant.add_user("listed@acme.example")
    other_id, other = tenant.add_user("other@acme.example")
    admin_id, admin = tenant.add_user("admin@acme.example", role="admin")
    public = create_deal(api, creator, title="Public")
    private = create_deal(api, creator, title="Private", access_list=[listed_id], responsible_id=other_id)
    assert set(private["access_list"]) == {creator_id, listed_id}

    status, inbox, _ = api.call("GET", "/v1/notifications", headers=bearer(listed))
    assert any("Private" in n["subject"] for n in inbox["items"])
    status, inbox, _ = api.call("GET", "/v1/notifications", headers=bearer(creator))
    assert not any("Private" in n["subject"] for n in inbox["items"])

    for token in (creator, listed, other, admin):
        assert api.call("GET", f"/v1/deals/{public['id']}", headers=bearer(token))[0] == 200
    for token, expected in ((creator, 200), (listed, 200), (other, 404), (admin, 200)):
        assert api.call("GET", f"/v1/deals/{private['id']}", headers=bearer(token))[0] == expected
        assert (private["id"] in ids(api, token)) == (expected == 200)
    # responsible but not listed: nothing; hidden answers 404 for writes too
    patch(api, other, private, {"title": "x"}, expect=404)
    # listed may edit but not change access; only creator and admin may
    edited = patch(api, listed, private, {"title": "Renamed"})
    patch(api, listed, edited, {"access_list": []}, expect=403)
    patch(api, other, public, {"access_list": [other_id]}, expect=403)
    opened = patch(api, admin, edited, {"access_list": [listed_id, other_id]})
    assert set(opened["access_list"]) == {creator_id, listed_id, other_id}
    status, inbox, _ = api.call("GET", "/v1/notifications", headers=bearer(other))
    assert any("Renamed" in n["subject"] for n in inbox["items"])
    made_public = patch(api, creator, opened, {"access_list": []})
    assert made_public["access_list"] == []
    assert api.call("GET", f"/v1/deals/{private['id']}", headers=bearer(other))[0] == 200
    # an unknown user cannot be listed
    patch(api, creator, made_public, {"access_list": ["ghost"]}, expect=422)


# ---- lists (DEA-8) ----


def test_every_filter(api, tenant):
    user_id, user = tenant.add_user("u@acme.example")
    by_name = stages(api, tenant.owner_token)
    anna, bert = (
        contact(api, tenant.owner_token, "Anna", access="shared_read"),
        contact(api, tenant.owner_token, "Bert"),
    )
    a = create_deal(
        api, tenant.owner_token, title="A", contact_id=anna["id"], tags=["Big"], expected_close_date="2027-01-10"
    )
    b = create_deal(
        api,
        tenant.owner_token,
        title="B",
        member_ids=[anna["id"], bert["id"]],
        responsible_id=user_id,
        stage_id=by_name["Proposal"]["id"],
        expected_close_date="2027-02-10",
    )
    c = create_deal(api, tenant.owner_token, title="C", stage_id=by_name["Closed lost"]["id"], tags=["big", "x"])
    token = tenant.owner_token
    assert ids(api, token) == [c["id"], b["id"], a["id"]]
    assert ids(api, token, f"?responsible_id={user_id}") == [b["id"]]
    assert ids(api, token, f"?stage_id={by_name['Proposal']['id']}") == [b["id"]]
    assert ids(api, token, "?stage_status=open") == [b["id"], a["id"]]
    assert ids(api, token, "?stage_status=lost") == [c["id"]]
    assert ids(api, token, "?tag=BIG") == [c["id"], a["id"]]
    assert ids(api, token, f"?contact_id={anna['id']}") == [b["id"], a["id"]]
    assert ids(api, token, f"?contact_id={bert['id']}") == [b["id"]]
    assert ids(api, token, "?close_from=2027-01-01&close_to=2027-01-31") == [a["id"]]
    assert ids(api, token, "?close_from=2027-01-11") == [b["id"]]
    assert ids(api, token, "?close_to=2027-03-01") == [a["id"], b["id"]]
    assert ids(api, token, "?tag=big&stage_status=open") == [a["id"]]
    assert ids(api, token, "?close_from=2027-01-01&stage_status=open&tag=big") == [a["id"]]
    status, _, _ = api.call("GET", "/v1/deals?stage_status=maybe", headers=bearer(token))
    assert status == 422
    # An admin makes "Proposal" a won stage: the filter follows at once.
    proposal = by_name["Proposal"]
    status, changed, _ = api.call(
        "PATCH",
        f"/v1/settings/deal-stages/{proposal['id']}",
        {"status": "won"},
        headers=bearer(token, **{"If-Match": f'"{proposal["version"]}"'}),
    )
    assert status == 200, changed
    assert ids(api, token, "?stage_status=won") == [b["id"]]
    assert ids(api, token, "?stage_status=open") == [a["id"]]


def test_paging_under_access_filtering(api, tenant):
    user_id, user = tenant.add_user("u@acme.example")
    visible = []
    for i in range(7):
        hidden = create_deal(api, tenant.owner_token, title=f"H{i}", access_list=[tenant.owner_id])
        assert hidden["access_list"] == [tenant.owner_id]
        visible.append(create_deal(api, tenant.owner_token, title=f"V{i}")["id"])
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = api.call("GET", f"/v1/deals{query}", headers=bearer(user))
        assert status == 200, page
        assert len(page["items"]) <= 3
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(visible))
    # a cursor is bound to its query
    status, page, _ = api.call("GET", "/v1/deals?limit=3", headers=bearer(user))
    status, _, _ = api.call("GET", f"/v1/deals?limit=3&tag=x&cursor={page['next_cursor']}", headers=bearer(user))
    assert status == 400


# ---- isolation ----


def test_other_tenant_sees_nothing(api, tenant, other_tenant):
    deal = create_deal(api, tenant.owner_token)
    foreign = other_tenant.owner_token
    for method, path, body in (
        ("GET", f"/v1/deals/{deal['id']}", None),
        ("PATCH", f"/v1/deals/{deal['id']}", {"title": "x"}),
        ("PUT", f"/v1/deals/{deal['id']}/stage", {"stage_id": deal["stage_id"]}),
        ("DELETE", f"/v1/deals/{deal['id']}", None),
        ("GET", f"/v1/deals/{deal['id']}/history", None),
        ("GET", f"/v1/deals/{deal['id']}/projects", None),
    ):
        status, _, _ = api.call(method, path, body, headers=bearer(foreign, **{"If-Match": '"1"'}))
        assert status == 404, (method, path)
    assert ids(api, foreign) == []
    create_deal(api, tenant.owner_token)
    status, page, _ = api.call("GET", "/v1/deals?limit=1", headers=bearer(tenant.owner_token))
    status, _, _ = api.call("GET", f"/v1/deals?limit=1&cursor={page['next_cursor']}", headers=bearer(foreign))
    assert status == 400
    status, pipeline, _ = api.call("GET", "/v1/deals/pipeline", headers=bearer(foreign))
    assert status == 200 and pipeline["count"] == 0


# ---- projects (DEA-7) ----


def test_projects_link_both_ways_and_need_write_access(api, tenant):
    user_id, user = tenant.add_user("u@acme.example")
    other_id, other = tenant.add_user("o@acme.example")
    deal = create_deal(api, tenant.owner_token, access_list=[user_id])
    status, project, _ = api.call(
        "POST",
        f"/v1/deals/{deal['id']}/projects",
        {"title": "Rollout", "description": "Phase 1", "member_ids": [user_id]},
        headers=bearer(user),
    )
    assert status == 201, project
    assert project["deal_id"] == deal["id"] and project["member_ids"] == [user_id]
    status, page, _ = api.call("GET", f"/v1/deals/{deal['id']}/projects", headers=bearer(tenant.owner_token))
    assert [p["id"] for p in page["items"]] == [project["id"]]
    status, _, _ = api.call("POST", f"/v1/deals/{deal['id']}/projects", {"title": "X"}, headers=bearer(other))
    assert status == 404
    status, problem, _ = api.call(
        "POST", f"/v1/deals/{deal['id']}/projects", {"title": "X", "member_ids": ["ghost"]}, headers=bearer(user)
    )
    assert status == 422


# ---- delete, change log, contact cascade ----


def test_deleting_a_contact_unlinks_it_and_keeps_the_rest(api, tenant, run_jobs):
    anna, bert = contact(api, tenant.owner_token, "Anna"), contact(api, tenant.owner_token, "Bert")
    deal = create_deal(
        api, tenant.owner_token, contact_id=anna["id"], member_ids=[bert["id"], anna["id"]], amount="10", tags=["Keep"]
    )
    status, _, _ = api.call("DELETE", f"/v1/contacts/{anna['id']}", headers=bearer(tenant.owner_token))
    assert status == 204
    result = run_jobs()
    assert result["failures"] == []
    status, after, _ = api.call("GET", f"/v1/deals/{deal['id']}", headers=bearer(tenant.owner_token))
    assert after["contact_id"] is None and after["member_ids"] == [bert["id"]]
    assert after["amount"] == "10" and after["tags"] == ["Keep"] and after["title"] == deal["title"]
    assert ids(api, tenant.owner_token, f"?contact_id={anna['id']}") == []
    assert ids(api, tenant.owner_token, f"?contact_id={bert['id']}") == [deal["id"]]
    # rerunning the cascade changes nothing
    from chalicelib.bootstrap import container

    assert container().deals.unlink_contact(tenant.id, anna["id"]) == 0


def test_delete_and_change_log(api, tenant, run_jobs):
    deal = create_deal(api, tenant.owner_token, amount="5")
    patch(api, tenant.owner_token, deal, {"amount": "7"})
    status, changes, _ = api.call("GET", f"/v1/deals/{deal['id']}/changes", headers=bearer(tenant.owner_token))
    assert status == 200, changes
    assert any(c.get("field") == "amount" for entry in changes["items"] for c in entry.get("changes", []))
    status, _, _ = api.call(
        "DELETE", f"/v1/deals/{deal['id']}", headers=bearer(tenant.owner_token, **{"If-Match": '"1"'})
    )
    assert status == 412
    status, _, _ = api.call("DELETE", f"/v1/deals/{deal['id']}", headers=bearer(tenant.owner_token))
    assert status == 204
    assert run_jobs()["failures"] == []
    assert api.call("GET", f"/v1/deals/{deal['id']}", headers=bearer(tenant.owner_token))[0] == 404
    assert ids(api, tenant.owner_token) == []


def test_custom_fields_and_tags(api, tenant):
    status, field, _ = api.call(
        "POST",
        "/v1/custom-fields",
        {"entity": "deal", "label": "Source", "type": "text"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 201, field
    deal = create_deal(api, tenant.owner_token, custom_fields={field["id"]: "Fair"}, tags=["Hot", "hot "])
    assert deal["custom_fields"] == {field["id"]: "Fair"} and deal["tags"] == ["Hot"]
    create_deal(api, tenant.owner_token, custom_fields={"nope": 1}, expect=422)
    other = create_deal(api, tenant.owner_token, tags=["HOT"])
    assert other["tags"] == ["Hot"]


def test_deal_tags_are_listed_counted_renamed_and_deleted(api, tenant):
    user_id, user = tenant.add_user("u@acme.example")
    token = tenant.owner_token
    create_deal(api, token, tags=["Hot"])
    create_deal(api, token, tags=["hot", "Cold"], access_list=[tenant.owner_id])  # hidden from the user
    status, page, _ = api.call("GET", "/v1/tags?entity=deal", headers=bearer(user))
    assert status == 200, page
    assert {t["name"]: t["count"] for t in page["items"]} == {"Cold": 0, "Hot": 1}
    status, page, _ = api.call("GET", "/v1/tags?entity=deal", headers=bearer(token))
    assert {t["name"]: t["count"] for t in page["items"]} == {"Cold": 1, "Hot": 2}
    status, body, _ = api.call("PATCH", "/v1/tags/deal/hot", {"name": "Warm"}, headers=bearer(token))
    assert status == 200, body
    assert ids(api, token, "?tag=warm") and ids(api, token, "?tag=hot") == []
    status, _, _ = api.call("DELETE", "/v1/tags/deal/Cold", headers=bearer(token))
    assert status == 204
    status, page, _ = api.call("GET", "/v1/tags?entity=deal", headers=bearer(token))
    assert [t["name"] for t in page["items"]] == ["Warm"]
    status, page, _ = api.call("GET", "/v1/tags?entity=case", headers=bearer(token))
    assert status == 200 and page["items"] == []


def test_a_contact_merge_moves_deals_and_cases_to_the_survivor(api, tenant, run_jobs):
    token = tenant.owner_token
    anna, bert, carl = (contact(api, token, n) for n in ("Anna", "Bert", "Carl"))
    deal = create_deal(api, token, contact_id=anna["id"], member_ids=[bert["id"], carl["id"]])
    status, case, _ = api.call(
        "POST", "/v1/cases", {"title": "Fair", "member_ids": [anna["id"], bert["id"]]}, headers=bearer(token)
    )
    status, body, _ = api.call(
        "POST", "/v1/contacts/merge", {"from_id": anna["id"], "into_id": bert["id"]}, headers=bearer(token)
    )
    assert status == 200, body
    assert run_jobs()["failures"] == []
    status, after, _ = api.call("GET", f"/v1/deals/{deal['id']}", headers=bearer(token))
    assert after["contact_id"] == bert["id"] and after["member_ids"] == [carl["id"]]
    status, after_case, _ = api.call("GET", f"/v1/cases/{case['id']}", headers=bearer(token))
    assert after_case["member_ids"] == [bert["id"]]
    assert ids(api, token, f"?contact_id={bert['id']}") == [deal["id"]]


def test_deleting_a_deal_unlinks_its_projects(api, tenant, run_jobs):
    token = tenant.owner_token
    deal = create_deal(api, token)
    status, project, _ = api.call("POST", f"/v1/deals/{deal['id']}/projects", {"title": "P"}, headers=bearer(token))
    assert status == 201
    api.call("DELETE", f"/v1/deals/{deal['id']}", headers=bearer(token))
    assert run_jobs()["failures"] == []
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.dynamo.table import Table

    stored = Table().get(keys.project(tenant.id, project["id"]))
    assert stored["title"] == "P" and "deal_id" not in stored
    assert Table().get(keys.deal_project_link(tenant.id, deal["id"], project["id"])) is None
