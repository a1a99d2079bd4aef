"""HTTP semantics of every import endpoint (API.md "Data in and out"):
status codes, problem+json, shapes, access and tenants."""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import Api, Tenant, bearer
from tests.import_helpers import csv_bytes, errors_report, preview, start, upload

PEOPLE = csv_bytes([["Vorname", "Nachname", "E-Mail"], ["Anna", "Lang", "anna@x.de"], ["Bob", "", "bob@x.de"]])


def test_post_imports_answers_a_presigned_upload_that_takes_the_file(api: Api, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_token)
    status, body, headers = api.call("POST", "/v1/imports", {"entity": "contacts", "filename": "p.csv"}, headers=owner)
    assert status == 201
    assert set(body) >= {"id", "upload_url", "upload_headers", "expires_in", "status", "status_url"}
    assert body["upload_headers"] == {"Content-Type": "text/csv"} and body["status"] == "created"
    assert body["upload_method"] == "PUT" and body["expires_in"] == 900
    assert requests.put(body["upload_url"], data=PEOPLE, headers=body["upload_headers"], timeout=10).status_code == 200
    assert f"/t/{tenant.id}/" in body["upload_url"]  # every object key starts with the tenant


def test_post_imports_validates_its_body(api: Api, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_token)
    for bad in (
        {"entity": "invoices", "filename": "x.csv"},
        {"entity": "contacts"},
        {"entity": "contacts", "filename": "a\x07b"},
    ):
        status, body, headers = api.call("POST", "/v1/imports", bad, headers=owner)
        assert status == 422 and headers["content-type"] == "application/problem+json", body
    status, _, _ = api.call("POST", "/v1/imports", {"entity": "contacts", "filename": "x.csv"})
    assert status == 401


def test_preview_answers_encoding_delimiter_columns_samples_and_the_suggested_mapping(api: Api, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_token)
    import_id = upload(
        api,
        owner,
        csv_bytes([["Vorname", "Nachname", "E-Mail"], ["Jürgen", "Groß", "j@x.de"]], encoding="cp1252", delimiter=";"),
    )
    body = preview(api, owner, import_id)
    assert (body["encoding"], body["delimiter"], body["has_header"]) == ("iso-8859-1", ";", True)
    assert body["columns"] == [
        {"index": 0, "header": "Vorname", "samples": ["Jürgen"]},
        {"index": 1, "header": "Nachname", "samples": ["Groß"]},
        {"index": 2, "header": "E-Mail", "samples": ["j@x.de"]},
    ]
    assert [(m["column"], m["field"]) for m in body["suggested_mapping"]] == [
        (0, "first_name"),
        (1, "last_name"),
        (2, "email"),
    ]
    assert {"field": "custom_field", "description": "A custom field's value (custom_field_id)"} in body["targets"]
    overridden = preview(api, owner, import_id, "?encoding=windows-1252&delimiter=tab&has_header=false")
    assert (overridden["encoding"], overridden["delimiter"], overridden["has_header"]) == ("windows-1252", "\t", False)


def test_preview_before_the_upload_is_a_conflict_and_unreadable_files_are_422(api: Api, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_token)
    _, created, _ = api.call("POST", "/v1/imports", {"entity": "contacts", "filename": "p.csv"}, headers=owner)
    status, body, _ = api.call("GET", f"/v1/imports/{created['id']}/preview", headers=owner)
    assert status == 409 and "upload" in body["detail"]
    for data, reason in (
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 50, "Excel workbook"),
        (b"Vorname,Nachname\r\n", "header but no rows"),
        (bytes(range(256)) * 4, "binary"),
    ):
        import_id = upload(api, owner, data)
        status, body, headers = api.call("GET", f"/v1/imports/{import_id}/preview", headers=owner)
        assert status == 422 and reason in body["detail"], body
        assert headers["content-type"] == "application/problem+json"
    status, body, _ = api.call("GET", f"/v1/imports/{import_id}/preview?delimiter=x", headers=owner)
    assert status == 422


def test_an_empty_upload_is_named_as_such(api: Api, tenant: Tenant) -> None:
    """moto's server stores an empty object for a presigned PUT without its Content-Type."""
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.imports import upload_key

    owner = bearer(tenant.owner_token)
    _, created, _ = api.call("POST", "/v1/imports", {"entity": "contacts", "filename": "p.csv"}, headers=owner)
    client("s3").put_object(Bucket="crm-test-files", Key=upload_key(tenant.id, created["id"]), Body=b"")
    status, body, _ = api.call("GET", f"/v1/imports/{created['id']}/preview", headers=owner)
    assert status == 422 and "upload_headers" in body["detail"]


def test_start_runs_the_import_and_its_status_shows_percent_and_counts(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    owner = bearer(tenant.owner_token)
    import_id = upload(api, owner, PEOPLE)
    body = start(api, owner, import_id)
    assert body["status"] == "queued" and body["status_url"] == f"/v1/imports/{import_id}"
    assert body["errors_url"] is None
    status, again, _ = api.call(
        "POST", f"/v1/imports/{import_id}/start", {"mapping": [{"column": 0, "field": "first_name"}]}, headers=owner
    )
    assert status == 409
    run_queues()
    status, done, headers = api.call("GET", f"/v1/imports/{import_id}", headers=owner)
    assert status == 200
    assert (done["status"], done["percent"], done["rows"]) == ("done", 100, 2)
    assert done["counts"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
        "companies_created": 0,
    }
    assert done["errors_url"] == f"/v1/imports/{import_id}/errors" and done["finished_at"]
    assert done["outcome"] == "finished"  # written with finished_at: what an "import finished" event reads
    report = errors_report(api, owner, import_id)
    assert report[1][:2] == [
        "3",
        "last_name: A person needs a first and a last name (or a company name for a company).",
    ]
    assert report[1][2:] == ["Bob", "", "bob@x.de"]


def test_start_refuses_mappings_that_do_not_fit_with_422(api: Api, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_token)
    import_id = upload(api, owner, PEOPLE)
    for request in (
        {"mapping": []},
        {"mapping": [{"column": 9, "field": "email"}]},
        {"mapping": [{"column": 0, "field": "favourite_colour"}]},
        {"mapping": [{"column": 0, "field": "custom_field", "custom_field_id": "nope"}]},
        {"mapping": [{"column": 2, "field": "email"}], "on_duplicate": "merge"},
        {"mapping": [{"column": 2, "field": "email"}], "unknown": 1},
    ):
        status, body, _ = api.call("POST", f"/v1/imports/{import_id}/start", request, headers=owner)
        assert status == 422, (request, body)
        assert body["errors"], body


def test_errors_before_the_end_is_a_conflict_and_cancel_after_it_too(api: Api, tenant: Tenant, run_queues: Any) -> None:
    owner = bearer(tenant.owner_token)
    import_id = upload(api, owner, PEOPLE)
    start(api, owner, import_id)
    status, body, _ = api.call("GET", f"/v1/imports/{import_id}/errors", headers=owner)
    assert status == 409
    run_queues()
    status, body, _ = api.call("POST", f"/v1/imports/{import_id}/cancel", headers=owner)
    assert status == 409


def test_cancel_before_the_start_ends_the_import(api: Api, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_token)
    import_id = upload(api, owner, PEOPLE)
    status, body, _ = api.call("POST", f"/v1/imports/{import_id}/cancel", headers=owner)
    assert status == 200 and body["status"] == "cancelled" and body["errors_url"]
    assert body["outcome"] == "cancelled" and body["finished_at"]
    status, body, _ = api.call(
        "POST", f"/v1/imports/{import_id}/start", {"mapping": [{"column": 0, "field": "first_name"}]}, headers=owner
    )
    assert status == 409


def test_start_and_cancel_retried_with_the_same_idempotency_key_replay_and_queue_one_run(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    owner = bearer(tenant.owner_token)
    import_id = upload(api, owner, PEOPLE)
    mapping = preview(api, owner, import_id)["suggested_mapping"]
    retry = bearer(tenant.owner_token, **{"Idempotency-Key": "start-1"})
    first = api.call("POST", f"/v1/imports/{import_id}/start", {"mapping": mapping}, headers=retry)
    second = api.call("POST", f"/v1/imports/{import_id}/start", {"mapping": mapping}, headers=retry)
    assert first[0] == second[0] == 202 and first[1] == second[1]
    assert second[2].get("idempotent-replayed") == "true"
    assert run_queues()["failures"] == []
    _, done, _ = api.call("GET", f"/v1/imports/{import_id}", headers=owner)
    assert done["counts"]["created"] == 1 and done["rows"] == 2  # one run, not two

    other = upload(api, owner, PEOPLE)
    retry = bearer(tenant.owner_token, **{"Idempotency-Key": "cancel-1"})
    first = api.call("POST", f"/v1/imports/{other}/cancel", headers=retry)
    second = api.call("POST", f"/v1/imports/{other}/cancel", headers=retry)
    assert first[0] == second[0] == 200 and first[1] == second[1]
    assert second[2].get("idempotent-replayed") == "true"


def test_imports_are_private_to_their_creator_and_admins_and_to_their_tenant(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    _, user_token = tenant.add_user("ulla@acme.example")
    _, admin_token = tenant.add_user("adam@acme.example", role="admin")
    import_id = upload(api, bearer(user_token), PEOPLE)
    for outsider in (bearer(tenant.add_user("otto@acme.example")[1]), bearer(other_tenant.owner_token)):
        for method, path in (
            ("GET", ""),
            ("GET", "/preview"),
            ("GET", "/errors"),
            ("POST", "/cancel"),
            ("POST", "/start"),
        ):
            body = {"mapping": [{"column": 0, "field": "first_name"}]} if path == "/start" else None
            status, answer, _ = api.call(method, f"/v1/imports/{import_id}{path}", body, headers=outsider)
            assert status == 404, (path, answer)
    status, seen, _ = api.call("GET", f"/v1/imports/{import_id}", headers=bearer(admin_token))
    assert status == 200 and seen["id"] == import_id


def test_the_openapi_document_lists_every_import_and_export_path(api: Api) -> None:
    status, spec, _ = api.call("GET", "/openapi.json")
    assert status == 200
    paths = spec["paths"]
    assert {"post"} <= set(paths["/v1/imports"])
    for path in ("/v1/imports/{import_id}", "/v1/imports/{import_id}/preview", "/v1/imports/{import_id}/errors"):
        assert "get" in paths[path], path
    for path in ("/v1/imports/{import_id}/start", "/v1/imports/{import_id}/cancel", "/v1/exports"):
        assert "post" in paths[path], path
