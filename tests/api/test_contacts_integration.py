"""Contacts with what they reference: settings entries, custom fields, the
change log and history, all kept consistent by the contact's transaction."""

from tests.conftest import bearer


def entries(api, token, list_name):
    _, page, _ = api.call("GET", f"/v1/settings/{list_name}", headers=bearer(token))
    return {e["name"]: e for e in page["items"]}


def test_type_and_temperature_must_exist_and_count_as_uses(api, tenant):
    owner = bearer(tenant.owner_token)
    client_type = entries(api, tenant.owner_token, "contact-types")["Client"]["id"]
    hot = entries(api, tenant.owner_token, "temperatures")["Hot"]["id"]
    status, problem, _ = api.call(
        "POST", "/v1/contacts", {"kind": "company", "company_name": "X", "type_id": "nope"}, headers=owner
    )
    assert status == 422 and problem["errors"][0]["field"] == "type_id"
    status, contact, _ = api.call(
        "POST",
        "/v1/contacts",
        {"kind": "company", "company_name": "Acme", "type_id": client_type, "temperature_id": hot},
        headers=owner,
    )
    assert status == 201
    assert entries(api, tenant.owner_token, "contact-types")["Client"]["in_use"] == 1
    assert api.call("DELETE", f"/v1/settings/contact-types/{client_type}", headers=owner)[0] == 409
    assert [
        c["display_name"] for c in api.call("GET", f"/v1/contacts?type_id={client_type}", headers=owner)[1]["items"]
    ] == ["Acme"]
    assert (
        api.call("PATCH", f"/v1/contacts/{contact['id']}", {"type_id": None}, headers={**owner, "If-Match": '"1"'})[0]
        == 200
    )
    assert entries(api, tenant.owner_token, "contact-types")["Client"]["in_use"] == 0
    api.call("DELETE", f"/v1/contacts/{contact['id']}", headers=owner)
    assert entries(api, tenant.owner_token, "temperatures")["Hot"]["in_use"] == 0


def test_custom_field_values_are_validated_and_in_openapi(api, tenant):
    owner = bearer(tenant.owner_token)
    status, field, _ = api.call(
        "POST", "/v1/custom-fields", {"entity": "person", "label": "Birthday", "type": "date"}, headers=owner
    )
    assert status == 201, field
    _, size, _ = api.call(
        "POST",
        "/v1/custom-fields",
        {"entity": "company", "label": "Size", "type": "select", "options": ["small", "large"]},
        headers=owner,
    )
    body = {"kind": "person", "first_name": "A", "last_name": "B"}
    assert (
        api.call("POST", "/v1/contacts", {**body, "custom_fields": {field["id"]: "not a date"}}, headers=owner)[0]
        == 422
    )
    assert (
        api.call("POST", "/v1/contacts", {**body, "custom_fields": {size["id"]: "small"}}, headers=owner)[0] == 422
    ), "a company field does not apply to persons"
    status, person, _ = api.call(
        "POST", "/v1/contacts", {**body, "custom_fields": {field["id"]: "1990-05-17"}}, headers=owner
    )
    assert status == 201 and person["custom_fields"] == {field["id"]: "1990-05-17"}
    status, cleared, _ = api.call(
        "PATCH",
        f"/v1/contacts/{person['id']}",
        {"custom_fields": {field["id"]: None}},
        headers={**owner, "If-Match": '"1"'},
    )
    assert status == 200 and cleared["custom_fields"] == {}
    _, spec, _ = api.call("GET", "/openapi.json", headers=owner)
    values = spec["components"]["schemas"]["ContactView"]["properties"]["custom_fields"]
    assert values["properties"][field["id"]]["format"] == "date"


def test_every_write_lands_in_the_change_log(api, tenant, run_jobs):
    owner = bearer(tenant.owner_token)
    _, contact, _ = api.call(
        "POST", "/v1/contacts", {"kind": "person", "first_name": "Anna", "last_name": "Alt"}, headers=owner
    )
    path = f"/v1/contacts/{contact['id']}"
    api.call("PATCH", path, {"last_name": "Neu", "job_title": "CFO"}, headers={**owner, "If-Match": '"1"'})
    _, log, _ = api.call("GET", f"{path}/changes", headers=owner)
    latest, created = log["items"]
    assert latest["action"] == "updated" and latest["by"] == tenant.owner_id
    assert {(c["field"], c["old"], c["new"]) for c in latest["changes"]} == {
        ("last_name", "Alt", "Neu"),
        ("job_title", None, "CFO"),
    }
    assert created["action"] == "created"
    # Readable by whoever reads the contact, hidden otherwise.
    _, user = tenant.add_user("u@acme.example")
    assert api.call("GET", f"{path}/changes", headers=bearer(user))[0] == 404
    api.call("DELETE", path, headers=owner)
    _, kept, _ = api.call("GET", f"/v1/changes?entity=contact&record_id={contact['id']}", headers=owner)
    assert [e["action"] for e in kept["items"]] == ["deleted", "updated", "created"]


def test_deleting_a_contact_deletes_its_history(api, tenant, run_jobs):
    owner = bearer(tenant.owner_token)
    _, contact, _ = api.call("POST", "/v1/contacts", {"kind": "company", "company_name": "Acme"}, headers=owner)
    status, event, _ = api.call("POST", f"/v1/contacts/{contact['id']}/history", {"text": "Met at fair"}, headers=owner)
    assert status == 201
    api.call("DELETE", f"/v1/contacts/{contact['id']}", headers=owner)
    assert run_jobs()["failures"] == []
    assert api.call("GET", f"/v1/history/{event['id']}", headers=owner)[0] == 404


def test_a_new_tenant_offers_the_reference_default_tags(api, tenant):
    _, page, _ = api.call("GET", "/v1/tags?entity=contact", headers=bearer(tenant.owner_token))
    assert {t["name"]: t["count"] for t in page["items"]} == {"Customer": 0, "Lead": 0, "Staff": 0, "Supplier": 0}
    _, contact, _ = api.call(
        "POST",
        "/v1/contacts",
        {"kind": "company", "company_name": "X", "tags": ["lead"]},
        headers=bearer(tenant.owner_token),
    )
    assert contact["tags"] == ["Lead"], "an existing tag keeps its spelling"
