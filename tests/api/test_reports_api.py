"""Reports through the HTTP API (REP-1..4, issue 17) over moto: 202 and the
status with percent, the creator-only list and its pages, the file as a 302
to a presigned URL of the object under the tenant, DELETE, 422 naming missing
rates, schedules, the retention setting, and what a user's report counts."""

from __future__ import annotations

import io
from decimal import Decimal
from urllib.parse import unquote, urlparse

from tests.conftest import bearer


def ask(api, token, body, **headers):
    return api.call("POST", "/v1/reports", body, headers=bearer(token, **headers))


def report_file(api, token, report_id):
    """The workbook behind the 302, read from the bucket the presigned URL names."""
    from openpyxl import load_workbook

    from chalicelib.storage.dynamo.aws import client

    status, _, headers = api.call("GET", f"/v1/reports/{report_id}/file", headers=bearer(token))
    assert status == 302
    url = urlparse(headers["location"])
    bucket, _, key = unquote(url.path).lstrip("/").partition("/")
    data = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return key, load_workbook(io.BytesIO(data), data_only=True)


def test_a_report_is_accepted_made_in_the_background_and_downloaded(api, tenant, run_jobs):
    owner = tenant.owner_token
    status, deal, _ = api.call("POST", "/v1/deals", {"title": "ERP", "amount": "1200.00"}, headers=bearer(owner))
    assert status == 201, deal
    status, body, _ = ask(api, owner, {"type": "deals_by_manager", "period": {"preset": "this_month"}})
    assert status == 202, body
    assert body["status"] == "queued" and body["percent"] == 0
    assert body["status_url"] == f"/v1/reports/{body['id']}" and body["job_id"] == body["id"]
    assert body["period"] == {"preset": "this_month"}
    status, _, headers = api.call("GET", f"/v1/reports/{body['id']}/file", headers=bearer(owner))
    assert status == 404  # not made yet
    assert run_jobs()["failures"] == []
    status, done, headers = api.call("GET", body["status_url"], headers=bearer(owner))
    assert status == 200 and done["status"] == "done" and done["percent"] == 100, done
    assert headers["etag"] == f'"{done["version"]}"'
    assert done["file_url"] == f"/v1/reports/{body['id']}/file" and done["expires_at"]
    key, book = report_file(api, owner, body["id"])
    assert key.startswith(f"t/{tenant.id}/reports/{body['id']}/")
    assert book.sheetnames[:2] == ["Report", "Deals per manager"]
    total = list(book["Deals per manager"].iter_rows(values_only=True))[-1]
    assert total[0] == "Total" and total[7] == 1 and Decimal(str(total[8])) == Decimal("1200")


def test_reports_are_listed_only_to_their_creator_in_pages(api, tenant, other_tenant):
    anna_id, anna = tenant.add_user("anna@acme.example")
    made = [ask(api, anna, {"type": "summary_now"})[1]["id"] for _ in range(3)]
    ask(api, tenant.owner_token, {"type": "summary_now"})
    status, page, _ = api.call("GET", "/v1/reports?limit=2", headers=bearer(anna))
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    status, rest, _ = api.call("GET", f"/v1/reports?limit=2&cursor={page['next_cursor']}", headers=bearer(anna))
    assert status == 200 and rest["next_cursor"] is None
    assert [r["id"] for r in page["items"] + rest["items"]] == sorted(made, reverse=True)
    # The owner (an admin), another tenant: neither sees Anna's reports, nor can delete them.
    for token in (tenant.owner_token, other_tenant.owner_token):
        status, listed, _ = api.call("GET", "/v1/reports", headers=bearer(token))
        assert not {r["id"] for r in listed["items"]} & set(made)
        assert api.call("GET", f"/v1/reports/{made[0]}", headers=bearer(token))[0] == 404
        assert api.call("GET", f"/v1/reports/{made[0]}/file", headers=bearer(token))[0] == 404
        assert api.call("DELETE", f"/v1/reports/{made[0]}", headers=bearer(token))[0] == 404
    status, _, _ = api.call("GET", "/v1/reports?limit=500", headers=bearer(anna))
    assert status == 422


def test_delete_removes_the_report_and_its_file(api, tenant, run_jobs):
    from chalicelib.storage.dynamo.aws import client

    owner = tenant.owner_token
    report_id = ask(api, owner, {"type": "summary_period", "period": {"from": "2026-01-01", "to": "2026-12-31"}})[1][
        "id"
    ]
    run_jobs()
    key, _ = report_file(api, owner, report_id)
    status, _, _ = api.call("DELETE", f"/v1/reports/{report_id}", headers=bearer(owner))
    assert status == 204
    assert api.call("GET", f"/v1/reports/{report_id}", headers=bearer(owner))[0] == 404
    from chalicelib.config import get_settings

    listed = client("s3").list_objects_v2(Bucket=get_settings().bucket_name, Prefix=f"t/{tenant.id}/reports/")
    assert listed.get("KeyCount", 0) == 0, key


def test_missing_exchange_rates_are_named_before_anything_is_made(api, tenant):
    owner = tenant.owner_token
    for currency in ("USD", "CHF"):
        body = {"title": f"In {currency}", "amount": "10.00", "currency": currency}
        assert api.call("POST", "/v1/deals", body, headers=bearer(owner))[0] == 201
    status, problem, headers = ask(api, owner, {"type": "sales_funnel"})
    assert status == 422 and headers["content-type"] == "application/problem+json"
    assert "CHF -> EUR" in problem["detail"] and "USD -> EUR" in problem["detail"]
    assert {e["field"] for e in problem["errors"]} == {"rates"}
    assert api.call("GET", "/v1/reports", headers=bearer(owner))[1]["items"] == []
    # Calls need no rates.
    assert ask(api, owner, {"type": "calls_by_operator"})[0] == 202


def test_invalid_parameters_are_422(api, tenant):
    owner = tenant.owner_token
    for body in (
        {"type": "best_customers"},
        {"type": "summary_now", "period": {"preset": "fortnight"}},
        {"type": "summary_now", "period": {"from": "2026-03-01", "to": "2026-02-01"}},
        {"type": "summary_now", "manager_ids": ["no-such-user"]},
        {"type": "summary_now", "extra": 1},
    ):
        status, problem, _ = ask(api, owner, body)
        assert status == 422, (body, problem)


def test_a_users_report_leaves_out_a_private_deal_and_the_owners_counts_it(api, tenant, run_jobs):
    anna_id, anna = tenant.add_user("anna@acme.example")
    cleo_id, cleo = tenant.add_user("cleo@acme.example")
    private = {"title": "Secret", "amount": "500.00", "access_list": [cleo_id]}
    assert api.call("POST", "/v1/deals", private, headers=bearer(cleo))[0] == 201
    assert api.call("POST", "/v1/deals", {"title": "Open", "amount": "70.00"}, headers=bearer(anna))[0] == 201
    mine = ask(api, anna, {"type": "deals_by_manager"})[1]["id"]
    owners = ask(api, tenant.owner_token, {"type": "deals_by_manager"})[1]["id"]
    run_jobs()

    def total(token, report_id):
        _, book = report_file(api, token, report_id)
        row = list(book["Deals per manager"].iter_rows(values_only=True))[-1]
        return row[7], Decimal(str(row[8]))

    assert total(anna, mine) == (1, Decimal("70"))
    assert total(tenant.owner_token, owners) == (2, Decimal("570"))


def test_schedules_are_made_listed_and_deleted_by_their_creator(api, tenant):
    anna_id, anna = tenant.add_user("anna@acme.example")
    body = {"type": "summary_period", "period": {"preset": "last_month"}, "every": "month"}
    status, schedule, _ = api.call("POST", "/v1/report-schedules", body, headers=bearer(anna))
    assert status == 201, schedule
    assert schedule["every"] == "month" and schedule["next_run_at"].endswith("T06:00:00Z")  # UTC tenant, 06:00
    status, listed, _ = api.call("GET", "/v1/report-schedules", headers=bearer(anna))
    assert [s["id"] for s in listed["items"]] == [schedule["id"]]
    assert api.call("GET", "/v1/report-schedules", headers=bearer(tenant.owner_token))[1]["items"] == []
    path = f"/v1/report-schedules/{schedule['id']}"
    assert api.call("DELETE", path, headers=bearer(tenant.owner_token))[0] == 404
    assert api.call("DELETE", path, headers=bearer(anna))[0] == 204
    assert api.call("GET", path, headers=bearer(anna))[0] == 404
    bad = {**body, "every": "day"}
    assert api.call("POST", "/v1/report-schedules", bad, headers=bearer(anna))[0] == 422


def test_the_retention_is_the_tenants_and_set_by_admins(api, tenant, run_jobs):
    anna_id, anna = tenant.add_user("anna@acme.example")
    assert api.call("GET", "/v1/settings/reports", headers=bearer(anna))[1] == {"retention_days": 30}
    assert api.call("PUT", "/v1/settings/reports", {"retention_days": 3}, headers=bearer(anna))[0] == 403
    status, body, _ = api.call("PUT", "/v1/settings/reports", {"retention_days": 3}, headers=bearer(tenant.owner_token))
    assert status == 200 and body == {"retention_days": 3}
    assert api.call("PUT", "/v1/settings/reports", {"retention_days": 0}, headers=bearer(tenant.owner_token))[0] == 422
    report_id = ask(api, anna, {"type": "summary_now"})[1]["id"]
    run_jobs()
    done = api.call("GET", f"/v1/reports/{report_id}", headers=bearer(anna))[1]
    from datetime import datetime, timedelta

    made, expires = (datetime.fromisoformat(done[k]) for k in ("generated_at", "expires_at"))
    assert expires - made == timedelta(days=3)


def test_invoices_by_manager_counts_billed_invoices_through_the_invoice_storage(api, tenant, run_jobs):
    owner = tenant.owner_token
    address = {"street": "Königstr. 1", "city": "Berlin", "zip": "10115", "country": "DE"}
    person = {
        "kind": "person",
        "first_name": "Anna",
        "last_name": "Müller",
        "details": [{"type": "address", "category": "billing", "value": address}],
    }
    status, client, _ = api.call("POST", "/v1/contacts", person, headers=bearer(owner))
    assert status == 201, client
    lines = [{"title": "Consulting", "quantity": "3", "price": "19.99", "discount": "10"}]
    made = []
    for _ in range(2):
        status, invoice, _ = api.call(
            "POST", "/v1/invoices", {"client_id": client["id"], "lines": lines}, headers=bearer(owner)
        )
        assert status == 201, invoice
        made.append(invoice)
    status, billed, _ = api.call(
        "PUT",
        f"/v1/invoices/{made[0]['id']}/status",
        {"status": "billed"},
        headers=bearer(owner, **{"If-Match": '"1"'}),
    )
    assert status == 200, billed
    report_id = ask(api, owner, {"type": "invoices_by_manager", "period": {"preset": "this_year"}})[1]["id"]
    assert run_jobs()["failures"] == []
    _, book = report_file(api, owner, report_id)
    total = list(book["Invoices per manager"].iter_rows(values_only=True))[-1]
    # The billed invoice counts with its total (3 x 19.99 less 10 %); the draft counts nowhere.
    assert total[:3] == ("Total", 1, float(billed["totals"]["total"]))
    listed = [row[-1] for row in book["Invoices counted"].iter_rows(min_row=2, values_only=True)]
    assert listed == [made[0]["id"]]
