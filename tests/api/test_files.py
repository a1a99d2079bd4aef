"""Files: presigned upload and download, limits, attachments to history (HIS-1, CAS-3).

moto in-process signs URLs but cannot be reached through urllib, so an
upload is simulated with boto3's put_object on the key the URL names.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from tests.api.test_history import _objects, _upload
from tests.conftest import bearer

BUCKET = "crm-test-files"


def new_file(api: Any, token: str, parent: str, *, kind: str = "contact", **body: Any) -> tuple[int, Any]:
    status, answer, _ = api.call(
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
    return status, answer


def meta(api: Any, token: str, file_id: str) -> tuple[int, Any]:
    status, body, _ = api.call("GET", f"/v1/files/{file_id}/meta", headers=bearer(token))
    return status, body


# ---- pure rules ----


# ---- upload ----


def test_upload_url_is_a_presigned_put_with_the_content_type_signed(api, tenant, fake_parents):
    user_id, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    status, created = new_file(api, token, contact, filename="reports/Q1 Angebot.pdf")
    assert status == 201, created
    assert created["filename"] == "Q1 Angebot.pdf" and created["status"] == "pending"
    assert (created["uploaded_by"], created["parent"], created["size"]) == (
        user_id,
        {"kind": "contact", "id": contact},
        13,
    )
    assert created["upload_method"] == "PUT" and created["expires_in"] == 300
    assert created["upload_headers"] == {"Content-Type": "application/pdf"}
    url = urlparse(created["upload_url"])
    assert unquote(url.path) == f"/{BUCKET}/t/{tenant.id}/files/{created['id']}"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["300"]
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")
    status, record = meta(api, token, created["id"])
    assert status == 200 and record["status"] == "pending" and "upload_url" not in record


def test_size_type_name_and_parent_are_checked(api, tenant, fake_parents):
    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    assert new_file(api, token, contact, size=10 * 1024 * 1024)[0] == 201
    status, body = new_file(api, token, contact, size=10 * 1024 * 1024 + 1)
    assert status == 413 and "10 MB" in body["detail"]
    assert new_file(api, token, contact, content_type="text/html")[0] == 415
    assert new_file(api, token, contact, content_type="image/svg+xml")[0] == 415
    assert new_file(api, token, contact, size=0)[0] == 422
    assert new_file(api, token, contact, filename="../")[0] == 422
    assert new_file(api, token, contact, bucket="elsewhere")[0] == 422
    assert new_file(api, token, contact, kind="invoice")[0] == 422
    assert new_file(api, token, "no-such-contact")[0] == 404
    assert new_file(api, token, contact, kind="case")[0] == 404
    status, csv = new_file(api, token, contact, filename="list.csv", content_type="text/csv;charset=UTF-8")
    assert status == 201 and csv["upload_headers"] == {"Content-Type": "text/csv; charset=utf-8"}


def test_files_of_a_hidden_parent_do_not_exist_for_the_caller(api, tenant, fake_parents):
    manager_id, manager = tenant.add_user("m@acme.example")
    _, outsider = tenant.add_user("o@acme.example")
    private = fake_parents.add(tenant.id, managers=(manager_id,), share="private")
    assert new_file(api, outsider, private)[0] == 404
    _, created = new_file(api, manager, private)
    _upload(tenant.id, created["id"])
    unknown = api.call("GET", "/v1/files/01HZZZZZZZZZZZZZZZZZZZZZZZ", headers=bearer(outsider))
    for path in (f"/v1/files/{created['id']}", f"/v1/files/{created['id']}/meta"):
        status, body, _ = api.call("GET", path, headers=bearer(outsider))
        assert (status, body) == (404, unknown[1]), "indistinguishable from a file that does not exist"
    assert api.call("GET", f"/v1/contacts/{private}/files", headers=bearer(outsider))[0] == 404
    assert api.call("GET", f"/v1/files/{created['id']}", headers=bearer(manager))[0] == 302
    assert api.call("GET", f"/v1/files/{created['id']}", headers=bearer(tenant.owner_token))[0] == 302


# ---- download ----


def test_download_redirects_to_a_presigned_get_once_uploaded(api, tenant, fake_parents):
    _, token = tenant.add_user("u@acme.example")
    _, reader = tenant.add_user("r@acme.example")
    contact = fake_parents.add(tenant.id, share="shared_read")
    _, created = new_file(api, token, contact, filename="Müller Angebot.pdf")
    status, body, _ = api.call("GET", f"/v1/files/{created['id']}", headers=bearer(token))
    assert status == 409 and "not been uploaded" in body["detail"]

    _upload(tenant.id, created["id"], b"%PDF-1.7 hello")
    status, body, headers = api.call("GET", f"/v1/files/{created['id']}", headers=bearer(reader))
    assert status == 302 and headers["cache-control"] == "no-store"
    location = urlparse(headers["location"])
    assert unquote(location.path) == f"/{BUCKET}/t/{tenant.id}/files/{created['id']}"
    query = parse_qs(location.query)
    assert query["response-content-disposition"] == ['attachment; filename="Muller Angebot.pdf"']
    assert query["X-Amz-Expires"] == ["300"]
    status, record = meta(api, reader, created["id"])
    assert (record["status"], record["size"], record["filename"]) == ("uploaded", 14, "Müller Angebot.pdf")
    assert record["version"] == 2


@pytest.mark.parametrize(
    "data, content_type, problem",
    [
        (b"", "application/pdf", "empty"),
        (b"<html>", "text/html", "Content-Type"),
    ],
)
def test_a_broken_upload_is_discarded_and_says_why(api, tenant, fake_parents, data, content_type, problem):
    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    _, created = new_file(api, token, contact)
    _upload(tenant.id, created["id"], data, content_type)
    status, record = meta(api, token, created["id"])
    assert record["status"] == "pending" and problem in record["problem"]
    assert _objects(tenant.id) == [], "the object is gone"
    status, body, _ = api.call("GET", f"/v1/files/{created['id']}", headers=bearer(token))
    assert status == 409 and problem in body["detail"]
    # A proper upload (with a fresh file) goes through.
    _, again = new_file(api, token, contact)
    _upload(tenant.id, again["id"])
    assert meta(api, token, again["id"])[1]["status"] == "uploaded"


# ---- attachments ----


def test_history_events_attach_uploaded_files_of_the_same_record(api, tenant, other_tenant, fake_parents):
    _, token = tenant.add_user("u@acme.example")
    contact, other = fake_parents.add(tenant.id), fake_parents.add(tenant.id)
    _, pending = new_file(api, token, contact)
    _, uploaded = new_file(api, token, contact)
    _upload(tenant.id, uploaded["id"])
    _, elsewhere = new_file(api, token, other)
    _upload(tenant.id, elsewhere["id"])
    b_contact = fake_parents.add(other_tenant.id)
    _, foreign = new_file(api, other_tenant.owner_token, b_contact)
    _upload(other_tenant.id, foreign["id"])

    def attach(*file_ids: str) -> tuple[int, Any]:
        status, body, _ = api.call(
            "POST",
            f"/v1/contacts/{contact}/history",
            {"text": "see file", "file_ids": list(file_ids)},
            headers=bearer(token),
        )
        return status, body

    status, body = attach(pending["id"])
    assert status == 422 and body["errors"] == [{"field": "file_ids", "message": f"{pending['id']}: not uploaded yet"}]
    for wrong in (elsewhere["id"], foreign["id"], "01HZZZZZZZZZZZZZZZZZZZZZZZ"):
        status, body = attach(uploaded["id"], wrong)
        assert status == 422 and body["errors"][0]["message"].startswith(f"{wrong}: no such file")
    status, event = attach(uploaded["id"], uploaded["id"])
    assert status == 201 and event["file_ids"] == [uploaded["id"]]
    # PATCH checks the new list the same way.
    path = f"/v1/history/{event['id']}"
    assert (
        api.call("PATCH", path, {"file_ids": [elsewhere["id"]]}, headers=bearer(token, **{"If-Match": '"1"'}))[0] == 422
    )
    _upload(tenant.id, pending["id"])
    status, changed, _ = api.call(
        "PATCH", path, {"file_ids": [pending["id"], uploaded["id"]]}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 200 and changed["file_ids"] == [pending["id"], uploaded["id"]]
    # Deleting the event leaves the files with the record (CAS-3 documents).
    assert api.call("DELETE", path, headers=bearer(token))[0] == 204
    assert meta(api, token, uploaded["id"])[0] == 200


def test_a_records_files_are_listed_newest_first(api, tenant, fake_parents):
    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    made = [new_file(api, token, contact, filename=f"f{n}.pdf")[1]["id"] for n in range(3)]
    status, page, _ = api.call("GET", f"/v1/contacts/{contact}/files?limit=2", headers=bearer(token))
    assert status == 200 and [f["id"] for f in page["items"]] == [made[2], made[1]]
    status, rest, _ = api.call(
        "GET", f"/v1/contacts/{contact}/files?limit=2&cursor={page['next_cursor']}", headers=bearer(token)
    )
    assert [f["id"] for f in rest["items"]] == [made[0]] and rest["next_cursor"] is None


# ---- tenants ----


def test_files_stay_with_their_tenant(api, tenant, other_tenant, fake_parents):
    _, token = tenant.add_user("u@acme.example")
    contact = fake_parents.add(tenant.id)
    for _ in range(3):
        _, created = new_file(api, token, contact)
    _upload(tenant.id, created["id"])
    b = other_tenant.owner_token
    assert api.call("GET", f"/v1/files/{created['id']}", headers=bearer(b))[0] == 404
    assert meta(api, b, created["id"])[0] == 404
    assert new_file(api, b, contact)[0] == 404, "B cannot hang a file on A's record"
    assert api.call("GET", f"/v1/contacts/{contact}/files", headers=bearer(b))[0] == 404
    fake_parents.add(other_tenant.id, record_id=contact)  # B's own record with the same id
    assert api.call("GET", f"/v1/contacts/{contact}/files", headers=bearer(b))[1]["items"] == []
    page = api.call("GET", f"/v1/contacts/{contact}/files?limit=2", headers=bearer(token))[1]
    assert (
        api.call("GET", f"/v1/contacts/{contact}/files?limit=2&cursor={page['next_cursor']}", headers=bearer(b))[0]
        == 400
    )


def test_openapi_describes_the_file_endpoints(api):
    spec = api.call("GET", "/openapi.json")[1]
    assert "302" in spec["paths"]["/v1/files/{file_id}"]["get"]["responses"]
    assert "201" in spec["paths"]["/v1/files"]["post"]["responses"]
    found = [schema for name, schema in spec["components"]["schemas"].items() if name.endswith("NewFile")]
    assert found and all(schema["additionalProperties"] is False for schema in found)
    assert "get" in spec["paths"]["/v1/cases/{case_id}/files"]
