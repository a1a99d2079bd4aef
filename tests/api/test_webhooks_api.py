"""Outgoing webhooks through the HTTP API over moto (issue 18, points 5 and 6):
the secret shown once, admins only, tenants apart, If-Match, the SSRF guard
at subscribe time, the delivery log and replays; and end to end: a contact
written through the API reaches a receiver on loopback through the table's
stream, the jobs queue and a real HTTP request, verified with the Standard
Webhooks library as a receiver would, while a failed write sends nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import Api, Tenant, bearer

PUBLIC_URL = "https://93.184.216.34/hook"


class Receiver:
    """A tiny HTTP server on loopback that records what it is sent."""

    def __init__(self, answers: list[tuple[int, dict[str, str]]] | None = None):
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.answers = list(answers or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_allowed(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test stage allows loopback receivers, as the local stack does."""
    from chalicelib import bootstrap
    from chalicelib.config import get_settings, reset_settings

    monkeypatch.setenv("CRM_WEBHOOKS_ALLOW_LOOPBACK", "1")
    reset_settings()
    bootstrap.reset()
    # Read now, as the aws fixture does: inside a call the test client sets its own stage ("dev").
    assert get_settings().webhooks_allow_loopback


def pump_stream() -> dict[str, Any]:
    """What Lambda's stream mapping (or the local pump) does: the new records to the handler."""
    from chalicelib.handlers.background.webhooks import process_stream_batch
    from chalicelib.storage.webhooks import StreamTail

    global _tail
    if _tail is None:
        _tail = StreamTail()
    records = _tail.read(1000)
    return {"records": records, **(process_stream_batch({"Records": records}) if records else {})}


_tail: Any = None


@pytest.fixture(autouse=True)
def _fresh_tail() -> Iterator[None]:
    global _tail
    _tail = None
    yield
    _tail = None


def subscribe(api: Api, tenant: Tenant, url: str = PUBLIC_URL, events: list[str] | None = None) -> dict[str, Any]:
    status, body, headers = api.call(
        "POST",
        "/v1/webhooks",
        {"url": url, "events": events or ["contact.created", "contact.updated"], "description": "ERP sync"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 201, body
    assert headers["cache-control"] == "no-store"
    return body


# ---- end to end ----


def test_a_contact_update_reaches_a_receiver_signed_and_a_failed_write_sends_nothing(
    api, tenant, run_jobs, loopback_allowed
):
    with Receiver() as receiver:
        hook = subscribe(api, tenant, url=receiver.url)
        secret = hook["secret"]
        owner = bearer(tenant.owner_token)
        status, made, _ = api.call(
            "POST", "/v1/contacts", {"kind": "person", "first_name": "Ann", "last_name": "Lee"}, headers=owner
        )
        assert status == 201
        path = f"/v1/contacts/{made['id']}"
        status, _, _ = api.call("PATCH", path, {"first_name": "Anna"}, headers={**owner, "If-Match": '"1"'})
        assert status == 200
        # A stale write fails its condition: it is in no stream, so it reaches nobody.
        status, _, _ = api.call("PATCH", path, {"first_name": "Stale"}, headers={**owner, "If-Match": '"1"'})
        assert status == 412

        pumped = pump_stream()
        assert pumped["batchItemFailures"] == []
        assert "Stale" not in json.dumps(pumped["records"])
        assert run_jobs()["failures"] == []

        assert [p for p, _, _ in receiver.received] == ["/hook", "/hook"]
        bodies = [Webhook(secret).verify(body, headers) for _, headers, body in receiver.received]
        assert [b["type"] for b in bodies] == ["contact.created", "contact.updated"]
        created, updated = bodies
        assert created["data"]["id"] == made["id"] and created["data"]["new"]["first_name"] == "Ann"
        assert updated["data"]["new"]["first_name"] == "Anna" and updated["data"]["new"]["version"] == 2
        assert updated["data"]["old"]["first_name"] == "Ann" and "last_name" not in updated["data"]["old"]
        assert all(h["webhook-id"] == b["id"] for (_, h, _), b in zip(receiver.received, bodies, strict=True))

        status, log, _ = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", headers=owner)
        assert status == 200
        assert [(d["event_type"], d["status"], d["attempts"]) for d in log["items"]] == [
            ("contact.updated", "delivered", 1),
            ("contact.created", "delivered", 1),
        ]
        # Nothing new: the stream read again queues nothing and sends nothing.
        pump_stream()
        run_jobs()
        assert len(receiver.received) == 2


def test_a_failed_attempt_is_retried_later_and_a_replay_sends_again(api, tenant, run_jobs, loopback_allowed):
    from chalicelib.domain.webhooks.service import RETRY_DELAYS

    with Receiver(answers=[(500, {}), (200, {})]) as receiver:
        hook = subscribe(api, tenant, url=receiver.url, events=["deal.created"])
        owner = bearer(tenant.owner_token)
        assert api.call("POST", "/v1/deals", {"title": "ERP"}, headers=owner)[0] == 201
        pump_stream()
        run_jobs()  # the first attempt fails (500); the second waits 10 s on the queue
        status, log, _ = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", headers=owner)
        [delivery] = log["items"]
        assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("pending", 1, 500)
        assert delivery["next_attempt_at"] is not None and RETRY_DELAYS[0].total_seconds() == 10

        status, replayed, _ = api.call(
            "POST", f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/replay", headers=owner
        )
        assert status == 202 and replayed["replays"] == 1 and replayed["attempts"] == 0
        run_jobs()  # moto does not hold the delayed retry: it is stale after the replay and does nothing
        assert len(receiver.received) == 2
        status, one, _ = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}", headers=owner)
        assert one["status"] == "delivered" and one["payload"]["type"] == "deal.created"


def test_a_redirect_is_not_followed(loopback_allowed):
    from chalicelib.domain.webhooks.targets import parse
    from chalicelib.storage.webhooks import HttpSender

    with Receiver(answers=[(302, {"Location": "http://10.0.0.1/admin"})]) as receiver:
        target = parse(receiver.url, allow_loopback=True)
        answer = HttpSender().post(target, "127.0.0.1", {"content-type": "application/json"}, b"{}")
    assert answer.status == 302 and not answer.ok and answer.error == "redirect not followed"
    assert len(receiver.received) == 1


def test_a_range_replay_sends_the_deliveries_of_the_range(api, tenant, run_jobs, loopback_allowed):
    with Receiver() as receiver:
        hook = subscribe(api, tenant, url=receiver.url, events=["task.created"])
        owner = bearer(tenant.owner_token)
        for title in ("One", "Two"):
            assert (
                api.call("POST", "/v1/tasks", {"title": title, "due_at": "2030-01-01T10:00:00Z"}, headers=owner)[0]
                == 201
            )
        pump_stream()
        run_jobs()
        assert len(receiver.received) == 2
        body = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
        status, queued, _ = api.call("POST", f"/v1/webhooks/{hook['id']}/deliveries/replay", body, headers=owner)
        assert status == 202 and queued["status"] == "queued"
        run_jobs()
        assert len(receiver.received) == 4
        status, problem, _ = api.call(
            "POST",
            f"/v1/webhooks/{hook['id']}/deliveries/replay",
            {"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
            headers=owner,
        )
        assert status == 422


# ---- the API ----


def test_the_secret_is_answered_once_and_rotation_answers_a_new_one(api, tenant):
    hook = subscribe(api, tenant)
    secret = hook["secret"]
    owner = bearer(tenant.owner_token)
    for path in ("/v1/webhooks", f"/v1/webhooks/{hook['id']}"):
        status, body, _ = api.call("GET", path, headers=owner)
        views = body["items"] if "items" in body else [body]
        assert status == 200 and all("secret" not in view for view in views)
        assert secret not in json.dumps(body)
    status, rotated, headers = api.call(
        "POST", f"/v1/webhooks/{hook['id']}/rotate-secret", headers={**owner, "Idempotency-Key": "rot-1"}
    )
    assert status == 200 and rotated["secret"] != secret and rotated["previous_secret_until"]
    assert headers["cache-control"] == "no-store"
    again = api.call("POST", f"/v1/webhooks/{hook['id']}/rotate-secret", headers={**owner, "Idempotency-Key": "rot-1"})
    assert again[1]["secret"] == rotated["secret"] and again[2].get("idempotent-replayed") == "true"
    assert api.call("GET", f"/v1/webhooks/{hook['id']}", headers=owner)[1]["version"] == 2


def test_only_admins_and_only_their_tenant(api, tenant, other_tenant):
    hook = subscribe(api, tenant)
    _, user_token = tenant.add_user("user@acme.example")
    user = bearer(user_token)
    assert api.call("GET", "/v1/webhooks", headers=user)[0] == 403
    assert api.call("POST", "/v1/webhooks", {"url": PUBLIC_URL, "events": ["deal.created"]}, headers=user)[0] == 403
    assert api.call("GET", f"/v1/webhooks/{hook['id']}", headers=user)[0] == 403
    _, admin_token = tenant.add_user("admin@acme.example", role="admin")
    assert api.call("GET", f"/v1/webhooks/{hook['id']}", headers=bearer(admin_token))[0] == 200
    stranger = bearer(other_tenant.owner_token)
    assert api.call("GET", "/v1/webhooks", headers=stranger)[1]["items"] == []
    for method, path in (
        ("GET", f"/v1/webhooks/{hook['id']}"),
        ("GET", f"/v1/webhooks/{hook['id']}/deliveries"),
        ("POST", f"/v1/webhooks/{hook['id']}/rotate-secret"),
        ("POST", f"/v1/webhooks/{hook['id']}/deliveries/01J00000000000000000000000/replay"),
        ("DELETE", f"/v1/webhooks/{hook['id']}"),
    ):
        assert api.call(method, path, headers=stranger)[0] == 404, (method, path)
    assert api.call("GET", f"/v1/webhooks/{hook['id']}", headers=bearer(tenant.owner_token))[0] == 200


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[fd12::1]/hook",
        "http://93.184.216.34/hook",
    ],
)
def test_forbidden_targets_are_refused_at_subscribe_time(api, tenant, url):
    status, problem, headers = api.call(
        "POST", "/v1/webhooks", {"url": url, "events": ["deal.created"]}, headers=bearer(tenant.owner_token)
    )
    assert status == 422 and headers["content-type"] == "application/problem+json"
    assert problem["errors"][0]["field"] == "url"


def test_loopback_is_refused_where_the_stage_does_not_allow_it(api, tenant):
    status, _, _ = api.call(
        "POST",
        "/v1/webhooks",
        {"url": "http://127.0.0.1:8080/hook", "events": ["deal.created"]},
        headers=bearer(tenant.owner_token),
    )
    assert status == 422


def test_changes_need_the_current_version_and_delete_removes(api, tenant):
    hook = subscribe(api, tenant)
    owner = bearer(tenant.owner_token)
    path = f"/v1/webhooks/{hook['id']}"
    assert api.call("PATCH", path, {"enabled": False}, headers=owner)[0] == 428
    status, changed, headers = api.call("PATCH", path, {"enabled": False}, headers={**owner, "If-Match": '"1"'})
    assert status == 200 and changed["enabled"] is False and headers["etag"] == '"2"'
    assert api.call("PATCH", path, {"description": "x"}, headers={**owner, "If-Match": '"1"'})[0] == 412
    assert api.call("PATCH", path, {"url": "https://10.1.1.1/x"}, headers={**owner, "If-Match": '"2"'})[0] == 422
    assert api.call("PATCH", path, {"events": ["nope"]}, headers={**owner, "If-Match": '"2"'})[0] == 422
    assert api.call("PATCH", path, {"url": None}, headers={**owner, "If-Match": '"2"'})[0] == 422
    assert api.call("DELETE", path, headers={**owner, "If-Match": '"1"'})[0] == 412
    assert api.call("DELETE", path, headers=owner)[0] == 204
    assert api.call("GET", path, headers=owner)[0] == 404


def test_the_delivery_log_is_paged_with_cursors_bound_to_the_webhook(api, tenant, run_jobs, loopback_allowed):
    owner = bearer(tenant.owner_token)
    with Receiver() as receiver:
        hook = subscribe(api, tenant, url=receiver.url, events=["case.created"])
        other = subscribe(api, tenant, url=receiver.url, events=["case.created"])
        for title in ("A", "B", "C"):
            api.call("POST", "/v1/cases", {"title": title}, headers=owner)
        pump_stream()
        run_jobs()
    status, first, _ = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries?limit=2", headers=owner)
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    cursor = first["next_cursor"]
    status, rest, _ = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries?limit=2&cursor={cursor}", headers=owner)
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert api.call("GET", f"/v1/webhooks/{other['id']}/deliveries?limit=2&cursor={cursor}", headers=owner)[0] == 400


def test_the_webhook_routes_are_in_openapi(api):
    status, spec, _ = api.call("GET", "/openapi.json")
    assert status == 200
    for path in (
        "/v1/webhooks",
        "/v1/webhooks/{webhook_id}",
        "/v1/webhooks/{webhook_id}/deliveries",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    ):
        assert path in spec["paths"], path
    assert set(spec["paths"]["/v1/webhooks"]) >= {"get", "post"}
    assert set(spec["paths"]["/v1/webhooks/{webhook_id}"]) >= {"get", "patch", "delete"}


# ---- invoices (their line in RECORD_EVENTS) ----


def test_an_invoice_created_and_billed_reaches_the_receiver(api, tenant, run_jobs, loopback_allowed):
    owner = bearer(tenant.owner_token)
    settings = {
        "company_name": "Acme GmbH",
        "address": {"street": "Hauptstr. 5", "city": "München", "zip": "80331", "country": "DE"},
    }
    assert api.call("PUT", "/v1/settings/invoices", settings, headers=owner)[0] == 200
    status, client, _ = api.call(
        "POST", "/v1/contacts", {"kind": "company", "company_name": "Müller GmbH"}, headers=owner
    )
    assert status == 201
    with Receiver() as receiver:
        hook = subscribe(api, tenant, url=receiver.url, events=["invoice.created", "invoice.status_changed"])
        body = {"client_id": client["id"], "lines": [{"title": "Consulting", "quantity": "3", "price": "19.99"}]}
        status, invoice, _ = api.call("POST", "/v1/invoices", body, headers=owner)
        assert status == 201, invoice
        status, billed, _ = api.call(
            "PUT", f"/v1/invoices/{invoice['id']}/status", {"status": "billed"}, headers={**owner, "If-Match": '"1"'}
        )
        assert status == 200, billed
        pump_stream()
        run_jobs()
        events = [Webhook(hook["secret"]).verify(b, h) for _, h, b in receiver.received]
    assert [e["type"] for e in events] == ["invoice.created", "invoice.status_changed"]
    created, changed = events
    assert created["data"]["id"] == invoice["id"] and created["data"]["new"]["status"] == "draft"
    assert changed["data"]["new"]["status"] == "billed" and changed["data"]["old"]["status"] == "draft"


def test_erasing_a_contact_removes_the_deliveries_that_carried_it(api, tenant, run_jobs, loopback_allowed):
    from chalicelib.storage.dynamo.table import Table

    with Receiver() as receiver:
        hook = subscribe(api, tenant, url=receiver.url)
        owner = bearer(tenant.owner_token)
        made = [
            api.call(
                "POST", "/v1/contacts", {"kind": "person", "first_name": name, "last_name": "Quist"}, headers=owner
            )
            for name in ("Zelda", "Other")
        ]
        assert [status for status, _, _ in made] == [201, 201]
        assert pump_stream()["batchItemFailures"] == []
        assert run_jobs()["failures"] == []
        assert len(receiver.received) == 2

    def delivered() -> list[str]:
        status, log, _ = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", headers=owner)
        assert status == 200
        return sorted(d["event_type"] for d in log["items"])

    def zelda_items() -> int:
        return sum("Zelda" in repr(item) for item in Table().scan() if "WEBHOOK#" in item["pk"])

    assert delivered() == ["contact.created", "contact.created"] and zelda_items() == 1
    status, _, _ = api.call("POST", f"/v1/contacts/{made[0][1]['id']}/erase", headers=owner)
    assert status == 202
    assert run_jobs()["failures"] == []
    assert delivered() == ["contact.created"] and zelda_items() == 0
