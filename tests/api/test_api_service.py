"""Service endpoints and the error contract, through chalice.test.Client."""

import json

import pytest
from chalice import Blueprint, Chalice
from chalice.test import Client
from openapi_spec_validator import validate
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.shared.errors import Conflict
from chalicelib.handlers.http.middleware import request_context
from chalicelib.handlers.http.routing import route
from tests.conftest import Api


def test_health_answers_ok(api):
    status, body, headers = api.call("GET", "/health")
    assert (status, body) == (200, {"status": "ok"})
    assert headers["content-type"] == "application/json"


def test_openapi_is_valid_3_1_and_lists_the_routes(api):
    status, spec, _ = api.call("GET", "/openapi.json")
    assert status == 200
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    assert {"/health", "/openapi.json", "/docs"} <= set(spec["paths"])
    assert not any(path.startswith("/{p0}") for path in spec["paths"]), "catch-all routes stay out of the spec"
    health = spec["paths"]["/health"]["get"]
    assert health["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Health")
    assert "bearer" in spec["components"]["securitySchemes"]


def test_docs_render_from_our_own_assets(api):
    status, html, headers = api.call("GET", "/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = html.decode() if isinstance(html, bytes) else html
    assert "https://" not in page, "the page must render without internet access"
    for asset in ("docs/swagger-ui-bundle.js", "docs/swagger-ui.css"):
        assert asset in page
        status, body, headers = api.call("GET", "/" + asset)
        assert status == 200 and len(body) > 10_000
    assert api.call("GET", "/docs/../../etc/passwd")[0] == 404
    assert api.call("GET", "/docs/LICENSE")[0] == 404


def assert_problem(status_expected, response):
    status, body, headers = response
    assert status == status_expected
    assert headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status_expected
    assert "Traceback" not in json.dumps(body)
    return body


def test_unknown_route_is_a_404_problem(api):
    for path in ("/nope", "/v1/nothing/here", "/a/b/c/d/e/f"):
        assert_problem(404, api.call("GET", path))


def test_wrong_method_is_a_405_problem(api):
    body = assert_problem(405, api.call("DELETE", "/health"))
    assert "DELETE" in body["detail"]


# ---- the route decorator, on a small app of its own ----


class Widget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=20)
    size: int = Field(ge=0)


@pytest.fixture
def widget_api(aws):
    bp = Blueprint("widgets")

    @route(bp, "/widgets", "POST", summary="make", tag="t", body=Widget, response=Widget, status=201, public=True)
    def make(call):
        if call.body.name == "taken":
            raise Conflict("A widget with that name exists.")
        if call.body.name == "boom":
            raise RuntimeError("secret internals /var/task/app.py")
        return call.body

    app = Chalice(app_name="widgets")
    app.register_middleware(request_context, "http")
    app.register_blueprint(bp)
    with Client(app) as client:
        yield Api(client)


def test_valid_body_is_created(widget_api):
    status, body, _ = widget_api.call("POST", "/widgets", {"name": "a", "size": 1})
    assert (status, body) == (201, {"name": "a", "size": 1})


def test_malformed_json_is_400(widget_api):
    assert_problem(400, widget_api.call("POST", "/widgets", raw="{not json"))


def test_invalid_fields_are_422_with_field_errors(widget_api):
    body = assert_problem(422, widget_api.call("POST", "/widgets", {"name": "", "size": -1, "extra": 1}))
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"name", "size", "extra"}
    assert all(e["message"] for e in body["errors"])


def test_wrong_content_type_is_415(widget_api):
    assert_problem(415, widget_api.call("POST", "/widgets", raw="name=a", headers={"Content-Type": "text/plain"}))


def test_body_over_the_limit_is_413(widget_api, monkeypatch):
    from chalicelib.config import reset_settings

    monkeypatch.setenv("CRM_MAX_BODY_BYTES", "100")
    reset_settings()
    assert_problem(413, widget_api.call("POST", "/widgets", {"name": "a" * 200, "size": 1}))


def test_domain_error_maps_to_its_status(widget_api):
    body = assert_problem(409, widget_api.call("POST", "/widgets", {"name": "taken", "size": 1}))
    assert body["detail"] == "A widget with that name exists."


def test_a_bug_is_a_500_problem_without_internals(widget_api):
    body = assert_problem(500, widget_api.call("POST", "/widgets", {"name": "boom", "size": 1}))
    assert "secret" not in json.dumps(body) and "/var/task" not in json.dumps(body)
