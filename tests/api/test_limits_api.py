"""Limits over HTTP (issue 19, point 5): RateLimit fields and 429 per token and
per client address, 413 on every route, security headers on every answer,
and the login throttle under parallel attempts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import OWNER_PASSWORD, Tenant, bearer

# 30 seconds into a minute: 30 seconds to the window's end.
NOW = datetime(2030, 1, 7, 9, 15, 30, tzinfo=UTC)
JSON = "application/json"


def _limits(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    from chalicelib import bootstrap
    from chalicelib.config import reset_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    bootstrap.reset()
    bootstrap.container().override(rate_limit_clock=lambda: NOW)


@pytest.fixture
def low_token_limit(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, CRM_RATE_LIMIT_TOKEN="3/60")


@pytest.fixture
def low_client_limit(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, CRM_RATE_LIMIT_IP="3/60")


def _assert_secure(headers: dict[str, str], *, what: str, page: bool = False) -> None:
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") == "no-referrer", what
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors" in csp, what
    if not page:
        assert "frame-ancestors 'none'" in csp and headers.get("x-frame-options") == "DENY", what
        assert "default-src 'none'" in csp, what


# ---- rate limits ----


def test_every_answer_says_its_policy_and_what_is_left(api, tenant):
    status, _, headers = api.call("GET", "/v1/contacts", headers=bearer(tenant.owner_token))
    assert status == 200
    assert headers["ratelimit-policy"] == '"token";q=100000;w=60', "test stage: a limit no test reaches by accident"
    name, *params = headers["ratelimit"].split(";")
    assert name == '"token"' and params[0].startswith("r=") and params[1].startswith("t=")
    _, _, again = api.call("GET", "/v1/contacts", headers=bearer(tenant.owner_token))
    assert int(again["ratelimit"].split(";")[1][2:]) == int(params[0][2:]) - 1, "each request takes one"
    _, _, public = api.call("GET", "/health")
    assert public["ratelimit-policy"].startswith('"client";q=')
    _, _, missing = api.call("GET", "/v1/no/such/route")
    assert missing["ratelimit-policy"].startswith('"client";q='), "the fallback's 404 is counted too"


def test_a_token_past_its_limit_gets_429_with_retry_after_and_others_are_apart(api, low_token_limit):
    tenant = Tenant(api, "Acme", "owner@acme.example")
    second = tenant.login(tenant.owner_email, OWNER_PASSWORD)
    answers = [api.call("GET", "/v1/contacts", headers=bearer(tenant.owner_token)) for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 429]
    assert [a[2]["ratelimit"] for a in answers] == ['"token";r=2;t=30', '"token";r=1;t=30', '"token";r=0;t=30'] * 1 + [
        '"token";r=0;t=30'
    ]
    status, body, headers = answers[3]
    assert headers["content-type"] == "application/problem+json"
    assert body["status"] == 429 and headers["retry-after"] == "30"
    assert headers["ratelimit-policy"] == '"token";q=3;w=60'
    _assert_secure(headers, what="429")
    # Writes are refused too, and count nothing more.
    status, _, _ = api.call(
        "POST", "/v1/contacts", {"kind": "person", "last_name": "X"}, headers=bearer(tenant.owner_token)
    )
    assert status == 429
    # Another token of the same user has its own budget.
    status, _, headers = api.call("GET", "/v1/contacts", headers=bearer(second))
    assert status == 200 and headers["ratelimit"] == '"token";r=2;t=30'


def test_callers_without_a_valid_token_count_by_address_and_bad_tokens_too(api, low_client_limit):
    statuses = [api.call("GET", "/health")[0] for _ in range(2)]
    status, _, headers = api.call("GET", "/v1/contacts", headers=bearer("crm_session.t.u.x.forged"))
    assert statuses == [200, 200] and status == 401 and headers["ratelimit"] == '"client";r=0;t=30'
    status, body, headers = api.call("GET", "/v1/contacts", headers=bearer("crm_session.t.u.x.forged"))
    assert status == 429 and headers["retry-after"] == "30", "guessing tokens is limited by address"
    assert api.call("GET", "/openapi.json")[0] == 429
    assert api.call("POST", "/v1/auth/login", {"email": "a@b.example", "password": "x"})[0] == 429
    status, _, headers = api.call("GET", "/v1/no/such/thing")
    assert status == 429 and headers["ratelimit-policy"] == '"client";q=3;w=60', "fallback answers count as well"


def test_the_address_budget_is_per_ipv6_64(aws, monkeypatch):
    """Two addresses of one /64 share a budget; another /64 has its own (unit-level
    rules are in tests/unit/test_limits_rules.py; here through the container)."""
    _limits(monkeypatch, CRM_RATE_LIMIT_IP="2/60")
    from chalicelib.bootstrap import container

    limits = container().api_limits
    first = [limits.for_client("2001:db8:1:2::1").allowed, limits.for_client("2001:db8:1:2:ffff::9").allowed]
    assert first == [True, True] and not limits.for_client("2001:db8:1:2::77").allowed
    assert limits.for_client("2001:db8:1:3::1").allowed


# ---- the login throttle under parallel attempts ----


@pytest.fixture
def atomic_moto() -> Iterator[None]:
    """DynamoDB runs each request atomically; moto in-process does not (its
    update reads, checks and writes in Python, and threads interleave). One
    lock per call makes the emulator faithful; the code under test still
    races if it reads in one call and writes in another."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = ("update_item", "put_item", "get_item", "delete_item", "query", "transact_write_items", "batch_get_item")
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def serialised(original: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, serialised(original))
    yield
    for name, original in originals.items():
        setattr(DynamoDBBackend, name, original)


def test_parallel_wrong_passwords_count_at_most_the_threshold_and_lock_the_account(api, tenant, atomic_moto):
    from chalicelib.domain.identity.auth import LOGIN_LIMIT, MAX_FAILED_LOGINS, _email_digest
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.dynamo.table import Table

    body = {"email": tenant.owner_email, "password": "wrong-password-1"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: api.call("POST", "/v1/auth/login", body)[0], range(20)))
    assert statuses.count(401) == MAX_FAILED_LOGINS, statuses
    assert statuses.count(429) == 20 - MAX_FAILED_LOGINS, statuses
    # What is stored: exactly the threshold, never past it. The fixture's own
    # sign-in left a window at zero (a success gives its attempt back); when it
    # fell in the previous window, that empty window is listed too.
    windows = Table().query(keys.rate_counter(None, "login", _email_digest(tenant.owner_email), 0)["pk"])
    assert [int(item["hits"]) for item in windows.items if int(item["hits"])] == [MAX_FAILED_LOGINS]
    assert LOGIN_LIMIT.hits == MAX_FAILED_LOGINS
    status, body, headers = api.call(
        "POST", "/v1/auth/login", {"email": tenant.owner_email, "password": OWNER_PASSWORD}
    )
    assert status == 429 and int(headers["retry-after"]) > 0, "locked: the right password too"


def test_a_right_password_gives_its_attempt_back(api, tenant):
    for _ in range(10):
        tenant.login(tenant.owner_email, OWNER_PASSWORD)  # more than the threshold: successes do not count
    statuses = [api.call("POST", "/v1/auth/login", {"email": tenant.owner_email, "password": "nope-nope-1"})[0]]
    assert statuses == [401]


# ---- body size ----


def test_oversized_bodies_are_413_and_the_photo_route_takes_more(api, tenant):
    from chalicelib.config import get_settings
    from chalicelib.domain.contacts.photo import MAX_PHOTO_BYTES

    default = get_settings().max_body_bytes
    assert default == 256 * 1024
    big = json.dumps({"kind": "person", "last_name": "x" * default})
    status, body, headers = api.call("POST", "/v1/contacts", raw=big, headers=bearer(tenant.owner_token))
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert str(default) in body["detail"]
    _assert_secure(headers, what="413")
    status, body, _ = api.call(
        "POST",
        "/v1/contacts",
        {"kind": "person", "first_name": "Anna", "last_name": "Fits"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 201
    photo = f"/v1/contacts/{body['id']}/photo"
    over_default = b"\xff\xd8" + b"0" * (default + 10)
    status, body, _ = api.call(
        "PUT", photo, raw=over_default, headers=bearer(tenant.owner_token, **{"Content-Type": "image/jpeg"})
    )
    assert status in (415, 422), "over the JSON default but within the photo's limit: the bytes themselves are judged"
    too_big = b"\xff\xd8" + b"0" * MAX_PHOTO_BYTES
    status, _, _ = api.call(
        "PUT", photo, raw=too_big, headers=bearer(tenant.owner_token, **{"Content-Type": "image/jpeg"})
    )
    assert status == 413


# ---- security headers ----


def test_security_headers_on_json_errors_pages_and_the_fallback(api, tenant):
    _, _, ok = api.call("GET", "/v1/contacts", headers=bearer(tenant.owner_token))
    _assert_secure(ok, what="200")
    assert ok["cache-control"] == "no-store", "authenticated answers are never stored"
    assert "strict-transport-security" not in ok, "not on the local and test stages (plain HTTP)"
    _, _, missing = api.call("GET", "/v1/nothing/here")
    _assert_secure(missing, what="fallback 404")
    _, _, wrong_method = api.call("DELETE", "/health")
    _assert_secure(wrong_method, what="405 from Chalice")
    _, _, wrong_type = api.call("POST", "/v1/contacts", raw="a=b", headers={"Content-Type": "text/csv"})
    _assert_secure(wrong_type, what="415 from Chalice")
    status, _, docs = api.call("GET", "/docs", headers={"Accept": "text/html"})
    assert status == 200 and docs["x-frame-options"] == "DENY"
    csp = docs["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    _, _, openapi = api.call("GET", "/openapi.json")
    assert "cache-control" not in openapi or openapi["cache-control"] != "no-store", "public answers may be cached"


def test_hsts_on_deployed_stages(aws, monkeypatch, api):
    _limits(monkeypatch, CRM_STAGE="prod")
    _, _, headers = api.call("GET", "/health")
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert headers["ratelimit-policy"] == '"client";q=300;w=60', "the deployed default per address"


# ---- every route ----


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    return [(path, method, entry) for path, methods in app.routes.items() for method, entry in methods.items()]


def _fill(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_route_answers_with_security_headers_and_refuses_oversized_bodies(app, api):
    from chalicelib.config import get_settings

    default = get_settings().max_body_bytes
    routes = _routes(app)
    assert len(routes) > 90
    for path, method, entry in routes:
        op = getattr(entry.view_function, "operation", None)
        limit = (op.max_body if op is not None else None) or default
        content_type = (entry.content_types or [JSON])[0]
        if content_type == "*/*":
            content_type = JSON
        what = f"{method} {path}"
        response = api.client.http.request(method, _fill(path), headers={"Content-Type": content_type}, body=b"")
        headers = {k.lower(): v for k, v in response.headers.items()}
        page = "text/html" in headers.get("content-type", "")
        _assert_secure(headers, what=what, page=page)
        if op is None or not op.not_rate_limited:
            assert "ratelimit" in headers and "ratelimit-policy" in headers, what
        response = api.client.http.request(
            method, _fill(path), headers={"Content-Type": content_type}, body=b"0" * (limit + 1)
        )
        headers = {k.lower(): v for k, v in response.headers.items()}
        assert response.status_code == 413, what
        assert headers["content-type"] == "application/problem+json", what
        _assert_secure(headers, what=what)


def test_a_request_pays_one_counter_write_and_nothing_more(api, tenant):
    """The cost rule: one conditional UpdateItem per request, on a counter item."""
    from chalicelib.storage.dynamo.aws import client

    writes: list[dict[str, Any]] = []

    def seen(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("UpdateItem", "PutItem", "TransactWriteItems", "BatchWriteItem", "DeleteItem"):
            writes.append({"op": model.name, **params})

    client("dynamodb").meta.events.register("provide-client-params.dynamodb.*", seen)
    for path, headers in (("/v1/contacts", bearer(tenant.owner_token)), ("/health", {}), ("/v1/nope/x", {})):
        writes.clear()
        api.call("GET", path, headers=headers)
        assert [w["op"] for w in writes] == ["UpdateItem"], path
        assert "#LIMIT#" in writes[0]["Key"]["pk"]["S"] and "ConditionExpression" in writes[0], path


def test_the_gateways_own_answers_carry_the_security_headers_too():
    """Answers no function makes (paths deeper than the fallback, the gateway's 413
    over 10 MB, its throttling) get the same headers from the template."""
    from infra.aws.template import api_properties

    responses = api_properties()["Properties"]["GatewayResponses"]
    for name in ("MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"):
        headers = responses[name]["ResponseParameters"]["Headers"]
        assert headers["X-Content-Type-Options"] == "'nosniff'", name
        assert headers["X-Frame-Options"] == "'DENY'" and headers["Referrer-Policy"] == "'no-referrer'", name
        assert headers["Strict-Transport-Security"].startswith("'max-age="), name
