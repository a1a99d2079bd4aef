"""ADM-1 through the API: admins export everything as a ZIP of CSVs, users a
filtered list of what they can see; UTF-8 with BOM, formulas neutralised,
progress and the download on /v1/jobs/{id}; and an exported file imported
again with "update in place" changes nothing."""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import Api, Tenant, bearer
from tests.import_helpers import contacts, download_zip, export, read_csv, run_import


def seed(api: Api, owner: dict[str, str]) -> dict[str, Any]:
    status, field, _ = api.call(
        "POST", "/v1/custom-fields", {"entity": "contact", "label": "Birthday", "type": "date"}, headers=owner
    )
    assert status == 201, field
    status, flag, _ = api.call(
        "POST", "/v1/custom-fields", {"entity": "person", "label": "Newsletter", "type": "checkbox"}, headers=owner
    )
    assert status == 201, flag
    status, company, _ = api.call(
        "POST", "/v1/contacts", {"kind": "company", "company_name": "Müller GmbH", "tags": ["Customer"]}, headers=owner
    )
    assert status == 201, company
    status, anna, _ = api.call(
        "POST",
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "Anna",
            "last_name": "Müller",
            "job_title": "=CFO",
            "company_id": company["id"],
            "description": 'Zeile 1\nZeile 2, mit Komma; und "Zitat"',
            "tags": ["Lead", "A, B"],
            "access": "shared_read",
            "custom_fields": {field["id"]: "1980-05-17", flag["id"]: True},
            "details": [
                {"type": "email", "category": "work", "value": "anna@mueller.de"},
                {"type": "email", "category": "home", "value": "anna@example.org"},
                {"type": "phone", "category": "mobile", "value": "+49 171 2345678"},
                {"type": "website", "value": "mueller.de"},
                {"type": "social", "category": "linkedin", "value": "https://linkedin.com/in/anna"},
                {
                    "type": "address",
                    "category": "billing",
                    "value": {"street": "Königstr. 1\nHinterhaus", "city": "Berlin", "zip": "10115", "country": "DE"},
                },
                *[
                    {"type": "address", "category": "other", "value": {"city": f"Ort {n}"}}
                    for n in range(4)  # more addresses than the export has slots: "More Details"
                ],
            ],
        },
        headers=owner,
    )
    assert status == 201, anna
    status, deal, _ = api.call(
        "POST",
        "/v1/deals",
        {"title": "ERP rollout", "contact_id": anna["id"], "amount": "12000.00", "tags": ["Q4"]},
        headers=owner,
    )
    assert status == 201, deal
    status, task, _ = api.call(
        "POST",
        "/v1/tasks",
        {"title": "Call back", "contact_id": anna["id"], "due_at": "2026-12-01T15:00:00+01:00"},
        headers=owner,
    )
    assert status == 201, task
    status, case, _ = api.call(
        "POST", "/v1/cases", {"title": "Partner summit", "member_ids": [anna["id"]]}, headers=owner
    )
    assert status == 201, case
    status, note, _ = api.call(
        "POST", f"/v1/contacts/{anna['id']}/history", {"kind": "note", "text": "+1 for the offer"}, headers=owner
    )
    assert status == 201, note
    status, invoice, _ = api.call(
        "POST",
        "/v1/invoices",
        {"client_id": anna["id"], "lines": [{"title": "=Consulting", "quantity": "3", "price": "19.99"}]},
        headers=owner,
    )
    assert status == 201, invoice
    return {
        "anna": anna,
        "company": company,
        "deal": deal,
        "task": task,
        "case": case,
        "field": field,
        "flag": flag,
        "invoice": invoice,
    }


def test_admins_export_everything_as_a_zip_of_csv_files(api: Api, tenant: Tenant, run_queues: Any) -> None:
    owner = bearer(tenant.owner_token)
    seeded = seed(api, owner)
    job = export(api, owner, run_queues)
    assert (job["kind"], job["status"], job["percent"], job["total"], job["succeeded"]) == (
        "exports",
        "done",
        100,
        6,
        6,
    )
    assert job["result"]["rows"] == {"contacts": 2, "deals": 1, "tasks": 1, "cases": 1, "invoices": 1, "history": 1}
    assert "object_key" not in job["result"]
    archive = download_zip(job)
    assert archive.namelist() == ["contacts.csv", "deals.csv", "tasks.csv", "cases.csv", "invoices.csv", "history.csv"]
    (invoice,) = read_csv(archive, "invoices.csv")
    assert (invoice["ID"], invoice["Number"], invoice["Client ID"]) == (
        seeded["invoice"]["id"],
        seeded["invoice"]["number"],
        seeded["anna"]["id"],
    )
    assert (invoice["Status"], invoice["Net"], invoice["Total"]) == (
        "draft",
        "59.97",
        seeded["invoice"]["totals"]["total"],
    )
    assert '"title": "=Consulting"' in invoice["Lines"]  # JSON: starts with [, nothing to neutralise
    people = {row["ID"]: row for row in read_csv(archive, "contacts.csv")}
    anna = people[seeded["anna"]["id"]]
    assert (anna["First Name"], anna["Last Name"], anna["Organization Name"]) == ("Anna", "Müller", "Müller GmbH")
    assert anna["Organization Title"] == "'=CFO"  # a formula is neutralised
    assert anna["Phone 1 - Value"] == "'+491712345678"
    assert anna["Notes"] == 'Zeile 1\nZeile 2, mit Komma; und "Zitat"'
    assert (anna["E-mail 1 - Label"], anna["E-mail 1 - Value"]) == ("work", "anna@mueller.de")
    assert (anna["Address 1 - Label"], anna["Address 1 - Street"]) == ("billing", "Königstr. 1\nHinterhaus")
    assert (anna["Social 1 - Label"], anna["Social 1 - Value"]) == ("linkedin", "https://linkedin.com/in/anna")
    assert anna["Birthday (custom field)"] == "1980-05-17" and anna["Newsletter (custom field)"] == "true"
    assert '"city": "Ort 3"' in anna["More Details"]
    assert anna["Labels"] == "Lead ::: A, B" and anna["Access"] == "shared_read"
    assert anna["Managers"] == tenant.owner_email
    (deal,) = read_csv(archive, "deals.csv")
    assert (deal["Title"], deal["Amount"], deal["Stage"], deal["Contact ID"]) == (
        "ERP rollout",
        "12000.00",
        "Initial contact",
        seeded["anna"]["id"],
    )
    (task,) = read_csv(archive, "tasks.csv")
    assert (task["Title"], task["Due At"], task["Status"]) == ("Call back", "2026-12-01T14:00:00.000Z", "open")
    (case,) = read_csv(archive, "cases.csv")
    assert case["Member IDs"] == seeded["anna"]["id"]
    (event,) = read_csv(archive, "history.csv")
    assert (event["Record Kind"], event["Record ID"], event["Text"]) == (
        "contact",
        seeded["anna"]["id"],
        "'+1 for the offer",
    )


def test_a_user_exports_a_filtered_list_of_what_they_can_see(api: Api, tenant: Tenant, run_queues: Any) -> None:
    owner = bearer(tenant.owner_token)
    seed(api, owner)
    status, private, _ = api.call(
        "POST",
        "/v1/contacts",
        {"kind": "person", "first_name": "Pia", "last_name": "Privat", "tags": ["Lead"]},
        headers=owner,
    )
    assert status == 201
    _, token = tenant.add_user("ulla@acme.example")
    ulla = bearer(token)
    status, mine, _ = api.call(
        "POST",
        "/v1/contacts",
        {"kind": "person", "first_name": "Uwe", "last_name": "Eigen", "tags": ["Lead"]},
        headers=ulla,
    )
    assert status == 201
    job = export(api, ulla, run_queues, entities=["contacts"], filters={"contacts": {"tag": "Lead"}})
    names = [f"{r['First Name']} {r['Last Name']}" for r in read_csv(download_zip(job), "contacts.csv")]
    assert sorted(names) == ["Anna Müller", "Uwe Eigen"]  # the owner's private Pia is not there
    status, problem, _ = api.call("POST", "/v1/exports", {"entities": ["history"]}, headers=ulla)
    assert status == 403
    for bad in (
        {"entities": ["secrets"]},
        {"entities": ["contacts"], "filters": {"contacts": {"color": "red"}}},
        {"entities": ["contacts"], "filters": {"deals": {}}},
        {"entities": []},
    ):
        status, problem, _ = api.call("POST", "/v1/exports", bad, headers=ulla)
        assert status == 422, (bad, problem)
    default = export(api, ulla, run_queues)
    assert download_zip(default).namelist() == ["contacts.csv", "deals.csv", "tasks.csv", "cases.csv"]
    assert private


def test_an_export_job_is_visible_to_its_creator_and_admins_only(
    api: Api, tenant: Tenant, other_tenant: Tenant, run_queues: Any
) -> None:
    _, token = tenant.add_user("ulla@acme.example")
    status, started, _ = api.call("POST", "/v1/exports", {"entities": ["contacts"]}, headers=bearer(token))
    assert status == 202 and started["status_url"] == f"/v1/jobs/{started['job_id']}"
    _, other = tenant.add_user("otto@acme.example")
    for outsider in (bearer(other), bearer(other_tenant.owner_token)):
        status, _, _ = api.call("GET", started["status_url"], headers=outsider)
        assert status == 404
    status, job, _ = api.call("GET", started["status_url"], headers=bearer(tenant.owner_token))
    assert status == 200 and job["result"] is None  # not done yet: no download
    run_queues()
    status, job, _ = api.call("GET", started["status_url"], headers=bearer(token))
    assert job["status"] == "done" and requests.get(job["result"]["download_url"], timeout=10).status_code == 200


def test_an_exported_file_imported_again_with_update_in_place_changes_nothing(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    owner = bearer(tenant.owner_token)
    seed(api, owner)
    for n in range(5):
        api.call(
            "POST",
            "/v1/contacts",
            {
                "kind": "person",
                "first_name": f"Max {n}",
                "last_name": "Mustermann",
                "details": [
                    {"type": "email", "value": f"max{n}@example.de"},
                    {"type": "phone", "value": f"030 12345{n}"},
                ],
            },
            headers=owner,
        )
    before = {c["id"]: c for c in contacts(api, owner)}
    archive = download_zip(export(api, owner, run_queues, entities=["contacts", "deals", "tasks", "cases"]))
    for name, entity in (
        ("contacts.csv", "contacts"),
        ("deals.csv", "deals"),
        ("tasks.csv", "tasks"),
        ("cases.csv", "cases"),
    ):
        status = run_import(api, owner, run_queues, archive.read(name), entity, on_duplicate="update")
        rows = len(read_csv(archive, name))
        assert status["counts"] == {
            "created": 0,
            "updated": 0,
            "unchanged": rows,
            "skipped": 0,
            "failed": 0,
            "companies_created": 0,
        }, (name, status)
    after = {c["id"]: c for c in contacts(api, owner)}
    assert after == before
