"""Invoices through the HTTP API (INV-1..11, SET-5, SET-6, SET-11): every
endpoint, idempotent POSTs, If-Match, 404 for hidden, tenant isolation,
documents rendered by the documents function and the mail it sends."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import Api, Tenant, bearer, sent_emails

pytestmark = pytest.mark.usefixtures("aws")


def _drain(queue: str, handler: Any) -> dict[str, Any]:
    from chalicelib.storage.dynamo.aws import client as aws_client
    from chalicelib.storage.queues import queue_url

    sqs, url, failures, handled = aws_client("sqs"), queue_url(queue), [], 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return {"handled": handled, "failures": failures}
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:eu-central-1:123456789012:crm-{queue}",
                    "awsRegion": "eu-central-1",
                }
                for m in messages
            ]
        }
        result = handler(event)
        failures += result["batchItemFailures"]
        handled += len(messages)
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def run_documents(aws: None) -> Any:
    """Deliver the documents queue to the documents function's handler, as Lambda (or the pump) would."""

    def run() -> dict[str, Any]:
        from chalicelib.handlers.background.documents import handle_batch

        return _drain("documents", handle_batch)

    return run


SETTINGS = {
    "company_name": "Acme Software GmbH",
    "address": {"street": "Hauptstr. 5", "city": "München", "zip": "80331", "country": "DE"},
    "vat_id": "DE 136 695 976",
    "iban": "DE89 3704 0044 0532 0130 00",
    "bic": "COBADEFFXXX",
    "default_terms": "Zahlbar innerhalb von 30 Tagen.",
}


def create(api: Api, token: str, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    status, data, _ = api.call("POST", path, body, headers=bearer(token, **headers))
    assert status == 201, data
    return data


def contact(api: Api, token: str, *, access: str = "private", email: str | None = "anna@example.de") -> dict[str, Any]:
    details: list[dict[str, Any]] = [
        {
            "type": "address",
            "category": "billing",
            "value": {"street": "Königstr. 1", "city": "Berlin", "zip": "10115", "country": "DE"},
        }
    ]
    if email:
        details.append({"type": "email", "value": email})
    body = {"kind": "company", "company_name": "Müller GmbH", "access": access, "details": details}
    return create(api, token, "/v1/contacts", body)


def tax(api: Api, token: str, name: str = "USt 19 %", rate: str = "19") -> dict[str, Any]:
    return create(api, token, "/v1/taxes", {"name": name, "rate": rate})


def invoice_body(client_id: str, tax_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "language": "de",
        "issue_date": "2026-12-01",
        "due_date": "2026-12-31",
        "po_number": "PO-4711",
        "notes": "Vielen Dank!",
        "lines": [{"title": "Consulting", "quantity": "3", "price": "19.99", "discount": "10", "tax_ids": [tax_id]}],
        **extra,
    }


@pytest.fixture
def setup(api: Api, tenant: Tenant) -> dict[str, Any]:
    status, saved, _ = api.call("PUT", "/v1/settings/invoices", SETTINGS, headers=bearer(tenant.owner_token))
    assert status == 200, saved
    client = contact(api, tenant.owner_token)
    vat = tax(api, tenant.owner_token)
    return {"client": client, "tax": vat, "token": tenant.owner_token, "tenant_id": tenant.id}


def s3_object(url: str) -> bytes:
    from chalicelib.config import get_settings
    from chalicelib.storage.dynamo.aws import client

    path = unquote(urlsplit(url).path).lstrip("/")
    bucket = get_settings().bucket_name
    key = path[len(bucket) + 1 :] if path.startswith(bucket + "/") else path
    return client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_create_computes_totals_and_numbers_from_inv0000001(api: Api, setup: dict[str, Any]) -> None:
    token, client, vat = setup["token"], setup["client"], setup["tax"]
    first = create(api, token, "/v1/invoices", invoice_body(client["id"], vat["id"]))
    assert first["number"] == "INV0000001"
    assert first["status"] == "draft" and first["overdue"] is False
    assert first["currency"] == "EUR" and first["client_name"] == "Müller GmbH"
    assert first["billing_address"]["city"] == "Berlin"
    assert first["terms"] == "Zahlbar innerhalb von 30 Tagen."
    assert first["lines"][0] | {"net": "53.97", "discount_amount": "6.00", "amount": "59.97"} == first["lines"][0]
    assert first["totals"] == {
        "subtotal": "59.97",
        "discount": "6.00",
        "net": "53.97",
        "taxes": [{"tax_id": vat["id"], "name": "USt 19 %", "rate": "19", "base": "53.97", "amount": "10.25"}],
        "tax_total": "10.25",
        "total": "64.22",
    }
    second = create(api, token, "/v1/invoices", invoice_body(client["id"], vat["id"]))
    assert second["number"] == "INV0000002"


def test_post_is_idempotent_and_takes_one_number(api: Api, setup: dict[str, Any]) -> None:
    token, body = setup["token"], invoice_body(setup["client"]["id"], setup["tax"]["id"])
    headers = bearer(token, **{"Idempotency-Key": "inv-1"})
    status, first, _ = api.call("POST", "/v1/invoices", body, headers=headers)
    status2, again, replay = api.call("POST", "/v1/invoices", body, headers=headers)
    assert (status, status2) == (201, 201) and again["id"] == first["id"]
    assert replay["idempotent-replayed"] == "true"
    assert create(api, token, "/v1/invoices", body)["number"] == "INV0000002"


def test_manual_numbers_only_when_allowed_and_unique(api: Api, tenant: Tenant, setup: dict[str, Any]) -> None:
    token, body = setup["token"], invoice_body(setup["client"]["id"], setup["tax"]["id"])
    _, user_token = tenant.add_user("user@acme.example")
    shared = invoice_body(contact(api, token, access="shared_read")["id"], setup["tax"]["id"], number="X-1")
    status, problem, _ = api.call("POST", "/v1/invoices", shared, headers=bearer(user_token))
    assert status == 422 and problem["errors"][0]["field"] == "number"
    # An admin types a number the counter will reach: the counter skips it.
    assert create(api, token, "/v1/invoices", {**body, "number": "INV0000002"})["number"] == "INV0000002"
    status, problem, _ = api.call("POST", "/v1/invoices", {**body, "number": "INV0000002"}, headers=bearer(token))
    assert status == 409 and "INV0000002" in problem["detail"]
    assert create(api, token, "/v1/invoices", body)["number"] == "INV0000001"
    assert create(api, token, "/v1/invoices", body)["number"] == "INV0000003"
    # Numbering off: a number is required, and taken as typed.
    settings = {**SETTINGS, "numbering": {"automatic": False, "prefix": "RE-", "next_number": 10}}
    assert api.call("PUT", "/v1/settings/invoices", settings, headers=bearer(token))[0] == 200
    status, problem, _ = api.call("POST", "/v1/invoices", body, headers=bearer(token))
    assert status == 422 and problem["errors"][0]["field"] == "number"
    assert create(api, token, "/v1/invoices", {**body, "number": "RE-2026-1"})["number"] == "RE-2026-1"


def test_patch_needs_if_match_and_only_drafts_change(api: Api, setup: dict[str, Any]) -> None:
    token = setup["token"]
    invoice = create(api, token, "/v1/invoices", invoice_body(setup["client"]["id"], setup["tax"]["id"]))
    path = f"/v1/invoices/{invoice['id']}"
    assert api.call("PATCH", path, {"notes": "x"}, headers=bearer(token))[0] == 428
    assert api.call("PATCH", path, {"notes": "x"}, headers=bearer(token, **{"If-Match": '"7"'}))[0] == 412
    lines = [{"title": "Book", "quantity": "2", "price": "12.50"}]
    status, changed, headers = api.call(
        "PATCH", path, {"notes": "Neu", "lines": lines}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 200 and changed["version"] == 2 and headers["etag"] == '"2"'
    assert changed["totals"]["total"] == "25.00" and changed["notes"] == "Neu"
    status, billed, _ = api.call(
        "PUT", f"{path}/status", {"status": "billed"}, headers=bearer(token, **{"If-Match": '"2"'})
    )
    assert status == 200 and billed["status"] == "billed"
    status, problem, _ = api.call("PATCH", path, {"notes": "y"}, headers=bearer(token, **{"If-Match": '"3"'}))
    assert status == 409 and "Only drafts" in problem["detail"]


def test_status_machine_names_allowed_moves_and_moves_stock(api: Api, setup: dict[str, Any]) -> None:
    token, client = setup["token"], setup["client"]
    product = create(api, token, "/v1/products", {"title": "Widget", "price": "10", "track_stock": True, "stock": "5"})
    body = {"client_id": client["id"], "lines": [{"product_id": product["id"], "quantity": "2"}]}
    invoice = create(api, token, "/v1/invoices", body)
    assert invoice["lines"][0]["title"] == "Widget" and invoice["totals"]["total"] == "20.00"
    path = f"/v1/invoices/{invoice['id']}/status"

    def move(status: str, version: int) -> tuple[int, Any]:
        code, data, _ = api.call("PUT", path, {"status": status}, headers=bearer(token, **{"If-Match": f'"{version}"'}))
        return code, data

    code, problem = move("paid", 1)
    assert code == 409 and "billed" in problem["detail"] and "paid" in problem["detail"]
    assert move("billed", 1)[0] == 200
    stock = api.call("GET", f"/v1/products/{product['id']}", headers=bearer(token))[1]["stock"]
    assert stock == "3"
    assert move("rejected", 2)[0] == 200
    assert api.call("GET", f"/v1/products/{product['id']}", headers=bearer(token))[1]["stock"] == "5"
    assert move("draft", 3)[0] == 200
    code, problem = move("rejected", 4)
    assert code == 409 and "may go to: billed" in problem["detail"]


def test_access_hidden_is_404_readers_cannot_write_other_tenant_sees_nothing(
    api: Api, tenant: Tenant, other_tenant: Tenant, setup: dict[str, Any]
) -> None:
    token = setup["token"]
    _, user_token = tenant.add_user("user@acme.example")
    private = create(api, token, "/v1/invoices", invoice_body(setup["client"]["id"], setup["tax"]["id"]))
    shared_client = contact(api, token, access="shared_read")
    shared = create(api, token, "/v1/invoices", invoice_body(shared_client["id"], setup["tax"]["id"]))
    assert api.call("GET", f"/v1/invoices/{private['id']}", headers=bearer(user_token))[0] == 404
    assert api.call("GET", f"/v1/invoices/{private['id']}/pdf", headers=bearer(user_token))[0] == 404
    assert api.call("GET", f"/v1/invoices/{shared['id']}", headers=bearer(user_token))[0] == 200
    code = api.call(
        "PATCH", f"/v1/invoices/{shared['id']}", {"notes": "x"}, headers=bearer(user_token, **{"If-Match": '"1"'})
    )[0]
    assert code == 403
    listed = api.call("GET", "/v1/invoices", headers=bearer(user_token))[1]["items"]
    assert [i["id"] for i in listed] == [shared["id"]]
    # The user's own invoice on a client they can read.
    own = create(api, user_token, "/v1/invoices", invoice_body(shared_client["id"], setup["tax"]["id"]))
    assert api.call("DELETE", f"/v1/invoices/{own['id']}", headers=bearer(user_token))[0] == 204
    # Another tenant: nothing, by id or in lists.
    other = other_tenant.owner_token
    assert api.call("GET", f"/v1/invoices/{shared['id']}", headers=bearer(other))[0] == 404
    assert api.call("GET", "/v1/invoices", headers=bearer(other))[1]["items"] == []
    assert api.call("GET", "/v1/taxes", headers=bearer(other))[1]["items"] == []
    status, problem, _ = api.call(
        "POST", "/v1/invoices", invoice_body(setup["client"]["id"], setup["tax"]["id"]), headers=bearer(other)
    )
    assert status == 422


def test_pdf_is_202_until_rendered_then_302_and_a_changed_draft_renders_again(
    api: Api, setup: dict[str, Any], run_documents: Any
) -> None:
    from facturx import get_facturx_xml_from_pdf, xml_check_xsd
    from pypdf import PdfReader

    token = setup["token"]
    invoice = create(api, token, "/v1/invoices", invoice_body(setup["client"]["id"], setup["tax"]["id"]))
    pdf_path = f"/v1/invoices/{invoice['id']}/pdf"
    status, body, headers = api.call("GET", pdf_path, headers=bearer(token))
    assert status == 202 and body == {"status": "rendering", "retry_after": 2} and headers["retry-after"] == "2"
    assert api.call("GET", pdf_path, headers=bearer(token))[0] == 202  # queued once, not twice
    assert run_documents() == {"handled": 1, "failures": []}
    status, _, headers = api.call("GET", pdf_path, headers=bearer(token))
    assert status == 302
    pdf = s3_object(headers["location"])
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for expected in ("Rechnung INV0000001", "Müller GmbH", "64,22", "USt 19 %", "Seite 1 von 1", "Acme Software GmbH"):
        assert expected in text, expected
    filename, xml = get_facturx_xml_from_pdf(pdf)
    assert filename == "factur-x.xml" and b"INV0000001" in xml
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    status, _, _ = api.call(
        "PATCH", f"/v1/invoices/{invoice['id']}", {"notes": "Geändert"}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 200
    assert api.call("GET", pdf_path, headers=bearer(token))[0] == 202
    run_documents()
    status, _, headers = api.call("GET", pdf_path, headers=bearer(token))
    assert status == 302
    again = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(s3_object(headers["location"]))).pages)
    assert "Geändert" in again


def test_print_view_is_html(api: Api, setup: dict[str, Any]) -> None:
    invoice = create(api, setup["token"], "/v1/invoices", invoice_body(setup["client"]["id"], setup["tax"]["id"]))
    response = api.client.http.get(f"/v1/invoices/{invoice['id']}/html", headers=bearer(setup["token"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.body.decode()
    assert "INV0000001" in html and "64,22" in html and "Müller GmbH" in html


def test_send_mails_the_pdf_once_bills_and_adds_history(
    api: Api, setup: dict[str, Any], run_documents: Any, run_jobs: Any
) -> None:
    token, client = setup["token"], setup["client"]
    invoice = create(api, token, "/v1/invoices", invoice_body(client["id"], setup["tax"]["id"]))
    send = f"/v1/invoices/{invoice['id']}/send"
    status, sent, _ = api.call("POST", send, {}, headers=bearer(token, **{"Idempotency-Key": "send-1"}))
    assert status == 202 and sent["status"] == "billed" and sent["sent_to"] == "anna@example.de"
    # A retried request (same key) answers the same and queues no second mail.
    status, again, replayed = api.call("POST", send, {}, headers=bearer(token, **{"Idempotency-Key": "send-1"}))
    assert status == 202 and again == sent and replayed["idempotent-replayed"] == "true"
    assert run_documents()["failures"] == []  # renders the PDF, hands the mail to the jobs worker
    assert sent_emails() == []
    assert run_jobs()["failures"] == []
    mails = [m for m in sent_emails() if "anna@example.de" in str(getattr(m, "destinations", ""))]
    assert len(mails) == 1
    raw = mails[0].raw_data
    assert "INV0000001.pdf" in raw and "Vielen Dank!" in raw
    history = api.call("GET", f"/v1/contacts/{client['id']}/history", headers=bearer(token))[1]["items"]
    assert [(h["kind"], h["text"]) for h in history] == [
        ("email", "Invoice INV0000001 sent by e-mail to anna@example.de")
    ]
    # A redelivered message sends nothing twice.
    from chalicelib.bootstrap import container
    from chalicelib.domain.invoices.documents import MailInvoice
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.dynamo.table import SortKey, Table

    tenant_id = setup["tenant_id"]
    mail_items = Table().query(keys.invoice(tenant_id, invoice["id"])["pk"], sort=SortKey.begins_with(keys.MAIL_PREFIX))
    assert [m["status"] for m in mail_items.items] == ["sent"]
    job = MailInvoice(tenant_id=tenant_id, invoice_id=invoice["id"], mail_id=mail_items.items[0]["id"])
    assert container().invoice_documents.deliver(job) is False
    assert len([m for m in sent_emails() if "anna@example.de" in str(getattr(m, "destinations", ""))]) == 1
    no_mail = contact(api, token, email=None)
    other = create(api, token, "/v1/invoices", invoice_body(no_mail["id"], setup["tax"]["id"]))
    status, problem, _ = api.call("POST", f"/v1/invoices/{other['id']}/send", {}, headers=bearer(token))
    assert status == 422 and "e-mail" in problem["detail"]


def test_contact_named_by_an_invoice_cannot_be_deleted(api: Api, setup: dict[str, Any]) -> None:
    token, client = setup["token"], setup["client"]
    consignee = contact(api, token)
    create(api, token, "/v1/invoices", invoice_body(client["id"], setup["tax"]["id"], consignee_id=consignee["id"]))
    for named in (client, consignee):
        status, problem, _ = api.call("DELETE", f"/v1/contacts/{named['id']}", headers=bearer(token))
        assert status == 409 and "INV0000001" in problem["detail"], problem
    free = contact(api, token)
    assert api.call("DELETE", f"/v1/contacts/{free['id']}", headers=bearer(token))[0] == 204


def test_duplicate_and_delete_never_reuse_a_number(api: Api, tenant: Tenant, setup: dict[str, Any]) -> None:
    token = setup["token"]
    first = create(api, token, "/v1/invoices", invoice_body(setup["client"]["id"], setup["tax"]["id"]))
    copy = create(api, token, f"/v1/invoices/{first['id']}/duplicate", {})
    assert copy["number"] == "INV0000002" and copy["status"] == "draft" and copy["id"] != first["id"]
    assert copy["lines"] == first["lines"] and copy["totals"] == first["totals"]
    assert api.call("DELETE", f"/v1/invoices/{copy['id']}", headers=bearer(token))[0] == 204
    assert api.call("GET", f"/v1/invoices/{copy['id']}", headers=bearer(token))[0] == 404
    assert create(api, token, "/v1/invoices", invoice_body(setup["client"]["id"], setup["tax"]["id"]))["number"] == (
        "INV0000003"
    )
    # Billed invoices: only admins delete them; their creator may not.
    shared = contact(api, token, access="shared_read")
    _, user_token = tenant.add_user("user@acme.example")
    own = create(api, user_token, "/v1/invoices", invoice_body(shared["id"], setup["tax"]["id"]))
    path = f"/v1/invoices/{own['id']}"
    assert (
        api.call("PUT", f"{path}/status", {"status": "billed"}, headers=bearer(user_token, **{"If-Match": '"1"'}))[0]
        == 200
    )
    status, problem, _ = api.call("DELETE", path, headers=bearer(user_token))
    assert status == 409 and "Only drafts" in problem["detail"]
    assert api.call("DELETE", path, headers=bearer(token))[0] == 204


def test_lists_filter_and_come_from_the_contact_and_the_deal(api: Api, setup: dict[str, Any]) -> None:
    token, client, vat = setup["token"], setup["client"], setup["tax"]
    other = contact(api, token)
    deal = create(api, token, "/v1/deals", {"title": "ERP", "contact_id": client["id"]})
    a = create(api, token, "/v1/invoices", invoice_body(client["id"], vat["id"], deal_id=deal["id"]))
    b = create(
        api, token, "/v1/invoices", invoice_body(other["id"], vat["id"], issue_date="2026-11-01", due_date="2026-11-02")
    )
    c = create(api, token, "/v1/invoices", invoice_body(other["id"], vat["id"], currency="USD", exchange_rate="0.92"))
    assert (
        api.call(
            "PUT", f"/v1/invoices/{b['id']}/status", {"status": "billed"}, headers=bearer(token, **{"If-Match": '"1"'})
        )[0]
        == 200
    )

    def ids(query: str) -> list[str]:
        status, page, _ = api.call("GET", f"/v1/invoices{query}", headers=bearer(token))
        assert status == 200, page
        return [i["id"] for i in page["items"]]

    assert ids("") == [c["id"], a["id"], b["id"]]
    assert ids("?status=billed") == [b["id"]]
    assert ids(f"?client_id={other['id']}") == [c["id"], b["id"]]
    assert ids(f"?deal_id={deal['id']}") == [a["id"]]
    assert ids("?currency=USD") == [c["id"]]
    assert ids("?overdue=true") == [b["id"]]
    assert ids("?overdue=false") == [c["id"], a["id"]]
    assert ids("?issue_from=2026-11-15&issue_to=2026-12-31") == [c["id"], a["id"]]
    assert ids("?due_from=2026-11-01&due_to=2026-11-30") == [b["id"]]
    assert ids("?limit=1") == [c["id"]]
    status, page, _ = api.call("GET", "/v1/invoices?limit=2", headers=bearer(token))
    status, rest, _ = api.call("GET", f"/v1/invoices?limit=2&cursor={page['next_cursor']}", headers=bearer(token))
    assert [i["id"] for i in rest["items"]] == [b["id"]] and rest["next_cursor"] is None
    contact_side = api.call("GET", f"/v1/contacts/{other['id']}/invoices", headers=bearer(token))[1]["items"]
    assert [i["id"] for i in contact_side] == [c["id"], b["id"]]
    deal_side = api.call("GET", f"/v1/deals/{deal['id']}/invoices", headers=bearer(token))[1]["items"]
    assert [i["id"] for i in deal_side] == [a["id"]]
    assert api.call("GET", "/v1/deals/01NOPE/invoices", headers=bearer(token))[0] == 404
    assert c["exchange_currency"] == "EUR" and c["currency"] == "USD"
    status, problem, _ = api.call(
        "POST", "/v1/invoices", invoice_body(other["id"], vat["id"], currency="USD"), headers=bearer(token)
    )
    assert status == 422 and problem["errors"][0]["field"] == "exchange_rate"
    status, problem, _ = api.call(
        "POST", "/v1/invoices", invoice_body(other["id"], vat["id"], deal_id=deal["id"]), headers=bearer(token)
    )
    assert status == 422 and problem["errors"][0]["field"] == "deal_id"


def test_change_log_records_every_write(api: Api, setup: dict[str, Any]) -> None:
    token = setup["token"]
    invoice = create(api, token, "/v1/invoices", invoice_body(setup["client"]["id"], setup["tax"]["id"]))
    path = f"/v1/invoices/{invoice['id']}"
    api.call("PATCH", path, {"po_number": "PO-1"}, headers=bearer(token, **{"If-Match": '"1"'}))
    entries = api.call("GET", f"{path}/changes", headers=bearer(token))[1]["items"]
    assert [e["action"] for e in entries] == ["updated", "created"]
    assert entries[0]["changes"] == [{"field": "po_number", "old": "PO-4711", "new": "PO-1"}]
    admin_view = api.call("GET", f"/v1/changes?entity=invoice&record_id={invoice['id']}", headers=bearer(token))
    assert admin_view[0] == 200 and len(admin_view[1]["items"]) == 2


def test_catalogue_and_taxes_admins_write_everyone_reads_in_use_is_409(
    api: Api, tenant: Tenant, setup: dict[str, Any]
) -> None:
    token, vat = setup["token"], setup["tax"]
    _, user_token = tenant.add_user("user@acme.example")
    assert api.call("POST", "/v1/taxes", {"name": "X", "rate": "5"}, headers=bearer(user_token))[0] == 403
    assert api.call("POST", "/v1/products", {"title": "X", "price": "1"}, headers=bearer(user_token))[0] == 403
    assert api.call("POST", "/v1/taxes", {"name": "X", "rate": "101"}, headers=bearer(token))[0] == 422
    assert api.call("POST", "/v1/taxes", {"name": "X", "rate": 19.5}, headers=bearer(token))[0] == 422
    product = create(
        api, token, "/v1/products", {"title": "Support", "sku": "SUP-1", "price": "99.5", "tax_ids": [vat["id"]]}
    )
    assert product["currency"] == "EUR" and product["stock"] is None and product["in_use"] == 0
    listed = api.call("GET", "/v1/products?q=sup", headers=bearer(user_token))[1]["items"]
    assert [p["id"] for p in listed] == [product["id"]]
    assert api.call("GET", "/v1/taxes", headers=bearer(user_token))[1]["items"][0]["id"] == vat["id"]
    body = {"client_id": setup["client"]["id"], "lines": [{"product_id": product["id"], "quantity": "2"}]}
    invoice = create(api, token, "/v1/invoices", body)
    assert invoice["lines"][0]["taxes"][0]["name"] == "USt 19 %" and invoice["totals"]["total"] == "236.81"
    status, problem, _ = api.call("DELETE", f"/v1/taxes/{vat['id']}", headers=bearer(token))
    assert status == 409 and "1 invoice" in problem["detail"]
    status, problem, _ = api.call("DELETE", f"/v1/products/{product['id']}", headers=bearer(token))
    assert status == 409 and "1 invoice" in problem["detail"]
    status, renamed, _ = api.call(
        "PATCH", f"/v1/taxes/{vat['id']}", {"name": "MwSt 19 %"}, headers=bearer(token, **{"If-Match": '"1"'})
    )
    assert status == 200 and renamed["name"] == "MwSt 19 %"
    # Issued lines keep their snapshot.
    kept = api.call("GET", f"/v1/invoices/{invoice['id']}", headers=bearer(token))[1]
    assert kept["lines"][0]["taxes"][0]["name"] == "USt 19 %"
    assert api.call("DELETE", f"/v1/invoices/{invoice['id']}", headers=bearer(token))[0] == 204
    assert api.call("DELETE", f"/v1/products/{product['id']}", headers=bearer(token))[0] == 204
    unused = tax(api, token, "Zero", "0")
    assert api.call("DELETE", f"/v1/taxes/{unused['id']}", headers=bearer(token))[0] == 204


def test_settings_validate_vat_id_iban_bic_and_take_a_logo(api: Api, tenant: Tenant, setup: dict[str, Any]) -> None:
    from PIL import Image

    token = setup["token"]
    status, saved, _ = api.call("GET", "/v1/settings/invoices", headers=bearer(token))
    assert status == 200 and saved["vat_id"] == "DE136695976" and saved["iban"] == "DE89370400440532013000"
    assert saved["numbering"] == {"automatic": True, "prefix": "INV", "next_number": 1}
    bad = {**SETTINGS, "vat_id": "DE123456789", "iban": "DE89 3704 0044 0532 0130 01", "bic": "NOTABIC"}
    status, problem, _ = api.call("PUT", "/v1/settings/invoices", bad, headers=bearer(token))
    assert status == 422 and {e["field"] for e in problem["errors"]} == {"vat_id", "iban", "bic"}
    _, user_token = tenant.add_user("user@acme.example")
    assert api.call("PUT", "/v1/settings/invoices", SETTINGS, headers=bearer(user_token))[0] == 403
    assert api.call("GET", "/v1/settings/invoices", headers=bearer(user_token))[0] == 200
    assert api.call("PUT", "/v1/settings/invoices", SETTINGS, headers=bearer(token, **{"If-Match": '"9"'}))[0] == 412
    image = io.BytesIO()
    Image.new("RGB", (1200, 400), "navy").save(image, "PNG")
    response = api.client.http.put(
        "/v1/settings/invoices/logo", body=image.getvalue(), headers=bearer(token, **{"Content-Type": "image/png"})
    )
    assert response.status_code == 200, response.body
    import json

    logo = json.loads(response.body)["logo"]
    assert (logo["width"], logo["height"], logo["content_type"]) == (600, 200, "image/jpeg")
    response = api.client.http.get("/v1/settings/invoices/logo", headers=bearer(token))
    assert response.status_code == 302 and "invoice-logo" in response.headers["Location"]
    response = api.client.http.put(
        "/v1/settings/invoices/logo", body=b"not an image", headers=bearer(token, **{"Content-Type": "image/png"})
    )
    assert response.status_code == 415
    assert api.call("DELETE", "/v1/settings/invoices/logo", headers=bearer(token))[0] == 204
    assert api.call("GET", "/v1/settings/invoices/logo", headers=bearer(token))[0] == 404


def test_erasing_a_contact_keeps_its_invoices_without_its_data(
    api: Api, setup: dict[str, Any], run_documents: Any, run_jobs: Any
) -> None:
    """GDPR (issue 18) over the DynamoDB and S3 adapters: after
    ``anonymise_contact`` no invoice item (record, index entries, change log,
    mails) holds the client's name, address or e-mail, its PDF renders again
    anonymised, and the contact can be deleted."""
    import json

    from pypdf import PdfReader

    from chalicelib.bootstrap import container
    from chalicelib.config import get_settings
    from chalicelib.storage.blobs import tenant_object_key
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.dynamo.aws import client as aws_client
    from chalicelib.storage.dynamo.table import Table

    token, client, tenant_id = setup["token"], setup["client"], setup["tenant_id"]
    invoice = create(api, token, "/v1/invoices", invoice_body(client["id"], setup["tax"]["id"]))
    path = f"/v1/invoices/{invoice['id']}"
    assert api.call("PATCH", path, {"notes": "Danke"}, headers=bearer(token, **{"If-Match": '"1"'}))[0] == 200
    assert api.call("POST", f"{path}/send", {}, headers=bearer(token))[0] == 202
    assert run_documents()["failures"] == [] and run_jobs()["failures"] == []
    gone = create(api, token, "/v1/invoices", invoice_body(client["id"], setup["tax"]["id"]))
    assert api.call("DELETE", f"/v1/invoices/{gone['id']}", headers=bearer(token))[0] == 204
    personal = ("Müller GmbH", "Königstr. 1", "anna@example.de")
    # The partitions' prefixes (keys of a one-letter id, without it).
    invoice_partitions = (
        keys.invoice(tenant_id, "X")["pk"][:-1],
        keys.change_log(tenant_id, "invoice", "X")[:-1],
        keys.invoice_facet(tenant_id, "X")[:-1],
    )

    def invoice_items_naming_the_contact() -> list[str]:
        return [
            f"{item['pk']} {item['sk']}"
            for item in Table().scan()
            if str(item["pk"]).startswith(invoice_partitions)
            and any(text in json.dumps(item, default=str, ensure_ascii=False) for text in personal)
        ]

    assert len(invoice_items_naming_the_contact()) > 5

    result = container().invoices.anonymise_contact(tenant_id, client["id"])

    assert result.anonymised == [invoice["id"]] and result.formerly == [gone["id"]]
    assert invoice_items_naming_the_contact() == []
    prefix = tenant_object_key(tenant_id, "invoices", invoice["id"]) + "/"
    listed = aws_client("s3").list_objects_v2(Bucket=get_settings().bucket_name, Prefix=prefix)
    assert listed.get("KeyCount", 0) == 0  # the PDF that named the client is gone
    status, kept, _ = api.call("GET", path, headers=bearer(token))
    assert status == 200 and kept["number"] == "INV0000001" and kept["status"] == "billed"
    assert kept["client_name"] == "[gelöscht]" and kept["sent_to"] == "[gelöscht]"
    assert kept["totals"] == invoice["totals"] and kept["billing_address"]["country"] == "DE"
    changes = api.call("GET", f"{path}/changes", headers=bearer(token))[1]["items"]
    assert "erased_contact_ids" in [c["field"] for c in changes[0]["changes"]]
    # The PDF renders again, anonymised.
    assert api.call("GET", f"{path}/pdf", headers=bearer(token))[0] == 202
    assert run_documents()["failures"] == []
    status, _, headers = api.call("GET", f"{path}/pdf", headers=bearer(token))
    assert status == 302
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(s3_object(headers["location"]))).pages)
    assert "[gelöscht]" in text and "Müller" not in text and "INV0000001" in text
    # The invoices no longer hold the contact: the erasure can delete it.
    assert api.call("DELETE", f"/v1/contacts/{client['id']}", headers=bearer(token))[0] == 204
