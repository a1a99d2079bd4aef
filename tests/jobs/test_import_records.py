"""IMP-1: deals, tasks and cases imported through their own services:
names resolved as a user picks them, external ids, update in place (a
deal's stage through the stage change, a case's state through close)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, Tenant, bearer
from tests.import_helpers import csv_bytes, errors_report, run_import


def test_deals_with_stage_contact_responsible_and_amounts_in_either_writing(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    owner = bearer(tenant.owner_token)
    user_id, _ = tenant.add_user("vera@acme.example")
    _, anna, _ = api.call(
        "POST",
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "Anna",
            "last_name": "Lang",
            "details": [{"type": "email", "value": "anna@x.de"}],
        },
        headers=owner,
    )
    data = csv_bytes(
        [
            [
                "Titel",
                "Betrag",
                "Währung",
                "Phase",
                "Verantwortlich",
                "Kontakt",
                "Abschlussdatum",
                "External ID",
                "Tags",
            ],
            ["ERP", "12.000,50", "EUR", "Proposal", "vera@acme.example", "anna@x.de", "31.01.2027", "SF-1", "Q1"],
            ["CRM", "1,234.5", "USD", "Closed won", "", anna["id"], "2027-02-28", "SF-2", ""],
            ["Bad", "zwölf", "EUR", "", "", "", "", "SF-3", ""],
            ["Worse", "", "", "No such stage", "", "", "", "SF-4", ""],
        ],
        delimiter=";",
    )
    status = run_import(api, owner, run_queues, data, "deals")
    assert (status["counts"]["created"], status["counts"]["failed"]) == (2, 2), status
    reasons = [row[1] for row in errors_report(api, owner, status["id"])[1:]]
    assert "not an amount" in reasons[0] and "No such stage" in reasons[1]
    _, deals, _ = api.call("GET", "/v1/deals", headers=owner)
    erp = next(d for d in deals["items"] if d["title"] == "ERP")
    assert (erp["amount"], erp["currency"], erp["probability"]) == ("12000.50", "EUR", 75)
    assert (erp["responsible_id"], erp["contact_id"], erp["expected_close_date"]) == (user_id, anna["id"], "2027-01-31")
    crm = next(d for d in deals["items"] if d["title"] == "CRM")
    assert (crm["amount"], crm["stage_status"], crm["actual_close_date"] is not None) == ("1234.5", "won", True)

    moved = csv_bytes([["External ID", "Phase", "Betrag"], ["SF-1", "Negotiations", "12000.50"]])
    again = run_import(api, owner, run_queues, moved, "deals", match_on=["external_id"], on_duplicate="update")
    assert again["counts"]["updated"] == 1
    _, erp_after, _ = api.call("GET", f"/v1/deals/{erp['id']}", headers=owner)
    assert (erp_after["probability"], erp_after["amount"]) == (90, "12000.50")
    _, history, _ = api.call("GET", f"/v1/deals/{erp['id']}/history", headers=owner)
    assert "Negotiations" in history["items"][0]["text"]
    unchanged = run_import(api, owner, run_queues, moved, "deals", match_on=["external_id"], on_duplicate="update")
    assert unchanged["counts"]["unchanged"] == 1


def test_tasks_with_dates_categories_and_links(api: Api, tenant: Tenant, run_queues: Any) -> None:
    owner = bearer(tenant.owner_token)
    _, anna, _ = api.call(
        "POST", "/v1/contacts", {"kind": "person", "first_name": "Anna", "last_name": "Lang"}, headers=owner
    )
    data = csv_bytes(
        [
            ["Title", "Due", "Category", "Contact ID", "Status", "Reminder Minutes"],
            ["Call Anna", "2026-12-01", "Phone call", anna["id"], "open", "60"],
            ["Send offer", "2026-12-02T10:30:00+01:00", "E-mail", "", "closed", "0"],
            ["No date", "", "", "", "", ""],
            ["Bad reminder", "2026-12-03", "", "", "", "7"],
        ]
    )
    status = run_import(api, owner, run_queues, data, "tasks")
    assert (status["counts"]["created"], status["counts"]["failed"]) == (2, 2), status
    _, tasks, _ = api.call("GET", "/v1/tasks", headers=owner)
    call = next(t for t in tasks["items"] if t["title"] == "Call Anna")
    assert (call["due_at"], call["contact_id"], call["remind_minutes"]) == ("2026-12-01T09:00:00Z", anna["id"], 60)
    offer = next(t for t in tasks["items"] if t["title"] == "Send offer")
    assert (offer["status"], offer["due_at"]) == ("closed", "2026-12-02T09:30:00Z")


def test_cases_with_members_tags_and_their_state(api: Api, tenant: Tenant, run_queues: Any) -> None:
    owner = bearer(tenant.owner_token)
    _, anna, _ = api.call(
        "POST",
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "Anna",
            "last_name": "Lang",
            "details": [{"type": "email", "value": "anna@x.de"}],
        },
        headers=owner,
    )
    data = csv_bytes([["Title", "Participants", "Tags", "Closed", "ID"], ["Summit", "anna@x.de", "Event", "true", ""]])
    status = run_import(api, owner, run_queues, data, "cases")
    assert status["counts"]["created"] == 1, status
    _, cases, _ = api.call("GET", "/v1/cases", headers=owner)
    (summit,) = cases["items"]
    assert (summit["member_ids"], summit["tags"], summit["closed"]) == ([anna["id"]], ["Event"], True)
    reopened = csv_bytes([["ID", "Closed"], [summit["id"], "nein"]])
    again = run_import(api, owner, run_queues, reopened, "cases", on_duplicate="update")
    assert again["counts"]["updated"] == 1
    _, after, _ = api.call("GET", f"/v1/cases/{summit['id']}", headers=owner)
    assert after["closed"] is False
