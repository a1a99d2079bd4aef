"""Issue 10's defects, each pinned by a test that failed before its fix:
one manager at least, one ISO 4217 check, null on a required field, the API
details a client trips over, dates outside ULID's range, and job logs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests.conftest import bearer

PERSON = {"kind": "person", "first_name": "Anna", "last_name": "Müller"}


def create(api, token, path, body):
    status, created, _ = api.call("POST", path, body, headers=bearer(token))
    assert status == 201, created
    return created


# ---- 4: a contact keeps at least one manager, on every path ----


@pytest.mark.parametrize("managers", [[], None])
def test_a_contact_cannot_lose_all_its_managers(api, tenant, managers):
    contact = create(api, tenant.owner_token, "/v1/contacts", PERSON)
    status, problem, _ = api.call(
        "PATCH",
        f"/v1/contacts/{contact['id']}",
        {"managers": managers},
        headers=bearer(tenant.owner_token, **{"If-Match": '"1"'}),
    )
    assert status == 422 and problem["errors"][0]["field"].startswith("managers"), problem
    status, problem, _ = api.call(
        "POST",
        "/v1/contacts/bulk",
        {"ids": [contact["id"]], "action": "set_managers", "managers": []},
        headers=bearer(tenant.owner_token),
    )
    assert status == 422, problem


# ---- 5: one ISO 4217 check everywhere a currency is accepted ----


@pytest.mark.parametrize(
    "path, body", [("/v1/contacts", {**PERSON, "currency": "XYZ"}), ("/v1/deals", {"title": "ERP", "currency": "XYZ"})]
)
def test_an_unknown_currency_is_refused_everywhere(api, tenant, path, body):
    status, problem, _ = api.call("POST", path, body, headers=bearer(tenant.owner_token))
    assert status == 422 and problem["errors"][0]["field"] == "currency", problem


def test_currencies_carry_iso_4217_minor_units(api, tenant):
    status, page, _ = api.call("GET", "/v1/currencies", headers=bearer(tenant.owner_token))
    units = {c["code"]: c["minor_units"] for c in (page["items"] if isinstance(page, dict) else page)}
    # CLDR (Babel) says 0 for AFN and ALL; ISO 4217 says 2.
    assert units["AFN"] == 2 and units["ALL"] == 2 and units["JPY"] == 0 and units["BHD"] == 3
    assert "XAU" not in units and "CHW" not in units


# ---- 6: null on a required field is a 422 everywhere ----


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/v1/cases", {"title": "Summit"}, "title"),
        ("/v1/deals", {"title": "ERP"}, "title"),
        ("/v1/deals", {"title": "ERP"}, "currency"),
        ("/v1/deals", {"title": "ERP"}, "probability"),
        ("/v1/contacts", PERSON, "access"),
    ],
)
def test_null_on_a_required_field_is_refused(api, tenant, path, body, field):
    record = create(api, tenant.owner_token, path, body)
    status, problem, _ = api.call(
        "PATCH", f"{path}/{record['id']}", {field: None}, headers=bearer(tenant.owner_token, **{"If-Match": '"1"'})
    )
    assert status == 422 and problem["errors"][0]["field"] == field, problem


def test_patching_a_deal_stage_names_the_operation_that_does_it(api, tenant):
    deal = create(api, tenant.owner_token, "/v1/deals", {"title": "ERP"})
    status, problem, _ = api.call(
        "PATCH", f"/v1/deals/{deal['id']}", {"stage_id": "x"}, headers=bearer(tenant.owner_token, **{"If-Match": '"1"'})
    )
    assert status == 422 and "PUT /v1/deals/{id}/stage" in json.dumps(problem)


# ---- 9: details a client trips over ----


@pytest.mark.parametrize("limit", ["0", "-5", "1000", "abc"])
def test_a_limit_outside_1_to_200_is_a_422(api, tenant, limit):
    status, problem, _ = api.call("GET", f"/v1/contacts?limit={limit}", headers=bearer(tenant.owner_token))
    assert status == 422 and problem["errors"][0]["field"] == "limit"


def test_the_428_hint_does_not_invent_a_version(api, tenant):
    contact = create(api, tenant.owner_token, "/v1/contacts", PERSON)
    api.call(
        "PATCH",
        f"/v1/contacts/{contact['id']}",
        {"job_title": "CFO"},
        headers=bearer(tenant.owner_token, **{"If-Match": '"1"'}),
    )
    status, problem, _ = api.call(
        "PATCH", f"/v1/contacts/{contact['id']}", {"job_title": "CEO"}, headers=bearer(tenant.owner_token)
    )
    assert status == 428 and '"3"' not in problem["detail"] and f"/v1/contacts/{contact['id']}" in problem["detail"]


def test_a_weak_etag_never_matches(api, tenant):
    contact = create(api, tenant.owner_token, "/v1/contacts", PERSON)
    status, _, _ = api.call(
        "PATCH",
        f"/v1/contacts/{contact['id']}",
        {"job_title": "CFO"},
        headers=bearer(tenant.owner_token, **{"If-Match": 'W/"1"'}),
    )
    assert status == 412


def test_401_names_the_bearer_scheme(api):
    status, _, headers = api.call("GET", "/v1/me")
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "path, assets, spec",
    [("/docs", "docs/swagger-ui", '"openapi.json"'), ("/docs/", '"swagger-ui', '"../openapi.json"')],
)
def test_the_docs_page_finds_its_assets_with_or_without_a_trailing_slash(client, path, assets, spec):
    response = client.http.get(path)
    body = response.body.decode()
    assert response.status_code == 200 and assets in body and spec in body
    assert "validatorUrl: null" in body


def test_the_change_log_records_photo_numbers_as_numbers(api, tenant):
    from PIL import Image

    contact = create(api, tenant.owner_token, "/v1/contacts", PERSON)
    images = []
    for size in ((400, 600), (100, 100)):
        out = io.BytesIO()
        Image.new("RGB", size, "red").save(out, "JPEG")
        images.append(out.getvalue())
    for image in images:
        status, _, _ = api.call(
            "PUT",
            f"/v1/contacts/{contact['id']}/photo",
            raw=image,
            headers=bearer(tenant.owner_token, **{"Content-Type": "image/jpeg"}),
        )
        assert status == 200
    status, page, _ = api.call("GET", f"/v1/contacts/{contact['id']}/changes", headers=bearer(tenant.owner_token))
    photo_change = next(
        c for entry in page["items"] for c in entry["changes"] if c["field"] == "photo" and c.get("old")
    )
    assert photo_change["old"]["width"] == 200 and photo_change["new"]["width"] == 100


# ---- 10: dates outside ULID's range are filters, not 500s ----


@pytest.mark.parametrize(
    "query",
    [
        "sort=created&created_from=1969-12-31T00:00:00Z",
        "sort=-created&created_to=1900-01-01T00:00:00Z",
        "sort=created&created_from=9999-12-31T00:00:00Z",
    ],
)
def test_created_filters_before_the_epoch_or_far_ahead_answer_200(api, tenant, query):
    create(api, tenant.owner_token, "/v1/contacts", PERSON)
    status, page, _ = api.call("GET", f"/v1/contacts?{query}", headers=bearer(tenant.owner_token))
    assert status == 200, page
    assert len(page["items"]) == (1 if "1969" in query else 0)


# ---- 12: every job logs its kind, tenant and outcome, never its body ----


def test_each_job_logs_kind_tenant_and_outcome_without_its_body(api, tenant, run_jobs, monkeypatch):
    from chalicelib.observability import logger

    contact = create(api, tenant.owner_token, "/v1/contacts", {**PERSON, "first_name": "Secretname"})
    api.call("DELETE", f"/v1/contacts/{contact['id']}", headers=bearer(tenant.owner_token))
    written = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", written)
    previous = logger.log_level
    logger.setLevel(logging.INFO)
    try:
        assert run_jobs()["failures"] == []
    finally:
        logger.setLevel(previous)
    lines = [json.loads(line) for line in written.getvalue().splitlines() if line.startswith("{")]
    done = [line for line in lines if line.get("message") == "job done"]
    # Each cascade of the deleted contact is its own message (bootstrap/events.py).
    assert {line["subscriber"] for line in done} == {
        "history.delete_for_parent",
        "tasks.follow_deleted_parent",
        "contacts.forget_photo",
        "contacts.unlink_persons",
        "deals.unlink_contact",
        "cases.unlink_contact",
    }
    assert all(
        line["job_kind"] == "event"
        and line["tenant_id"] == tenant.id
        and line["outcome"] == "done"
        and "route" not in line
        for line in done
    )
    assert not any("Secretname" in json.dumps(line) for line in lines)
