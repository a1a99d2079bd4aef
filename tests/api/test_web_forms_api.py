"""Web forms through HTTP (WEB-1..3, SET-14): admin routes, the public endpoint,
its abuse limits, CORS and tenant isolation, over moto."""

from __future__ import annotations

import json
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


def test_json_posts_answer_201_and_422_naming_the_inputs(api, tenant, clock):
    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    status, body, headers = post_json(
        api, form["key"], {"first_name": "Anna", "email_work": "nope", "crm_stamp": stamp}
    )
    assert status == 422 and headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in body["errors"]} == {"last_name", "email_work"}
    assert json.dumps(body).count("nope") == 0, "the answer does not echo what was sent"
    status, body, _ = post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})
    assert status == 201 and body["status"] == "received" and body["id"]
    assert [c["last_name"] for c in contacts(api, tenant)] == ["Müller"]


def test_a_browser_post_with_mistakes_gets_a_page_with_its_answers_and_the_errors(api, tenant, clock):
    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    status, page, headers = post_form(
        api, form["key"], {"first_name": "Anna", "last_name": "", "email_work": "<b>x", "crm_stamp": stamp}
    )
    assert status == 422 and headers["content-type"].startswith("text/html")
    html = page.decode() if isinstance(page, bytes) else page
    assert 'role="alert"' in html and 'aria-invalid="true"' in html
    assert 'value="Anna"' in html and "&lt;b&gt;x" in html and "<b>x" not in html
    assert f'value="{stamp}"' in html, "the visitor's own stamp: the time already spent counts"
    assert contacts(api, tenant) == []


def test_a_known_email_or_phone_adds_to_that_contact_and_tells_its_managers(api, tenant, clock):
    manager, manager_token = tenant.add_user("manager@acme.example")
    status, known, _ = api.call(
        "POST",
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "Anna",
            "last_name": "Known",
            "managers": [manager],
            "details": [{"type": "email", "value": "Anna@Example.de"}, {"type": "phone", "value": "+49 30 999"}],
        },
        headers=bearer(tenant.owner_token),
    )
    assert status == 201, known
    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    new = post_json(api, form["key"], {**ANNA, "email_work": "fresh@example.de", "crm_stamp": stamp})
    by_email = post_json(api, form["key"], {**ANNA, "first_name": "Someone", "crm_stamp": stamp})
    by_phone = post_json(
        api, form["key"], {**ANNA, "email_work": "other@example.de", "phone_mobile": "030999", "crm_stamp": stamp}
    )
    # The answers are alike: nothing tells a visitor that the address was known.
    assert {s for s, _, _ in (new, by_email, by_phone)} == {201}
    assert {tuple(sorted(b)) for _, b, _ in (new, by_email, by_phone)} == {("id", "message", "status")}
    assert sorted(c["last_name"] for c in contacts(api, tenant)) == ["Known", "Müller"]
    events = history(api, tenant, known["id"])
    assert len(events) == 2 and any("Someone" in e["text"] for e in events)
    status, known_now, _ = api.call("GET", f"/v1/contacts/{known['id']}", headers=bearer(tenant.owner_token))
    assert known_now["first_name"] == "Anna" and known_now["version"] == 1, "a visitor never changes a contact"
    _, inbox, _ = api.call("GET", "/v1/notifications", headers=bearer(manager_token))
    assert sum("sent the web form" in n["subject"] for n in inbox["items"]) == 2


def test_honeypot_and_too_fast_posts_look_accepted_and_make_nothing(api, tenant, clock, client_ip):
    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(1)  # faster than a person
    too_fast = post_form(api, form["key"], {**ANNA, "crm_stamp": stamp})
    clock.advance(5)
    honeypot = post_form(api, form["key"], {**ANNA, "crm_stamp": stamp, "homepage_url": "http://spam.example"})
    forged = post_form(api, form["key"], {**ANNA, "crm_stamp": stamp[:-2] + "xx"})
    as_json = post_json(api, form["key"], {**ANNA, "crm_stamp": stamp, "homepage_url": "x"})
    for status, _, headers in (too_fast, honeypot, forged):
        assert (status, headers["location"]) == (303, RETURN_URL)
    assert as_json[0] == 201 and set(as_json[1]) == {"id", "message", "status"}
    assert contacts(api, tenant) == []
    status, body, _ = post_json(api, form["key"], ANNA)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["crm_stamp"], "a missing stamp is said"
    client_ip("192.0.2.10")  # the posts above used up this address's minute
    assert post_form(api, form["key"], {**ANNA, "crm_stamp": stamp})[0] == 303
    assert len(contacts(api, tenant)) == 1


def test_each_client_address_has_its_limit_and_a_retry_after_it_succeeds(api, tenant, clock, client_ip):
    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    client_ip("203.0.113.7")
    answers = [post_json(api, form["key"], {"crm_stamp": stamp})[0] for _ in range(5)]
    assert answers == [422] * 5, "invalid posts count too"
    status, body, headers = post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})
    assert status == 429 and int(headers["retry-after"]) == body["retry_after"] > 0
    status, page, headers = post_form(api, form["key"], {**ANNA, "crm_stamp": stamp})
    assert status == 429 and headers["content-type"].startswith("text/html") and "retry-after" in headers
    assert 'value="Müller"' in (page.decode() if isinstance(page, bytes) else page), "the answers are kept"
    client_ip("198.51.100.1")
    assert post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})[0] == 201, "other addresses are not held up"
    client_ip("203.0.113.7")
    clock.advance(int(headers["retry-after"]))
    assert post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})[0] == 201, "a person's retry succeeds"


def test_the_form_limit_counts_only_what_passed_every_check(api, tenant, clock, client_ip):
    from chalicelib.domain.forms.limits import PER_FORM

    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    for n in range(PER_FORM.hits):
        client_ip(f"10.0.{n // 4}.{n % 4}")
        if n % 2:  # bots on the way cost the form nothing
            assert post_json(api, form["key"], {**ANNA, "crm_stamp": stamp, "homepage_url": "x"})[0] == 201
        status, body, _ = post_json(api, form["key"], {**ANNA, "email_work": f"lead{n}@example.de", "crm_stamp": stamp})
        assert status == 201, (n, body)
    client_ip("10.9.9.9")
    status, body, headers = post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})
    assert status == 429 and int(headers["retry-after"]) >= 1
    clock.advance(int(headers["retry-after"]))
    assert post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})[0] == 201
    assert len(contacts(api, tenant)) == PER_FORM.hits + 1


def test_bodies_over_64_kb_are_refused(api, tenant, clock):
    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    big = {**ANNA, "crm_stamp": stamp, "description": "x" * (64 * 1024)}
    status, body, _ = post_json(api, form["key"], big)
    assert status == 413 and body["status"] == 413
    status, _, headers = post_form(api, form["key"], big)
    assert status == 413 and headers["content-type"].startswith("text/html")
    just_fits = {**ANNA, "crm_stamp": stamp, "description": "ü" * 9_000}
    assert post_form(api, form["key"], just_fits)[0] == 303, "the longest message a form takes fits"
    assert len(contacts(api, tenant)) == 1


def test_cors_answers_only_the_allowed_origins(api, tenant, clock):
    form = make_form(api, tenant, allowed_origins=[SITE, "http://localhost:8080"])
    key = form["key"]
    preflight = {
        "Origin": SITE,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    status, _, headers = api.call("OPTIONS", f"/v1/forms/{key}", headers=preflight)
    assert status == 204
    assert headers["access-control-allow-origin"] == SITE and "POST" in headers["access-control-allow-methods"]
    assert "content-type" in headers["access-control-allow-headers"].lower()
    for origin in ("https://evil.example", "null", "https://www.acme.example.evil.example"):
        status, _, headers = api.call("OPTIONS", f"/v1/forms/{key}", headers={**preflight, "Origin": origin})
        assert status == 403 and "access-control-allow-origin" not in headers
    stamp = stamp_for(api, key)
    clock.advance(5)
    status, _, headers = post_json(api, key, {"crm_stamp": stamp}, Origin="http://localhost:8080")
    assert status == 422 and headers["access-control-allow-origin"] == "http://localhost:8080"
    assert "Retry-After" in headers["access-control-expose-headers"], "scripts may read Retry-After"
    status, _, headers = post_json(api, key, {**ANNA, "crm_stamp": stamp}, Origin="https://evil.example")
    assert status == 201 and "access-control-allow-origin" not in headers
    assert api.call("OPTIONS", "/v1/forms/" + "k" * 43, headers=preflight)[0] == 404


def test_unknown_disabled_and_rotated_keys_are_404(api, tenant, clock):
    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    for key in ("k" * 43, "short", "../../etc", form["key"] + "x"):
        assert post_json(api, key, {**ANNA, "crm_stamp": stamp})[0] == 404
    owner = bearer(tenant.owner_token, **{"If-Match": f'"{form["version"]}"'})
    status, off, _ = api.call("PATCH", f"/v1/web-forms/{form['id']}", {"enabled": False}, headers=owner)
    assert status == 200 and off["enabled"] is False
    assert post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})[0] == 404
    assert api.call("GET", f"/v1/forms/{form['key']}")[0] == 404
    owner = bearer(tenant.owner_token, **{"If-Match": f'"{off["version"]}"'})
    status, on, _ = api.call("PATCH", f"/v1/web-forms/{form['id']}", {"enabled": True}, headers=owner)
    owner = bearer(tenant.owner_token, **{"If-Match": f'"{on["version"]}"', "Idempotency-Key": "rotate-1"})
    status, rotated, _ = api.call("POST", f"/v1/web-forms/{form['id']}/rotate-key", headers=owner)
    assert status == 200 and rotated["key"] != form["key"] and rotated["submit_url"].endswith(rotated["key"])
    status, again, headers = api.call("POST", f"/v1/web-forms/{form['id']}/rotate-key", headers=owner)
    assert (status, again["key"], headers["idempotent-replayed"]) == (200, rotated["key"], "true"), "rotated once"
    assert post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})[0] == 404
    assert post_json(api, rotated["key"], {**ANNA, "crm_stamp": stamp})[0] == 201


def test_only_admins_manage_forms_and_settings_are_checked(api, tenant):
    _, user_token = tenant.add_user("plain@acme.example")
    assert api.call("GET", "/v1/web-forms", headers=bearer(user_token))[0] == 403
    assert api.call("POST", "/v1/web-forms", ANNA_FORM, headers=bearer(user_token))[0] == 403
    body = {"name": "X", "fields": [{"field": "first_name", "required": True}], "return_url": RETURN_URL}
    owner = bearer(tenant.owner_token)
    status, problem, _ = api.call("POST", "/v1/web-forms", body, headers=owner)
    assert status == 422 and "last_name" in json.dumps(problem)
    company = {
        **body,
        "kind": "company",
        "fields": [{"field": "company_name", "required": True}, {"field": "job_title"}],
    }
    assert api.call("POST", "/v1/web-forms", company, headers=owner)[0] == 422
    bad = [
        {"return_url": "javascript:alert(1)"},
        {"allowed_origins": ["https://x.example/path"]},
        {"manager_ids": ["nobody"]},
        {
            "fields": [
                {"field": "first_name", "required": True},
                {"field": "last_name", "required": True},
                {"field": "custom", "custom_field_id": "01HXXXXXXXXXXXXXXXXXXXXXXX"},
            ]
        },
        {
            "fields": [
                {"field": "first_name", "required": True},
                {"field": "last_name", "required": True},
                {"field": "email", "category": "mobile"},
            ]
        },
    ]
    for change in bad:
        status, problem, _ = api.call("POST", "/v1/web-forms", {**ANNA_FORM, **change}, headers=owner)
        assert status == 422, (change, problem)
    status, form, _ = api.call("POST", "/v1/web-forms", ANNA_FORM, headers=owner)
    assert status == 201
    assert form["manager_ids"] == [tenant.owner_id] and form["allowed_origins"] == [SITE] and len(form["key"]) >= 40
    listed = api.call("GET", "/v1/web-forms", headers=owner)[1]
    assert [f["id"] for f in listed["items"]] == [form["id"]]
    assert api.call("DELETE", f"/v1/web-forms/{form['id']}", headers=owner)[0] == 204
    assert api.call("GET", f"/v1/forms/{form['key']}")[0] == 404


ANNA_FORM = {
    "name": "Leads",
    "fields": [{"field": "first_name", "required": True}, {"field": "last_name", "required": True}],
    "return_url": RETURN_URL,
}


def test_forms_and_their_leads_stay_in_their_tenant(api, tenant, other_tenant, clock):
    form = make_form(api, tenant)
    other = bearer(other_tenant.owner_token)
    assert api.call("GET", f"/v1/web-forms/{form['id']}", headers=other)[0] == 404
    assert api.call("GET", f"/v1/web-forms/{form['id']}/snippet", headers=other)[0] == 404
    assert (
        api.call("PATCH", f"/v1/web-forms/{form['id']}", {"name": "x"}, headers={**other, "If-Match": '"1"'})[0] == 404
    )
    assert api.call("DELETE", f"/v1/web-forms/{form['id']}", headers=other)[0] == 404
    assert api.call("GET", "/v1/web-forms", headers=other)[1]["items"] == []
    # The other tenant knows the same person: the lead still goes to the form's tenant, and only there.
    api.call(
        "POST",
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "A",
            "last_name": "B",
            "details": [{"type": "email", "value": ANNA["email_work"]}],
        },
        headers=other,
    )
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    assert post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})[0] == 201
    assert [c["last_name"] for c in contacts(api, tenant)] == ["Müller"]
    assert [c["last_name"] for c in contacts(api, other_tenant)] == ["B"]
    # A stamp is bound to its form: another tenant's form does not take it.
    theirs = make_form(api, other_tenant)
    assert post_json(api, theirs["key"], {**ANNA, "crm_stamp": stamp})[0] == 201
    assert [c["last_name"] for c in contacts(api, other_tenant)] == ["B"], "dropped as forged"


def test_the_snippet_is_an_accessible_form_without_script(api, tenant):
    status, field, _ = api.call(
        "POST",
        "/v1/custom-fields",
        {"entity": "person", "label": "Budget", "type": "select", "options": ["small", "large"]},
        headers=bearer(tenant.owner_token),
    )
    assert status == 201, field
    form = make_form(
        api,
        tenant,
        fields=[
            {"field": "first_name", "required": True},
            {"field": "last_name", "required": True},
            {"field": "email", "required": True},
            {"field": "address", "category": "billing", "required": True},
            {"field": "custom", "custom_field_id": field["id"], "required": True},
        ],
        consent_text="You may store my answers.",
    )
    status, html, headers = api.call("GET", f"/v1/web-forms/{form['id']}/snippet", headers=bearer(tenant.owner_token))
    html = html.decode() if isinstance(html, bytes) else html
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "<script" not in html and " on" not in html.replace(" one", ""), "no script, no inline handlers"
    assert f'action="http://localhost/v1/forms/{form["key"]}"' in html or f'/v1/forms/{form["key"]}"' in html
    for label, autocomplete in (
        ("First name", "given-name"),
        ("Last name", "family-name"),
        ("E-mail", "work email"),
        ("Postcode", "billing postal-code"),
    ):
        assert f">{label}" in html and f'autocomplete="{autocomplete}"' in html
    assert html.count("<label") >= 10 and html.count(" required") >= 8
    assert 'name="homepage_url"' in html and 'tabindex="-1"' in html and 'aria-hidden="true"' in html
    assert 'name="crm_stamp"' in html and "Budget" in html and "You may store my answers." in html
    status, scripted, _ = api.call(
        "GET", f"/v1/web-forms/{form['id']}/snippet?variant=js", headers=bearer(tenant.owner_token)
    )
    scripted = scripted.decode() if isinstance(scripted, bytes) else scripted
    assert f'/v1/forms/{form["key"]}/embed.js" defer></script>' in scripted and "data-crm-form" in scripted
    status, script, headers = api.call("GET", f"/v1/forms/{form['key']}/embed.js")
    assert status == 200 and headers["content-type"].startswith("application/javascript")
    assert headers["cache-control"] == "no-store"


def test_a_submission_that_cannot_be_processed_now_is_queued_and_made_later(api, tenant, clock, run_jobs):
    from chalicelib.bootstrap import container

    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(5)
    real = container().history_store

    class Down:
        def add_event(self, event: Any) -> None:
            from chalicelib.domain.shared.errors import TemporarilyUnavailable

            raise TemporarilyUnavailable("The database is busy; please retry.")

    container().override(history_store=Down(), web_form_clock=clock)
    status, body, _ = post_json(api, form["key"], {**ANNA, "crm_stamp": stamp})
    assert status == 201, body
    container().override(history_store=real, web_form_clock=clock)
    assert run_jobs()["failures"] == []
    [contact] = contacts(api, tenant)
    assert len(history(api, tenant, contact["id"])) == 1
    assert run_jobs()["handled"] == 0
