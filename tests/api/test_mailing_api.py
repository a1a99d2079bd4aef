"""Mass mailing (ADM-2) through HTTP over moto: status codes, problem+json,
the jobs queue, SES raw messages, the public unsubscribe endpoint, the bounce hook."""

from __future__ import annotations

import email
import re
from email import policy
from typing import Any

import pytest

from tests.conftest import Api, Tenant, bearer, sent_emails


def contact(tenant: Tenant, first: str, address: str | None, token: str | None = None, **extra: Any) -> str:
    details = [{"type": "email", "value": address, "primary": True}] if address else []
    status, body, _ = tenant.api.call(
        "POST",
        "/v1/contacts",
        {"kind": "person", "first_name": first, "last_name": "Muster", "details": details, **extra},
        headers=bearer(token or tenant.owner_token),
    )
    assert status == 201, body
    return str(body["id"])


def raw_mails() -> list[email.message.EmailMessage]:
    out = []
    for sent in sent_emails():
        raw = getattr(sent, "raw_data", None)
        if raw:
            out.append(email.message_from_string(raw, policy=policy.default))
    return out


def test_send_progress_results_and_the_mime_message(api: Api, tenant: Tenant, run_jobs: Any) -> None:
    anna = contact(tenant, "Anna", "anna@example.de")
    nobody = contact(tenant, "Ben", None)
    status, started, _ = api.call(
        "POST",
        "/v1/mailings",
        {"contact_ids": [anna, nobody], "subject": "Hello {{ first_name }}", "body": "Dear {{ display_name }}"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 202, started
    assert started["status_url"] == f"/v1/mailings/{started['id']}" and started["job_id"] == started["id"]
    assert run_jobs()["failures"] == []
    status, mailing, _ = api.call("GET", started["status_url"], headers=bearer(tenant.owner_token))
    assert status == 200
    assert mailing["status"] == "done" and mailing["percent"] == 100
    assert mailing["counts"] == {"sent": 1, "suppressed": 0, "no_address": 1, "failed": 0}
    (mail,) = raw_mails()
    assert mail["To"] == "anna@example.de" and mail["Subject"] == "Hello Anna"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<.*/v1/unsubscribe/[^>]+>", mail["List-Unsubscribe"])
    # On the wire, as RFC 8058 readers parse it: the URL itself on one line, not an encoded word.
    (raw,) = [m.raw_data for m in sent_emails()]
    assert re.search(r"^List-Unsubscribe: <[^\s>]*/v1/unsubscribe/[^\s>]+>\r?$", raw, re.M), raw[:500]
    assert "Dear Anna Muster" in mail.get_content()
    status, page, _ = api.call(
        "GET", f"/v1/mailings/{started['id']}/recipients?limit=1", headers=bearer(tenant.owner_token)
    )
    assert status == 200 and len(page["items"]) == 1 and page["next_cursor"]
    status, rest, _ = api.call(
        "GET",
        f"/v1/mailings/{started['id']}/recipients?limit=1&cursor={page['next_cursor']}",
        headers=bearer(tenant.owner_token),
    )
    assert {i["status"] for i in page["items"] + rest["items"]} == {"sent", "no_address"}


def test_unknown_placeholder_and_sandbox_escape_are_problem_422s(api: Api, tenant: Tenant) -> None:
    anna = contact(tenant, "Anna", "anna@example.de")
    for body, needle in [("{{ frist_name }}", "frist_name"), ("{{ ''.__class__.__mro__ }}", "not allowed")]:
        status, problem, headers = api.call(
            "POST",
            "/v1/mailings",
            {"contact_ids": [anna], "subject": "s", "body": body},
            headers=bearer(tenant.owner_token),
        )
        assert status == 422 and headers["content-type"] == "application/problem+json"
        assert problem["errors"][0]["field"] == "body" and needle in problem["errors"][0]["message"]


def test_preview(api: Api, tenant: Tenant) -> None:
    anna = contact(tenant, "Anna", "anna@example.de")
    status, shown, _ = api.call(
        "POST",
        "/v1/mailings/preview",
        {"contact_id": anna, "subject": "Hi {{ first_name }}", "body": "x"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 200 and shown["subject"] == "Hi Anna" and shown["to"] == "anna@example.de"
    assert sent_emails() == []


def test_one_click_unsubscribe_public_endpoint(api: Api, tenant: Tenant, run_jobs: Any) -> None:
    anna = contact(tenant, "Anna", "anna@example.de")
    api.call(
        "POST", "/v1/mailings", {"contact_ids": [anna], "subject": "s", "body": "b"}, headers=bearer(tenant.owner_token)
    )
    run_jobs()
    url = raw_mails()[0]["List-Unsubscribe"].strip("<>")
    path = url[url.index("/v1/unsubscribe/") :]
    # GET shows a page and changes nothing (mail scanners follow links).
    status, page, headers = api.call("GET", path)
    assert status == 200 and headers["content-type"].startswith("text/html") and b"<form" in page
    # A tampered token is a 404 page.
    status, _, _ = api.call(
        "POST",
        path[:-3] + "xyz",
        raw="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 404
    status, _, _ = api.call(
        "POST", path, raw="List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200
    status, started, _ = api.call(
        "POST", "/v1/mailings", {"contact_ids": [anna], "subject": "s", "body": "b"}, headers=bearer(tenant.owner_token)
    )
    run_jobs()
    _, mailing, _ = api.call("GET", started["status_url"], headers=bearer(tenant.owner_token))
    assert mailing["counts"]["suppressed"] == 1 and len(raw_mails()) == 1


def test_bounce_hook_suppresses_hard_bounces_for_the_callers_tenant(
    api: Api, tenant: Tenant, other_tenant: Tenant, run_jobs: Any
) -> None:
    hook = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "gone@example.de"}]},
        "mail": {"headers": []},
    }
    status, answer, _ = api.call("POST", "/v1/mailings/bounces", hook, headers=bearer(tenant.owner_token))
    assert status == 202 and answer == {"suppressed": 1}
    _, user_token = tenant.add_user("u@acme.example")
    status, _, _ = api.call("POST", "/v1/mailings/bounces", hook, headers=bearer(user_token))
    assert status == 403
    mine = contact(tenant, "Gone", "gone@example.de")
    theirs = contact(other_tenant, "Gone", "gone@example.de")
    for who, cid in ((tenant, mine), (other_tenant, theirs)):
        api.call(
            "POST", "/v1/mailings", {"contact_ids": [cid], "subject": "s", "body": "b"}, headers=bearer(who.owner_token)
        )
    run_jobs()
    assert len(raw_mails()) == 1  # only the other tenant's: suppression is per tenant


def test_bounces_queue_consumer_reads_sns_envelopes(aws: None, tenant: Tenant) -> None:
    import json

    from chalicelib.bootstrap import container
    from chalicelib.domain.mailing.unsubscribe import address_digest
    from chalicelib.handlers.mailing.bounces import process_bounce_batch

    message = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "gone@example.de"}]},
        "mail": {"headers": [{"name": "X-CRM-Tenant", "value": tenant.id}]},
    }
    records = [
        {
            "messageId": f"m{i}",
            "receiptHandle": "r",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-central-1:1:crm-bounces",
            "awsRegion": "eu-central-1",
        }
        for i, body in enumerate([json.dumps({"Type": "Notification", "Message": json.dumps(message)}), "not json"])
    ]

    # As on AWS: the bounces function's role reads the suppression list only (no cursor key for the
    # mailing service's unsubscribe tokens), so the consumer must not build the mailing service.
    class Unreachable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("the bounces function built the mailing service")

    container().override(mailings=Unreachable())
    # The unreadable one fails alone: retried, then kept in the dead-letter queue (issue 19.4), not dropped.
    assert process_bounce_batch({"Records": records})["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    assert container().suppressions.is_suppressed(tenant.id, address_digest("gone@example.de"))


def test_access_and_tenant_isolation(api: Api, tenant: Tenant, other_tenant: Tenant, run_jobs: Any) -> None:
    _, user_token = tenant.add_user("user@acme.example")
    anna = contact(tenant, "Anna", "anna@example.de")  # the owner's private contact
    status, _, _ = api.call(
        "POST", "/v1/mailings/preview", {"contact_id": anna, "subject": "s", "body": "b"}, headers=bearer(user_token)
    )
    assert status == 404
    status, started, _ = api.call(
        "POST", "/v1/mailings", {"filter": {}, "subject": "s", "body": "b"}, headers=bearer(user_token)
    )
    assert status == 202
    run_jobs()
    _, mailing, _ = api.call("GET", started["status_url"], headers=bearer(user_token))
    assert mailing["status"] == "done" and mailing["total"] == 0 and raw_mails() == []
    status, _, _ = api.call("GET", started["status_url"], headers=bearer(other_tenant.owner_token))
    assert status == 404
    status, _, _ = api.call("POST", f"{started['status_url']}/cancel", headers=bearer(other_tenant.owner_token))
    assert status == 404


def test_cancel_and_settings(api: Api, tenant: Tenant, run_jobs: Any) -> None:
    anna = contact(tenant, "Anna", "anna@example.de")
    _, started, _ = api.call(
        "POST", "/v1/mailings", {"contact_ids": [anna], "subject": "s", "body": "b"}, headers=bearer(tenant.owner_token)
    )
    status, cancelled, _ = api.call("POST", f"{started['status_url']}/cancel", headers=bearer(tenant.owner_token))
    assert status == 200 and cancelled["status"] == "cancelled"
    run_jobs()
    assert raw_mails() == []
    status, _, _ = api.call("POST", f"{started['status_url']}/cancel", headers=bearer(tenant.owner_token))
    assert status == 200
    status, rate, _ = api.call("GET", "/v1/settings/mailing", headers=bearer(tenant.owner_token))
    assert status == 200 and rate == {"rate_per_second": 14}
    status, rate, _ = api.call(
        "PUT", "/v1/settings/mailing", {"rate_per_second": 2}, headers=bearer(tenant.owner_token)
    )
    assert status == 200 and rate == {"rate_per_second": 2}
    status, _, _ = api.call("PUT", "/v1/settings/mailing", {"rate_per_second": 0}, headers=bearer(tenant.owner_token))
    assert status == 422


@pytest.mark.parametrize(
    "payload", [{"subject": "s", "body": "b"}, {"contact_ids": [], "filter": {}, "subject": "s", "body": "b"}]
)
def test_selection_is_validated(api: Api, tenant: Tenant, payload: dict[str, Any]) -> None:
    status, _, _ = api.call("POST", "/v1/mailings", payload, headers=bearer(tenant.owner_token))
    assert status == 422


def test_the_local_outbox_gets_every_mass_mail_as_eml(
    api: Api, tenant: Tenant, run_jobs: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.config import reset_settings

    monkeypatch.setenv("CRM_OUTBOX_DIR", str(tmp_path))
    reset_settings()
    anna = contact(tenant, "Anna", "anna@example.de")
    api.call(
        "POST",
        "/v1/mailings",
        {"contact_ids": [anna], "subject": "Hi", "body": "b"},
        headers=bearer(tenant.owner_token),
    )
    run_jobs()
    (eml,) = list(tmp_path.glob("*.eml"))
    mail = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["To"] == "anna@example.de" and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
