"""Group operations on contacts (CON-13) and the background job status they use."""

import json
from datetime import UTC

import pytest

from chalicelib.domain.contacts.bulk import SYNC_LIMIT
from tests.conftest import bearer


def create(api, token, first="Anna", **fields):
    body = {"kind": "person", "first_name": first, "last_name": "Müller", **fields}
    status, contact, _ = api.call("POST", "/v1/contacts", body, headers=bearer(token))
    assert status == 201, contact
    return contact


def get(api, token, contact_id):
    return api.call("GET", f"/v1/contacts/{contact_id}", headers=bearer(token))


def bulk(api, token, body):
    return api.call("POST", "/v1/contacts/bulk", body, headers=bearer(token))


@pytest.fixture
def user(tenant):
    return tenant.add_user("user@acme.example")


@pytest.fixture
def selection(api, tenant, user):
    """What a user sees: their own contact, one shared for writing, one shared
    for reading, and the owner's private one (hidden from the user)."""
    user_id, token = user
    owner = tenant.owner_token
    return {
        "own": create(api, token, "Own"),
        "writable": create(api, owner, "Writable", access="shared_write"),
        "readable": create(api, owner, "Readable", access="shared_read"),
        "hidden": create(api, owner, "Hidden"),
    }


def outcome(answer):
    status, body, _ = answer
    assert status == 200, body
    return set(body["succeeded"]), {f["id"]: (f["status"], f["reason"]) for f in body["failed"]}


# ---- per contact, as the access policy says ----


def test_add_tags_checks_each_contact_and_hides_private_ones(api, user, selection):
    _, token = user
    ids = [c["id"] for c in selection.values()] + ["01NOSUCHCONTACT"]
    succeeded, failed = outcome(bulk(api, token, {"ids": ids, "action": "add_tags", "tags": ["VIP", "Lead"]}))
    assert succeeded == {selection["own"]["id"], selection["writable"]["id"]}
    assert failed == {
        selection["readable"]["id"]: (403, "forbidden"),
        selection["hidden"]["id"]: (404, "not_found"),
        "01NOSUCHCONTACT": (404, "not_found"),
    }
    assert get(api, token, selection["own"]["id"])[1]["tags"] == ["VIP", "Lead"]
    assert get(api, token, selection["readable"]["id"])[1]["tags"] == []
    tagged = api.call("GET", "/v1/contacts?tag=vip", headers=bearer(token))[1]["items"]
    assert {c["id"] for c in tagged} == succeeded, "index entries are written as for a single edit"


def test_add_tags_keeps_existing_spelling_and_remove_tags_ignores_case(api, tenant):
    owner = tenant.owner_token
    anna = create(api, owner, tags=["Lead"])
    bert = create(api, owner, "Bert")
    outcome(bulk(api, owner, {"ids": [anna["id"], bert["id"]], "action": "add_tags", "tags": ["lead", "Partner"]}))
    assert get(api, owner, anna["id"])[1]["tags"] == ["Lead", "Partner"]
    assert get(api, owner, bert["id"])[1]["tags"] == ["Lead", "Partner"], "an existing tag keeps its spelling"
    succeeded, failed = outcome(
        bulk(api, owner, {"ids": [anna["id"], bert["id"]], "action": "remove_tags", "tags": ["LEAD"]})
    )
    assert succeeded == {anna["id"], bert["id"]} and not failed
    assert get(api, owner, anna["id"])[1]["tags"] == ["Partner"]


def test_a_contact_already_as_asked_is_not_written(api, tenant):
    owner = tenant.owner_token
    anna = create(api, owner, tags=["Lead"])
    succeeded, _ = outcome(bulk(api, owner, {"ids": [anna["id"]], "action": "add_tags", "tags": ["LEAD"]}))
    assert succeeded == {anna["id"]}
    assert get(api, owner, anna["id"])[1]["version"] == anna["version"]


def test_too_many_tags_fail_that_contact_only(api, tenant):
    owner = tenant.owner_token
    full = create(api, owner, tags=[f"t{n}" for n in range(9)])
    light = create(api, owner, "Bert")
    succeeded, failed = outcome(
        bulk(api, owner, {"ids": [full["id"], light["id"]], "action": "add_tags", "tags": ["x", "y"]})
    )
    assert succeeded == {light["id"]} and failed == {full["id"]: (422, "invalid")}
    assert len(get(api, owner, full["id"])[1]["tags"]) == 9


def test_managers_and_access_need_the_right_to_change_access(api, tenant, user, selection):
    user_id, token = user
    ids = [selection["own"]["id"], selection["writable"]["id"]]
    succeeded, failed = outcome(bulk(api, token, {"ids": ids, "action": "set_access", "access": "shared_read"}))
    assert succeeded == {selection["own"]["id"]}
    assert failed == {selection["writable"]["id"]: (403, "forbidden")}, "write access is not access to the access"
    assert get(api, token, selection["own"]["id"])[1]["access"] == "shared_read"
    owner_id = tenant.owner_id
    succeeded, failed = outcome(
        bulk(api, token, {"ids": ids, "action": "set_managers", "managers": [user_id, owner_id]})
    )
    assert succeeded == {selection["own"]["id"]} and failed == {selection["writable"]["id"]: (403, "forbidden")}
    assert get(api, token, selection["own"]["id"])[1]["managers"] == [user_id, owner_id]


def test_unknown_managers_are_one_422_for_the_whole_request(api, tenant):
    owner = tenant.owner_token
    anna = create(api, owner)
    status, problem, _ = bulk(api, owner, {"ids": [anna["id"]], "action": "set_managers", "managers": ["01NOSUCHUSER"]})
    assert status == 422 and problem["errors"][0]["field"] == "managers"
    assert get(api, owner, anna["id"])[1]["managers"] == [tenant.owner_id]


def test_delete_needs_delete_rights_and_runs_the_cascades(api, tenant, user, selection, run_jobs):
    _, token = user
    ids = [selection["own"]["id"], selection["writable"]["id"], selection["hidden"]["id"]]
    succeeded, failed = outcome(bulk(api, token, {"ids": ids, "action": "delete"}))
    assert succeeded == {selection["own"]["id"]}
    assert failed == {selection["writable"]["id"]: (403, "forbidden"), selection["hidden"]["id"]: (404, "not_found")}
    assert get(api, tenant.owner_token, selection["own"]["id"])[0] == 404
    assert get(api, tenant.owner_token, selection["hidden"]["id"])[0] == 200
    assert run_jobs()["failures"] == []


def test_admins_may_do_everything(api, tenant, selection):
    ids = [c["id"] for c in selection.values()]
    succeeded, failed = outcome(
        bulk(api, tenant.owner_token, {"ids": ids, "action": "set_access", "access": "private"})
    )
    assert succeeded == set(ids) and not failed


# ---- the request ----


@pytest.mark.parametrize(
    "body, field",
    [
        ({"ids": ["a"], "action": "add_tags"}, "body"),
        ({"ids": ["a"], "action": "delete", "tags": ["x"]}, "body"),
        ({"ids": ["a"], "action": "set_access", "access": "public"}, "access"),
        ({"ids": ["a"], "action": "set_managers", "managers": []}, "managers"),
        ({"ids": [], "action": "delete"}, "ids"),
        ({"ids": ["a"] * 5001, "action": "delete"}, "ids"),
        ({"ids": ["a"], "action": "archive"}, "action"),
        ({"ids": ["a"], "action": "delete", "force": True}, "force"),
        ({"ids": ["a"], "action": "add_tags", "tags": [f"t{n}" for n in range(11)]}, "tags"),
    ],
)
def test_each_action_takes_its_own_fields(api, tenant, body, field):
    status, problem, _ = bulk(api, tenant.owner_token, body)
    assert status == 422, problem
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem["errors"]


def test_duplicate_ids_count_once(api, tenant):
    anna = create(api, tenant.owner_token)
    succeeded, failed = outcome(
        bulk(api, tenant.owner_token, {"ids": [anna["id"]] * 3, "action": "add_tags", "tags": ["x"]})
    )
    assert succeeded == {anna["id"]} and not failed
    status, body, _ = bulk(api, tenant.owner_token, {"ids": [anna["id"]] * 3, "action": "add_tags", "tags": ["y"]})
    assert body["succeeded"] == [anna["id"]]


# ---- a concurrent change: tried once more, then 409 ----


# ---- more than SYNC_LIMIT: a background job ----


def many(api, token, count, **fields):
    return [create(api, token, f"P{n:03d}", **fields)["id"] for n in range(count)]


def job_of(answer):
    status, body, headers = answer
    assert status == 202, body
    assert body["status_url"] == f"/v1/jobs/{body['job_id']}" and headers["location"] == body["status_url"]
    return body


def test_exactly_the_limit_is_answered_at_once(api, tenant):
    ids = ["01NOSUCH%04d" % n for n in range(SYNC_LIMIT)]
    status, body, _ = bulk(api, tenant.owner_token, {"ids": ids, "action": "delete"})
    assert status == 200 and len(body["failed"]) == SYNC_LIMIT


def test_a_large_selection_runs_as_a_job_and_reports_progress(api, tenant, run_jobs):
    owner = tenant.owner_token
    ids = many(api, owner, 3) + ["01NOSUCH%04d" % n for n in range(SYNC_LIMIT + 20)]
    job = job_of(bulk(api, owner, {"ids": ids, "action": "add_tags", "tags": ["Batch"]}))
    status, queued, _ = api.call("GET", job["status_url"], headers=bearer(owner))
    assert status == 200
    assert (queued["status"], queued["total"], queued["succeeded"], queued["failed"]) == ("queued", len(ids), 0, 0)
    assert queued["kind"] == "contacts.bulk" and queued["finished_at"] is None
    assert run_jobs() == {"handled": 2, "failures": []}, "one message per 100 ids"
    _, done, _ = api.call("GET", job["status_url"], headers=bearer(owner))
    assert (done["status"], done["succeeded"], done["failed"]) == ("done", 3, SYNC_LIMIT + 20)
    assert len(done["failures"]) == 100, "the first 100 failures"
    assert done["failures"][0] == {
        "id": "01NOSUCH0000",
        "status": 404,
        "reason": "not_found",
        "detail": "The contact does not exist.",
    }
    assert done["finished_at"] is not None and done["started_at"] is not None
    assert get(api, owner, ids[0])[1]["tags"] == ["Batch"]


def test_a_job_is_seen_by_its_creator_and_admins_only(api, tenant, other_tenant, user, run_jobs):
    user_id, token = user
    job = job_of(bulk(api, token, {"ids": ["01NOSUCH%04d" % n for n in range(SYNC_LIMIT + 1)], "action": "delete"}))
    other_id, other_token = tenant.add_user("other@acme.example")
    assert api.call("GET", job["status_url"], headers=bearer(token))[0] == 200
    assert api.call("GET", job["status_url"], headers=bearer(tenant.owner_token))[0] == 200
    assert api.call("GET", job["status_url"], headers=bearer(other_token))[0] == 404
    assert api.call("GET", job["status_url"], headers=bearer(other_tenant.owner_token))[0] == 404
    assert api.call("GET", "/v1/jobs/01NOSUCHJOB", headers=bearer(token))[0] == 404


def test_the_job_acts_with_its_creators_rights(api, tenant, user, selection, run_jobs):
    _, token = user
    ids = [selection["own"]["id"], selection["hidden"]["id"], selection["readable"]["id"]]
    ids += ["01NOSUCH%04d" % n for n in range(SYNC_LIMIT)]
    job = job_of(bulk(api, token, {"ids": ids, "action": "delete"}))
    run_jobs()
    _, done, _ = api.call("GET", job["status_url"], headers=bearer(token))
    assert done["succeeded"] == 1
    statuses = {f["id"]: f["status"] for f in done["failures"]}
    assert statuses[selection["hidden"]["id"]] == 404 and statuses[selection["readable"]["id"]] == 403
    assert get(api, tenant.owner_token, selection["hidden"]["id"])[0] == 200


def chunk_messages():
    """The job messages on the queue (taken off it)."""
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.queues import queue_url

    sqs, found = client("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url("jobs"), MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for m in messages:
            found.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url("jobs"), ReceiptHandle=m["ReceiptHandle"])


def deliver(bodies, prefix):
    from chalicelib.handlers.background.consumer import process_job_batch

    event = {
        "Records": [
            {
                "messageId": f"{prefix}-{i}",
                "receiptHandle": f"r-{prefix}-{i}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:crm-jobs",
                "awsRegion": "eu-central-1",
            }
            for i, body in enumerate(bodies)
        ]
    }
    return process_job_batch(event)


def test_a_redelivered_chunk_counts_once(api, tenant, run_jobs):
    owner = tenant.owner_token
    ids = many(api, owner, 2) + ["01NOSUCH%04d" % n for n in range(SYNC_LIMIT)]
    job = job_of(bulk(api, owner, {"ids": ids, "action": "delete"}))
    messages = [m for m in chunk_messages() if m["kind"] == "contacts.bulk"]
    assert [len(m["ids"]) for m in messages] == [100, 2]
    assert deliver(messages, "first") == {"batchItemFailures": []}
    assert deliver(messages, "again") == {"batchItemFailures": []}
    _, done, _ = api.call("GET", job["status_url"], headers=bearer(owner))
    assert (done["status"], done["total"], done["succeeded"], done["failed"]) == ("done", 102, 2, 100)
    assert len(done["failures"]) == 100


def test_a_chunk_that_died_half_way_resumes_without_miscounting(aws):
    """A delivery dies after deleting some items; the redelivery skips them
    (they would be "not found" now) and counts each item once."""
    from chalicelib.domain.jobs.service import BackgroundJobs
    from chalicelib.domain.shared.principal import Principal, Role
    from chalicelib.storage.jobs.store import BackgroundJobStore

    jobs = BackgroundJobs(BackgroundJobStore())
    principal = Principal(tenant_id="t1", user_id="u1", role=Role.USER)
    job = jobs.start(principal, "test.delete", 4)
    existing = {"a", "b", "c"}

    def delete(key, die_at=None):
        if key == die_at:
            raise RuntimeError("the Lambda ran out of time")
        if key not in existing:
            return {"id": key, "status": 404, "reason": "not_found", "detail": "gone"}
        existing.discard(key)
        return None

    with pytest.raises(RuntimeError):
        jobs.run_chunk("t1", job.id, 0, ["a", "b", "x", "c"], lambda k: delete(k, die_at="c"))
    assert existing == {"c"}
    assert jobs.run_chunk("t1", job.id, 0, ["a", "b", "x", "c"], delete) is True
    assert jobs.run_chunk("t1", job.id, 0, ["a", "b", "x", "c"], delete) is False, "finished chunks are not redone"
    done, failures = jobs.get(principal, job.id)
    assert (done.status, done.succeeded, done.failed) == ("done", 3, 1)
    assert [f["id"] for f in failures] == ["x"]


def test_two_deliveries_racing_past_the_check_still_count_once(aws):
    """Both deliveries of a chunk found it unfinished and did its items: the
    conditional completion marker lets only one of them add to the counters."""
    from datetime import datetime

    from chalicelib.domain.jobs.service import BackgroundJobs
    from chalicelib.domain.shared.principal import Principal, Role
    from chalicelib.storage.jobs.store import BackgroundJobStore

    store = BackgroundJobStore()
    principal = Principal(tenant_id="t1", user_id="u1", role=Role.USER)
    job = BackgroundJobs(store).start(principal, "test.race", 3)
    now = datetime.now(UTC)
    failures = [{"id": "x", "status": 404, "reason": "not_found", "detail": "gone"}]
    first = store.finish_chunk("t1", job.id, 0, succeeded=2, failures=failures, at=now, expires_at=now)
    second = store.finish_chunk("t1", job.id, 0, succeeded=2, failures=failures, at=now, expires_at=now)
    assert (first, second) == (True, False)
    counted = store.get("t1", job.id)
    assert (counted.chunks_done, counted.succeeded, counted.failed) == (1, 2, 1)
    assert store.failures("t1", job.id, 100) == failures


# ---- tenants ----


def test_another_tenant_cannot_touch_the_selection(api, tenant, other_tenant):
    owner = tenant.owner_token
    anna = create(api, owner)
    succeeded, failed = outcome(bulk(api, other_tenant.owner_token, {"ids": [anna["id"]], "action": "delete"}))
    assert not succeeded and failed == {anna["id"]: (404, "not_found")}
    outcome(bulk(api, other_tenant.owner_token, {"ids": [anna["id"]], "action": "add_tags", "tags": ["pwned"]}))
    _, still, _ = get(api, owner, anna["id"])
    assert still["tags"] == [] and still["version"] == anna["version"]


def test_bulk_and_jobs_are_documented(api):
    _, spec, _ = api.call("GET", "/openapi.json")
    assert "post" in spec["paths"]["/v1/contacts/bulk"]
    assert spec["paths"]["/v1/contacts/bulk"]["post"]["requestBody"]["content"]["application/json"]
    assert "get" in spec["paths"]["/v1/jobs/{job_id}"]
    bulk_schema = spec["components"]["schemas"]["BulkRequest"]
    assert bulk_schema.get("additionalProperties") is False
