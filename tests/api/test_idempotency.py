"""The generic Idempotency-Key machinery (routing ``idempotent=True`` over
storage/idempotency.py): kept per tenant and user, expires in 24 h through
the housekeeping index, replays, refuses another body and concurrent runs."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.shared.errors import Conflict, ValidationFailed
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Table
from chalicelib.storage.idempotency import IdempotencyStore, IdempotentRequest, StoredAnswer, body_hash
from tests.conftest import bearer

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def request(key="k1", body=b'{"a": 1}', user="u1", tenant="t1"):
    return IdempotentRequest(tenant, user, "POST /v1/tasks", key, body_hash(body))


def test_first_request_runs_then_replays(aws):
    store = IdempotencyStore(clock=lambda: NOW)
    assert store.begin(request()) is None
    with pytest.raises(Conflict):
        store.begin(request())  # still running
    store.complete(request(), StoredAnswer(201, '{"id": "x"}'))
    assert store.begin(request()) == StoredAnswer(201, '{"id": "x"}')
    with pytest.raises(ValidationFailed):
        store.begin(request(body=b'{"a": 2}'))
    # Keys are per tenant and user.
    assert store.begin(request(user="u2")) is None
    assert store.begin(request(tenant="t2")) is None


def test_kept_24_hours_in_the_housekeeping_index_then_reusable(aws):
    store = IdempotencyStore(clock=lambda: NOW)
    store.begin(request())
    store.complete(request(), StoredAnswer(200, "{}"))
    item = Table().get(keys.idempotency("t1", "u1", "POST /v1/tasks", "k1"))
    expires = NOW + timedelta(hours=24)
    assert item["ttl"] == int(expires.timestamp()) and item["sched_pk"] == keys.expiry_bucket(expires)
    assert item["pk"].startswith("T#t1#IDEMPOTENCY#u1#")
    later = IdempotencyStore(clock=lambda: NOW + timedelta(hours=24, seconds=1))
    assert later.begin(request(body=b'{"other": true}')) is None  # expired: a new request


def test_abandoned_requests_run_again(aws):
    store = IdempotencyStore(clock=lambda: NOW)
    store.begin(request())
    store.abandon(request())
    assert store.begin(request()) is None
    # One whose Lambda died mid-way is taken over once it is stale.
    assert IdempotencyStore(clock=lambda: NOW + timedelta(minutes=3)).begin(request()) is None


def test_keys_are_isolated_between_tenants_through_the_api(api, tenant, other_tenant):
    body = {"title": "Once", "due_at": "2030-01-01T10:00:00Z"}
    mine = api.call("POST", "/v1/tasks", body, headers=bearer(tenant.owner_token, **{"Idempotency-Key": "same"}))
    theirs = api.call(
        "POST", "/v1/tasks", body, headers=bearer(other_tenant.owner_token, **{"Idempotency-Key": "same"})
    )
    assert mine[0] == theirs[0] == 201 and mine[1]["id"] != theirs[1]["id"]
    assert "idempotent-replayed" not in theirs[2]


def test_kept_answers_are_sealed_so_no_secret_sits_in_the_table(api, tenant):
    key = {"Idempotency-Key": "token-1"}
    body = {"name": "my script"}
    status, first, _ = api.call("POST", "/v1/tokens", body, headers=bearer(tenant.owner_token, **key))
    assert status == 201 and first["token"]
    route = "POST /v1/tokens"
    item = Table().get(keys.idempotency(tenant.id, tenant.owner_id, route, "token-1"))
    assert item["state"] == "done" and "body" not in item
    assert first["token"] not in str(item)
    status, again, headers = api.call("POST", "/v1/tokens", body, headers=bearer(tenant.owner_token, **key))
    assert status == 201 and again == first and headers["idempotent-replayed"] == "true"
    # Another server secret cannot open it: refused rather than run twice.
    store = IdempotencyStore(secret=b"another secret")
    stored = store.request(tenant.id, tenant.owner_id, route, "token-1", b'{"name": "my script"}')
    with pytest.raises(Conflict):
        store.begin(stored)


def test_the_answer_is_kept_per_real_path_not_per_route_template(api, tenant):
    people = [
        api.call(
            "POST",
            "/v1/contacts",
            {"kind": "person", "first_name": name, "last_name": "X"},
            headers=bearer(tenant.owner_token),
        )[1]["id"]
        for name in ("Anna", "Ben")
    ]
    note = {"text": "Called about the offer"}
    answers = [
        api.call(
            "POST",
            f"/v1/contacts/{person}/history",
            note,
            headers=bearer(tenant.owner_token, **{"Idempotency-Key": "same"}),
        )
        for person in people
    ]
    assert [a[0] for a in answers] == [201, 201]
    assert answers[0][1]["id"] != answers[1][1]["id"]
    assert "idempotent-replayed" not in answers[1][2]
