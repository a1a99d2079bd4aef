"""Web forms through HTTP (WEB-1..3, SET-14): admin routes, the public endpoint,
its abuse limits, CORS and tenant isolation, over moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import Api, Tenant, bearer

RETURN_URL = "https://www.acme.example/thanks"
SITE = "https://www.acme.example"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 5, 6, 10, 0, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(aws: None) -> Clock:
    from chalicelib.bootstrap import container

    fake = Clock()
    container().override(web_form_clock=fake)
    return fake


@pytest.fixture
def client_ip(monkeypatch: pytest.MonkeyPatch):
    """Set the address the next requests come from (chalice's local gateway says 127.0.0.1)."""
    from chalice import local

    def use(address: str) -> None:
        monkeypatch.setattr(local.LambdaEventConverter, "LOCAL_SOURCE_IP", address)

    return use


def make_form(api: Api, tenant: Tenant, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Contact us",
        "fields": [
            {"field": "first_name", "required": True},
            {"field": "last_name", "required": True},
            {"field": "email", "required": True},
            {"field": "phone", "category": "mobile"},
            {"field": "description", "label": "Your message"},
        ],
        "tags": ["Lead", "Website"],
        "return_url": RETURN_URL,
        **overrides,
    }
    status, form, _ = api.call("POST", "/v1/web-forms", body, headers=bearer(tenant.owner_token))
    assert status == 201, form
    return form


def stamp_for(api: Api, key: str) -> str:
    status, described, _ = api.call("GET", f"/v1/forms/{key}", headers={"Accept": "application/json"})
    assert status == 200, described
    return described["crm_stamp"]


def post_form(api: Api, key: str, values: dict[str, str], **headers: str) -> tuple[int, Any, dict[str, str]]:
    return api.call("POST", f"/v1/forms/{key}", raw=urlencode(values), headers={**FORM_HEADERS, **headers})


def post_json(api: Api, key: str, values: dict[str, Any], **headers: str) -> tuple[int, Any, dict[str, str]]:
    return api.call("POST", f"/v1/forms/{key}", values, headers={"Accept": "application/json", **headers})


def contacts(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    status, page, _ = api.call("GET", "/v1/contacts?limit=200", headers=bearer(tenant.owner_token))
    assert status == 200, page
    return page["items"]


def history(api: Api, tenant: Tenant, contact_id: str) -> list[dict[str, Any]]:
    status, page, _ = api.call("GET", f"/v1/contacts/{contact_id}/history", headers=bearer(tenant.owner_token))
    assert status == 200, page
    return page["items"]


ANNA = {"first_name": "Anna", "last_name": "Müller", "email_work": "anna@example.de", "description": "A quote, please"}


def test_a_browser_post_creates_the_contact_with_the_forms_settings_and_redirects(api, tenant, clock):
    colleague, colleague_token = tenant.add_user("sales@acme.example")
    form = make_form(api, tenant, notify_user_ids=[colleague], access="shared_read")
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    sent = {
        **ANNA,
        "phone_mobile": "030 1234567",
        "crm_stamp": stamp,
        "homepage_url": "",
        # A visitor cannot set what the form decides, nor fields it does not ask.
        "managers": colleague,
        "access": "shared_write",
        "tags": "VIP",
        "job_title": "CEO",
    }
    status, body, headers = post_form(api, form["key"], sent)
    assert status == 303, body
    assert headers["location"] == RETURN_URL
    [contact] = contacts(api, tenant)
    assert (contact["first_name"], contact["last_name"], contact["description"]) == (
        "Anna",
        "Müller",
        "A quote, please",
    )
    assert contact["tags"] == ["Lead", "Website"] and contact["access"] == "shared_read"
    assert contact["managers"] == [tenant.owner_id] and contact["job_title"] is None
    assert {(d["type"], d["category"], d["value"]) for d in contact["details"]} == {
        ("email", "work", "anna@example.de"),
        ("phone", "mobile", "+49301234567"),
    }
    [event] = history(api, tenant, contact["id"])
    assert event["kind"] == "system" and "Contact us" in event["text"] and "A quote, please" in event["text"]
    status, inbox, _ = api.call("GET", "/v1/notifications", headers=bearer(colleague_token))
    assert "New contact from the web form “Contact us”: Anna Müller" in [n["subject"] for n in inbox["items"]], inbox
