"""Answers match what /openapi.json declares for them (issue 19, fuzzing).

Each test here holds one finding of `make fuzz` (tests/fuzz/run.py) after its
fix, without the fuzzer: the answer's status must be declared for the
operation, its media type among the declared ones, and a JSON body valid
against the declared schema."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import bearer

PROBLEM = "application/problem+json"


def _declared(spec: dict[str, Any], method: str, template: str, status: int) -> dict[str, Any]:
    responses = spec["paths"][template][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}; declared: {sorted(responses)}"
    answer = responses[str(status)]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return answer


def assert_conforms(
    spec: dict[str, Any], method: str, template: str, answer: tuple[int, Any, dict[str, str]]
) -> dict[str, Any]:
    """The declared response the answer matches (status, media type, JSON schema, required headers)."""
    status, body, headers = answer
    declared = _declared(spec, method, template, status)
    for name, header in declared.get("headers", {}).items():
        if header.get("required"):
            assert name.lower() in headers, f"{method} {template} {status} lacks the header {name}"
    content = declared.get("content")
    if not content:
        return declared
    media_type = headers.get("content-type", "").split(";")[0].strip()
    assert media_type in content, f"{method} {template} {status} answered {media_type}; declared: {sorted(content)}"
    if media_type.endswith("json"):
        schema = {**content[media_type]["schema"], "components": spec["components"]}
        errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
        assert not errors, f"{method} {template} {status}: {errors[0].message} at {list(errors[0].absolute_path)}"
    return declared


@pytest.fixture
def spec(api: Any) -> dict[str, Any]:
    status, document, _ = api.call("GET", "/openapi.json")
    assert status == 200
    return document


@pytest.mark.parametrize("path", ["/v1/webhooks", "/v1/voip/numbers"])
def test_lists_answered_whole_are_declared_as_the_list_envelope(api, spec, tenant, path):
    # Found: their 200 was declared as one record, the answer is {items, next_cursor}.
    answer = api.call("GET", path, headers=bearer(tenant.owner_token))
    assert answer[0] == 200 and answer[1] == {"items": [], "next_cursor": None}
    assert_conforms(spec, "GET", path, answer)


def test_a_list_of_one_webhook_conforms(api, spec, tenant):
    created = api.call(
        "POST",
        "/v1/webhooks",
        {"url": "https://93.184.216.34/hook", "events": ["contact.created"]},  # a public address: no DNS
        headers=bearer(tenant.owner_token),
    )
    assert created[0] == 201, created[1]
    answer = api.call("GET", "/v1/webhooks", headers=bearer(tenant.owner_token))
    assert len(answer[1]["items"]) == 1
    assert_conforms(spec, "GET", "/v1/webhooks", answer)


def test_every_view_returning_a_page_declares_the_envelope(spec):
    # The generator reads the view's return type: a route cannot forget to say it answers a list.
    from chalicelib.handlers.http.openapi import _routes

    for path, method, op, listed in _routes():
        if listed and op.response is not None:
            schema = spec["paths"][path][method.lower()]["responses"][str(op.status)]["content"]["application/json"]
            assert schema["schema"]["required"] == ["items", "next_cursor"], f"{method} {path}"


def test_redirects_declare_a_location_and_no_body(api, spec, tenant):
    # Found: a 302's empty body carried Chalice's default application/json, the document said text/plain.
    status, body, _ = api.call(
        "POST",
        "/v1/imports",
        {"entity": "contacts", "filename": "people.csv"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 201, body
    redirects = [
        (path, method)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if any(code.startswith("3") for code in operation["responses"])
    ]
    assert ("/v1/imports/{import_id}/errors", "get") in redirects
    for path, method in redirects:
        for code, answer in spec["paths"][path][method]["responses"].items():
            if code.startswith("3"):
                assert "content" not in answer and answer["headers"]["Location"]["required"], f"{method} {path}"


def test_docs_assets_declare_their_media_types_and_404(api, spec):
    # Found: an unknown asset answered an undeclared 404; the assets are CSS and JavaScript, not text/plain.
    assert_conforms(spec, "GET", "/docs/{asset}", api.call("GET", "/docs/nope.js"))
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js"):
        assert_conforms(spec, "GET", "/docs/{asset}", api.call("GET", f"/docs/{asset}"))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_invalid_unsubscribe_link_is_a_declared_html_404(api, spec, method):
    # Found: the 404 is a page for the person who clicked, declared as problem+json only.
    form = {"headers": {"Content-Type": "application/x-www-form-urlencoded"}, "raw": ""} if method == "POST" else {}
    answer = api.call(method, "/v1/unsubscribe/not-a-token", **form)
    assert answer[0] == 404 and answer[2]["content-type"].startswith("text/html")
    assert_conforms(spec, method, "/v1/unsubscribe/{token}", answer)


def test_an_invoice_pdf_being_rendered_is_a_declared_202(spec):
    responses = spec["paths"]["/v1/invoices/{invoice_id}/pdf"]["get"]["responses"]
    schema = responses["202"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Rendering"}
    assert "content" not in responses["302"]


def test_every_operation_with_a_path_parameter_declares_404(spec):
    # Found: GET /v1/mailings/{mailing_id} and its /recipients answered an undeclared 404.
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if "{" in path:
                assert "404" in operation["responses"], f"{method} {path}"


@pytest.mark.parametrize("path", ["/v1/mailings/{mailing_id}", "/v1/mailings/{mailing_id}/recipients"])
def test_an_unknown_mailing_is_a_declared_404(api, spec, tenant, path):
    answer = api.call("GET", path.format(mailing_id="01J00000000000000000000000"), headers=bearer(tenant.owner_token))
    assert answer[0] == 404
    assert_conforms(spec, "GET", path, answer)
