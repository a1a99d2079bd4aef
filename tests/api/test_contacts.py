"""Contacts through the real API: kinds, details, companies, managers,
access, search, filters, paging under access filtering, delete (CON-1..12)."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from tests.conftest import bearer


def person(first="Anna", last="Müller", **extra):
    return {"kind": "person", "first_name": first, "last_name": last, **extra}


def create(api, token, body, expect=201):
    status, contact, _ = api.call("POST", "/v1/contacts", body, headers=bearer(token))
    assert status == expect, contact
    return contact


def names(api, token, query=""):
    status, page, _ = api.call("GET", f"/v1/contacts{query}", headers=bearer(token))
    assert status == 200, page
    return [c["display_name"] for c in page["items"]]


# ---- kinds and fields ----


@pytest.mark.parametrize(
    "body, field_hint",
    [
        ({"kind": "person", "first_name": "Anna"}, "last_name"),
        ({"kind": "company"}, "company_name"),
        ({"kind": "person", "first_name": "A", "last_name": "B", "company_name": "X"}, "company_name"),
        ({"kind": "company", "company_name": "X", "first_name": "A"}, "first_name"),
        ({"kind": "robot", "company_name": "X"}, "kind"),
        ({"kind": "company", "company_name": "X", "currency": "euro"}, "currency"),
    ],
)
def test_kind_decides_the_required_fields(api, tenant, body, field_hint):
    status, problem, _ = api.call("POST", "/v1/contacts", body, headers=bearer(tenant.owner_token))
    assert status == 422
    assert field_hint in str(problem["errors"]) or field_hint in problem["detail"]


def test_details_are_normalised_with_one_primary_per_type(api, tenant):
    contact = create(
        api,
        tenant.owner_token,
        person(
            details=[
                {"type": "phone", "category": "mobile", "value": "0170 1234567"},
                {"type": "phone", "value": "+1 (212) 555-0100", "primary": True},
                {"type": "email", "value": "Anna@Example.DE"},
                {"type": "website", "value": "example.de"},
                {
                    "type": "address",
                    "category": "billing",
                    "value": {"street": "Königstr. 1", "city": "Berlin", "zip": "10115", "country": "DE"},
                },
            ]
        ),
    )
    by_type = {}
    for detail in contact["details"]:
        by_type.setdefault(detail["type"], []).append(detail)
    assert [d["value"] for d in by_type["phone"]] == ["+491701234567", "+12125550100"]
    assert [d["primary"] for d in by_type["phone"]] == [False, True]
    assert by_type["email"][0] == {"type": "email", "category": "work", "value": "Anna@example.de", "primary": True}
    assert by_type["website"][0]["value"] == "https://example.de"
    assert by_type["address"][0]["value"]["city"] == "Berlin"


@pytest.mark.parametrize(
    "detail, field",
    [
        ({"type": "phone", "value": "not a number"}, "details.0.value"),
        ({"type": "email", "value": "anna@"}, "details.0.value"),
        ({"type": "phone", "category": "pager", "value": "030 1234567"}, "details.0.category"),
        ({"type": "address", "value": "Berlin"}, "details.0.value"),
    ],
)
def test_invalid_details_name_their_field(api, tenant, detail, field):
    status, problem, _ = api.call("POST", "/v1/contacts", person(details=[detail]), headers=bearer(tenant.owner_token))
    assert status == 422 and field in [e["field"] for e in problem["errors"]]


def test_a_person_belongs_to_at_most_one_company(api, tenant):
    owner = tenant.owner_token
    acme = create(api, owner, {"kind": "company", "company_name": "Acme GmbH"})
    globex = create(api, owner, {"kind": "company", "company_name": "Globex AG"})
    anna = create(api, owner, person(company_id=acme["id"]))
    assert [
        p["id"] for p in api.call("GET", f"/v1/contacts/{acme['id']}/persons", headers=bearer(owner))[1]["items"]
    ] == [anna["id"]]
    status, moved, _ = api.call(
        "PATCH",
        f"/v1/contacts/{anna['id']}",
        {"company_id": globex["id"]},
        headers=bearer(owner, **{"If-Match": '"1"'}),
    )
    assert status == 200 and moved["company_id"] == globex["id"]
    assert api.call("GET", f"/v1/contacts/{acme['id']}/persons", headers=bearer(owner))[1]["items"] == []
    # A person is no company; nor is a missing id.
    bob = create(api, owner, person("Bob", "Baker"))
    for bad in (bob["id"], "01NOSUCHCONTACT0000000000"):
        assert create(api, owner, person("Carl", "Cole", company_id=bad), expect=422)


def test_deleting_a_company_unlinks_its_persons(api, tenant, run_jobs):
    owner = tenant.owner_token
    acme = create(api, owner, {"kind": "company", "company_name": "Acme GmbH"})
    anna = create(api, owner, person(company_id=acme["id"]))
    assert api.call("DELETE", f"/v1/contacts/{acme['id']}", headers=bearer(owner))[0] == 204
    assert api.call("GET", f"/v1/contacts/{acme['id']}", headers=bearer(owner))[0] == 404
    assert run_jobs()["failures"] == []
    status, after, _ = api.call("GET", f"/v1/contacts/{anna['id']}", headers=bearer(owner))
    assert status == 200 and after["company_id"] is None
    assert names(api, owner) == ["Anna Müller"]


def test_updates_name_their_version(api, tenant):
    contact = create(api, tenant.owner_token, person())
    owner = bearer(tenant.owner_token)
    path = f"/v1/contacts/{contact['id']}"
    assert api.call("PATCH", path, {"job_title": "CFO"}, headers=owner)[0] == 428
    status, changed, headers = api.call("PATCH", path, {"job_title": "CFO"}, headers={**owner, "If-Match": '"1"'})
    assert status == 200 and changed["job_title"] == "CFO" and headers["etag"] == '"2"'
    assert api.call("PATCH", path, {"job_title": "CEO"}, headers={**owner, "If-Match": '"1"'})[0] == 412
    # Clearing a required name is refused.
    assert api.call("PATCH", path, {"last_name": None}, headers={**owner, "If-Match": '"2"'})[0] == 422


# ---- managers and access ----


def test_creator_is_manager_and_new_managers_are_notified(api, tenant):
    colleague, colleague_token = tenant.add_user("c@acme.example")
    contact = create(api, tenant.owner_token, person())
    assert contact["managers"] == [tenant.owner_id] and contact["access"] == "private"
    status, changed, _ = api.call(
        "PATCH",
        f"/v1/contacts/{contact['id']}",
        {"managers": [tenant.owner_id, colleague]},
        headers=bearer(tenant.owner_token, **{"If-Match": '"1"'}),
    )
    assert status == 200
    inbox = api.call("GET", "/v1/notifications", headers=bearer(colleague_token))[1]["items"]
    assert [n["kind"] for n in inbox][:1] == ["contact.manager"]
    assert inbox[0]["link"] == f"/v1/contacts/{contact['id']}"
    assert (
        api.call(
            "PATCH",
            f"/v1/contacts/{contact['id']}",
            {"managers": ["nobody"]},
            headers=bearer(tenant.owner_token, **{"If-Match": '"2"'}),
        )[0]
        == 422
    )


@pytest.fixture
def two_users(tenant):
    return tenant.add_user("manager@acme.example"), tenant.add_user("other@acme.example")


def test_private_contacts_are_hidden_from_everyone_but_managers_and_admins(api, tenant, two_users):
    (manager, manager_token), (_, other_token) = two_users
    contact = create(api, manager_token, person())
    path = f"/v1/contacts/{contact['id']}"
    other = bearer(other_token)
    assert api.call("GET", path, headers=other)[0] == 404
    assert api.call("PATCH", path, {"job_title": "x"}, headers={**other, "If-Match": '"1"'})[0] == 404
    assert api.call("DELETE", path, headers=other)[0] == 404
    assert names(api, other_token) == []
    assert names(api, other_token, "?q=anna") == []
    assert api.call("GET", path, headers=bearer(tenant.owner_token))[0] == 200


def test_shared_for_reading(api, tenant, two_users):
    (_, manager_token), (_, other_token) = two_users
    contact = create(api, manager_token, person(access="shared_read"))
    path, other = f"/v1/contacts/{contact['id']}", bearer(other_token)
    assert api.call("GET", path, headers=other)[0] == 200
    assert api.call("PATCH", path, {"job_title": "x"}, headers={**other, "If-Match": '"1"'})[0] == 403
    assert api.call("DELETE", path, headers=other)[0] == 403
    assert names(api, other_token) == ["Anna Müller"]


def test_shared_for_writing(api, tenant, two_users):
    (_, manager_token), (other_id, other_token) = two_users
    contact = create(api, manager_token, person(access="shared_write"))
    path, other = f"/v1/contacts/{contact['id']}", bearer(other_token)
    status, changed, _ = api.call("PATCH", path, {"job_title": "CFO"}, headers={**other, "If-Match": '"1"'})
    assert status == 200 and changed["updated_by"] == other_id
    # Managers and access stay with the managers; so does deleting.
    assert api.call("PATCH", path, {"managers": [other_id]}, headers={**other, "If-Match": '"2"'})[0] == 403
    assert api.call("PATCH", path, {"access": "private"}, headers={**other, "If-Match": '"2"'})[0] == 403
    assert api.call("DELETE", path, headers=other)[0] == 403
    assert api.call("DELETE", path, headers=bearer(manager_token))[0] == 204


def test_pages_stay_full_when_the_caller_sees_only_some_contacts(api, tenant, two_users):
    (_, manager_token), (_, other_token) = two_users
    visible = []
    for n in range(24):
        shared = n % 3 == 0
        contact = create(api, manager_token, person(f"P{n:02d}", "Zed", access="shared_read" if shared else "private"))
        if shared:
            visible.append(contact["id"])
    seen, cursor, sizes = [], None, []
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        _, page, _ = api.call("GET", f"/v1/contacts{query}", headers=bearer(other_token))
        seen += [c["id"] for c in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(visible) and len(seen) == len(set(seen)) == 8
    assert sizes[:2] == [3, 3], "pages are full, not thinned out by hidden records"


# ---- search, filters, sort ----


@pytest.fixture
def directory(api, tenant):
    owner = tenant.owner_token
    acme = create(api, owner, {"kind": "company", "company_name": "Acme GmbH", "tags": ["Customer"]})
    create(
        api,
        owner,
        person(
            "Anna",
            "Müller",
            tags=["Lead"],
            company_id=acme["id"],
            details=[{"type": "email", "value": "anna.mueller@example.de"}, {"type": "phone", "value": "030 1234567"}],
        ),
    )
    create(
        api,
        owner,
        person(
            "Bernd", "Anders", tags=["lead", "Customer"], details=[{"type": "email", "value": "b.anders@example.com"}]
        ),
    )
    create(api, owner, person("Clara", "Zimmermann"))
    return acme


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?q=mul", ["Anna Müller"]),  # accent-insensitive name prefix
        ("?q=MÜLL", ["Anna Müller"]),
        ("?q=an", ["Bernd Anders", "Anna Müller"]),  # first and last names, each contact once
        ("?q=anna.mu", ["Anna Müller"]),  # e-mail prefix
        ("?q=b.anders%40example.com", ["Bernd Anders"]),
        ("?q=%2B49301234567", ["Anna Müller"]),  # phone in E.164 ...
        ("?q=030%20123%2045%2067", ["Anna Müller"]),  # ... or as written locally
        ("?q=acme", ["Acme GmbH", "Anna Müller"]),  # a company and its people
        ("?q=zz", []),
    ],
)
def test_search(api, tenant, directory, query, expected):
    assert sorted(names(api, tenant.owner_token, query)) == sorted(expected)


def test_search_needs_two_characters(api, tenant):
    assert api.call("GET", "/v1/contacts?q=a", headers=bearer(tenant.owner_token))[0] == 422


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["Acme GmbH", "Bernd Anders", "Anna Müller", "Clara Zimmermann"]),  # persons by last name
        ("?sort=-name", ["Clara Zimmermann", "Anna Müller", "Bernd Anders", "Acme GmbH"]),
        ("?sort=created", ["Acme GmbH", "Anna Müller", "Bernd Anders", "Clara Zimmermann"]),
        ("?sort=-created", ["Clara Zimmermann", "Bernd Anders", "Anna Müller", "Acme GmbH"]),
        ("?kind=company", ["Acme GmbH"]),
        ("?kind=person&tag=customer", ["Bernd Anders"]),
        ("?tag=LEAD", ["Bernd Anders", "Anna Müller"]),
        ("?tag=Lead&sort=created", ["Anna Müller", "Bernd Anders"]),
    ],
)
def test_filters_and_sorting(api, tenant, directory, query, expected):
    assert names(api, tenant.owner_token, query) == expected


def test_filter_by_manager_type_temperature_and_created_range(api, tenant, directory):
    owner = tenant.owner_token
    colleague, colleague_token = tenant.add_user("c@acme.example")
    create(api, colleague_token, person("Dora", "Diaz"))
    assert names(api, owner, f"?manager_id={colleague}") == ["Dora Diaz"]
    assert names(api, owner, "?type_id=none&kind=company") == ["Acme GmbH"]
    now = datetime.now(UTC)
    since = quote((now - timedelta(hours=1)).isoformat())
    until = quote((now + timedelta(hours=1)).isoformat())
    assert len(names(api, owner, f"?created_from={since}&created_to={until}")) == 5
    assert names(api, owner, f"?created_from={until}") == []
    assert names(api, owner, f"?created_to={since}&sort=-created") == []


def test_cursor_is_bound_to_its_filters_and_tenant(api, tenant, other_tenant, directory):
    _, page, _ = api.call("GET", "/v1/contacts?limit=2", headers=bearer(tenant.owner_token))
    cursor = page["next_cursor"]
    assert cursor
    assert (
        api.call("GET", f"/v1/contacts?limit=2&cursor={cursor}&kind=person", headers=bearer(tenant.owner_token))[0]
        == 400
    )
    assert api.call("GET", f"/v1/contacts?limit=2&cursor={cursor}", headers=bearer(other_tenant.owner_token))[0] == 400


# ---- isolation ----


def test_another_tenant_sees_and_touches_nothing(api, tenant, other_tenant, directory):
    b = bearer(other_tenant.owner_token)
    assert names(api, other_tenant.owner_token) == []
    assert names(api, other_tenant.owner_token, "?q=anna") == []
    assert names(api, other_tenant.owner_token, "?q=%2B49301234567") == []
    path = f"/v1/contacts/{directory['id']}"
    assert api.call("GET", path, headers=b)[0] == 404
    assert api.call("PATCH", path, {"company_name": "x"}, headers={**b, "If-Match": '"1"'})[0] == 404
    assert api.call("DELETE", path, headers=b)[0] == 404
    assert api.call("GET", f"{path}/persons", headers=b)[0] == 404
    # Nor can B link a person to A's company.
    assert create(api, other_tenant.owner_token, person(company_id=directory["id"]), expect=422)


def test_contacts_are_in_openapi(api):
    _, spec, _ = api.call("GET", "/openapi.json")
    listing = spec["paths"]["/v1/contacts"]["get"]
    params = {p["name"] for p in listing["parameters"]}
    assert {
        "q",
        "kind",
        "type_id",
        "tag",
        "temperature_id",
        "manager_id",
        "created_from",
        "created_to",
        "sort",
        "limit",
        "cursor",
    } <= params
    assert spec["paths"]["/v1/contacts"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("NewContact")
