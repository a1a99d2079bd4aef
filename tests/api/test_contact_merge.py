"""Merging one contact into another: the survivor gains, ``from`` goes."""

import io

import pytest
from PIL import Image

from chalicelib.bootstrap import container
from chalicelib.storage.contacts.photos import photo_key
from tests.conftest import bearer


def create(api, token, body):
    status, contact, _ = api.call("POST", "/v1/contacts", body, headers=bearer(token))
    assert status == 201, contact
    return contact


def person(first, last="Müller", **fields):
    return {"kind": "person", "first_name": first, "last_name": last, **fields}


def merge(api, token, from_id, into_id, **headers):
    return api.call(
        "POST", "/v1/contacts/merge", {"from_id": from_id, "into_id": into_id}, headers=bearer(token, **headers)
    )


def get(api, token, contact_id):
    return api.call("GET", f"/v1/contacts/{contact_id}", headers=bearer(token))


def history(api, token, contact_id):
    status, page, _ = api.call("GET", f"/v1/contacts/{contact_id}/history", headers=bearer(token))
    assert status == 200, page
    return page["items"]


def put_photo(api, token, contact_id):
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, "PNG")
    response = api.client.http.put(
        f"/v1/contacts/{contact_id}/photo",
        body=out.getvalue(),
        headers={"authorization": f"Bearer {token}", "content-type": "image/png"},
    )
    assert response.status_code == 200, response.body


def photo_exists(tenant_id, contact_id):
    from chalicelib.storage.dynamo.aws import client

    s3 = client("s3")
    try:
        s3.head_object(Bucket="crm-test-files", Key=photo_key(tenant_id, contact_id))
    except s3.exceptions.ClientError:
        return False
    return True


@pytest.fixture
def user(tenant):
    return tenant.add_user("user@acme.example")


@pytest.fixture
def shoe_size(api, tenant):
    status, field, _ = api.call(
        "POST",
        "/v1/custom-fields",
        {"entity": "person", "label": "Shoe size", "type": "text"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 201, field
    return field["id"]


def test_two_persons_become_one(api, tenant, user, shoe_size, run_jobs):
    owner = tenant.owner_token
    user_id, _ = user
    company = create(api, owner, {"kind": "company", "company_name": "Acme GmbH"})
    into = create(
        api,
        owner,
        person(
            "Anna",
            tags=["prospect"],
            description="Met at CeBIT",
            details=[
                {"type": "email", "value": "anna@example.de", "primary": True},
                {"type": "phone", "value": "+49 30 1234567"},
            ],
        ),
    )
    source = create(
        api,
        owner,
        person(
            "Anna",
            "Mueller",
            tags=["Prospect", "VIP"],
            job_title="CFO",
            currency="CHF",
            company_id=company["id"],
            description="other text",
            managers=[tenant.owner_id, user_id],
            custom_fields={shoe_size: "38"},
            details=[
                {"type": "email", "value": "Anna@Example.DE", "primary": True},
                {"type": "email", "value": "anna.private@example.org"},
                {"type": "phone", "value": "030 1234567"},
                {"type": "website", "value": "anna.example"},
            ],
        ),
    )
    api.call("POST", f"/v1/contacts/{source['id']}/history", {"text": "Called about the offer"}, headers=bearer(owner))

    status, survivor, headers = merge(api, owner, source["id"], into["id"])
    assert status == 200, survivor
    assert survivor["id"] == into["id"] and headers["etag"] == f'"{survivor["version"]}"'
    assert (survivor["first_name"], survivor["last_name"]) == ("Anna", "Müller"), "the survivor keeps its names"
    assert survivor["description"] == "Met at CeBIT", "filled only when empty"
    assert (survivor["job_title"], survivor["currency"], survivor["company_id"]) == ("CFO", "CHF", company["id"])
    assert survivor["tags"] == ["prospect", "VIP"], "union, de-duplicated ignoring case, the survivor's spelling"
    assert survivor["managers"] == [tenant.owner_id, user_id]
    assert survivor["custom_fields"] == {shoe_size: "38"}
    details = [(d["type"], d["value"], d["primary"]) for d in survivor["details"]]
    assert details == [
        ("email", "anna@example.de", True),
        ("phone", "+49301234567", True),
        ("email", "anna.private@example.org", False),
        ("website", "https://anna.example", True),
    ]

    assert get(api, owner, source["id"])[0] == 404, "from is deleted"
    assert run_jobs()["failures"] == []
    texts = [e["text"] for e in history(api, owner, into["id"])]
    assert "Called about the offer" in texts, "from's history moved to the survivor"
    assert sum(1 for t in texts if t.startswith("Merged Anna Mueller")) == 1, "one event records the merge"
    by_email = api.call("GET", "/v1/contacts?q=anna.private", headers=bearer(owner))[1]["items"]
    assert [c["id"] for c in by_email] == [into["id"]], "the survivor is found by from's e-mail"


def test_custom_values_of_the_survivor_win(api, tenant, shoe_size):
    owner = tenant.owner_token
    into = create(api, owner, person("Anna", custom_fields={shoe_size: "39"}))
    source = create(api, owner, person("Bert", custom_fields={shoe_size: "44"}))
    status, survivor, _ = merge(api, owner, source["id"], into["id"])
    assert status == 200 and survivor["custom_fields"] == {shoe_size: "39"}


def test_companies_take_over_persons_and_the_photo(api, tenant, run_jobs):
    owner = tenant.owner_token
    into = create(api, owner, {"kind": "company", "company_name": "Acme GmbH"})
    source = create(api, owner, {"kind": "company", "company_name": "ACME"})
    staff = [create(api, owner, person(name, company_id=source["id"]))["id"] for name in ("Anna", "Bert")]
    put_photo(api, owner, source["id"])
    status, survivor, _ = merge(api, owner, source["id"], into["id"])
    assert status == 200 and survivor["has_photo"] is True
    persons = api.call("GET", f"/v1/contacts/{into['id']}/persons", headers=bearer(owner))[1]["items"]
    assert sorted(p["id"] for p in persons) == sorted(staff)
    assert run_jobs()["failures"] == []
    assert photo_exists(tenant.id, into["id"]) and not photo_exists(tenant.id, source["id"])
    response = api.client.http.get(f"/v1/contacts/{into['id']}/photo", headers={"authorization": f"Bearer {owner}"})
    assert response.status_code == 302
    assert all(get(api, owner, p)[1]["company_id"] == into["id"] for p in staff), "the cascade unlinked nobody"


def test_the_survivor_keeps_its_own_photo(api, tenant):
    owner = tenant.owner_token
    into, source = create(api, owner, person("Anna")), create(api, owner, person("Bert"))
    put_photo(api, owner, into["id"])
    put_photo(api, owner, source["id"])
    from chalicelib.storage.dynamo.aws import client

    before = client("s3").head_object(Bucket="crm-test-files", Key=photo_key(tenant.id, into["id"]))["ETag"]
    assert merge(api, owner, source["id"], into["id"])[0] == 200
    after = client("s3").head_object(Bucket="crm-test-files", Key=photo_key(tenant.id, into["id"]))["ETag"]
    assert before == after


def test_kinds_must_match_and_a_contact_is_not_merged_into_itself(api, tenant):
    owner = tenant.owner_token
    anna = create(api, owner, person("Anna"))
    acme = create(api, owner, {"kind": "company", "company_name": "Acme"})
    status, problem, _ = merge(api, owner, anna["id"], acme["id"])
    assert status == 422 and problem["errors"][0]["field"] == "into_id"
    assert merge(api, owner, anna["id"], anna["id"])[0] == 422
    assert get(api, owner, anna["id"])[0] == 200 and get(api, owner, acme["id"])[0] == 200
    status, problem, _ = api.call("POST", "/v1/contacts/merge", {"from_id": anna["id"]}, headers=bearer(owner))
    assert status == 422 and problem["errors"][0]["field"] == "into_id"
    assert (
        api.call("POST", "/v1/contacts/merge", {"from_id": "a", "into_id": "b", "keep": "both"}, headers=bearer(owner))[
            0
        ]
        == 422
    )


def test_access_delete_on_from_write_on_into(api, tenant, user):
    owner = tenant.owner_token
    user_id, token = user
    own = create(api, token, person("Own"))
    own_too = create(api, token, person("Own2"))
    hidden = create(api, owner, person("Hidden"))
    writable = create(api, owner, person("Writable", access="shared_write"))
    readable = create(api, owner, person("Readable", access="shared_read"))
    assert merge(api, token, hidden["id"], own["id"])[0] == 404
    assert merge(api, token, own["id"], hidden["id"])[0] == 404
    assert merge(api, token, writable["id"], own["id"])[0] == 403, "writing is not deleting"
    assert merge(api, token, own["id"], readable["id"])[0] == 403, "reading is not writing"
    # Into is writable, but merging would add the user as its manager: that changes access.
    status, problem, _ = merge(api, token, own["id"], writable["id"])
    assert status == 403 and "access" in problem["detail"]
    for contact in (own, hidden, writable, readable):
        assert get(api, owner, contact["id"])[1]["version"] == contact["version"], "nothing changed"
    status, survivor, _ = merge(api, token, own_too["id"], own["id"])
    assert status == 200 and get(api, token, own_too["id"])[0] == 404


def test_limits_hold_and_nothing_changes(api, tenant):
    owner = tenant.owner_token
    into = create(api, owner, person("Anna", tags=[f"a{n}" for n in range(6)]))
    source = create(api, owner, person("Bert", tags=[f"b{n}" for n in range(6)]))
    status, problem, _ = merge(api, owner, source["id"], into["id"])
    assert status == 422 and problem["errors"][0]["field"] == "tags"
    assert get(api, owner, into["id"])[1]["version"] == into["version"]
    assert get(api, owner, source["id"])[0] == 200


def test_if_match_names_the_survivors_version(api, tenant):
    owner = tenant.owner_token
    into, source = create(api, owner, person("Anna")), create(api, owner, person("Bert"))
    assert merge(api, owner, source["id"], into["id"], **{"If-Match": '"9"'})[0] == 412
    assert get(api, owner, source["id"])[0] == 200
    assert merge(api, owner, source["id"], into["id"], **{"If-Match": f'"{into["version"]}"'})[0] == 200


def test_a_contact_that_may_not_be_deleted_is_not_merged(api, tenant, monkeypatch):
    owner = tenant.owner_token
    into, source = create(api, owner, person("Anna")), create(api, owner, person("Bert", job_title="CEO"))
    container().override(
        delete_guards=(
            lambda principal, kind, record_id: ["invoice INV0000001 names it"] if record_id == source["id"] else [],
        )
    )
    status, problem, _ = merge(api, owner, source["id"], into["id"])
    assert status == 409 and "INV0000001" in problem["detail"]
    assert get(api, owner, into["id"])[1]["job_title"] is None, "checked before anything changed"


def test_a_merge_stopped_half_way_completes_when_sent_again(api, tenant, monkeypatch, run_jobs):
    """The survivor was updated and the history moved, then the deletion
    failed: sending the merge again finishes it without losing anything."""
    from chalicelib.bootstrap import container

    owner = tenant.owner_token
    into = create(api, owner, person("Anna", tags=["A"]))
    source = create(api, owner, person("Bert", tags=["B"]))
    api.call("POST", f"/v1/contacts/{source['id']}/history", {"text": "Keep me"}, headers=bearer(owner))
    contacts = container().contacts
    real_delete = contacts.delete

    def broken_delete(*args, **kwargs):
        from chalicelib.domain.shared.errors import TemporarilyUnavailable

        raise TemporarilyUnavailable("The database is busy; please retry.")

    monkeypatch.setattr(contacts, "delete", broken_delete)
    assert merge(api, owner, source["id"], into["id"])[0] == 503
    assert get(api, owner, source["id"])[0] == 200
    monkeypatch.setattr(contacts, "delete", real_delete)
    status, survivor, _ = merge(api, owner, source["id"], into["id"])
    assert status == 200 and survivor["tags"] == ["A", "B"]
    assert run_jobs()["failures"] == []
    texts = [e["text"] for e in history(api, owner, into["id"])]
    assert "Keep me" in texts and sum(t.startswith("Merged Bert") for t in texts) == 1


def test_another_tenant_cannot_merge(api, tenant, other_tenant):
    owner = tenant.owner_token
    into, source = create(api, owner, person("Anna")), create(api, owner, person("Bert"))
    theirs = create(api, other_tenant.owner_token, person("Carl"))
    assert merge(api, other_tenant.owner_token, source["id"], into["id"])[0] == 404
    assert merge(api, other_tenant.owner_token, source["id"], theirs["id"])[0] == 404
    assert merge(api, owner, theirs["id"], into["id"])[0] == 404
    assert get(api, owner, source["id"])[0] == 200


def test_merge_is_documented(api):
    _, spec, _ = api.call("GET", "/openapi.json")
    operation = spec["paths"]["/v1/contacts/merge"]["post"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("ContactView")
    assert spec["components"]["schemas"]["MergeRequest"]["additionalProperties"] is False
