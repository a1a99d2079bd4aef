"""A job chunk whose invocation runs out of time (or whose local pump is
stopping) stops between two items, its message fails, and its redelivery
finishes the chunk with every item done exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.jobs.service import STOP_MARGIN_SECONDS, BackgroundJobs, ChunkInterrupted, time_limit
from chalicelib.domain.shared.principal import Principal, Role


class Clock:
    """Seconds left in the invocation: plenty until ``stop_after`` items were done."""

    def __init__(self, stop_after: int):
        self.stop_after = stop_after
        self.done: list[str] = []

    def seconds_left(self) -> float:
        return 0.0 if len(self.done) >= self.stop_after else 60.0


@pytest.fixture
def jobs(aws: None) -> BackgroundJobs:
    from chalicelib.storage.jobs.store import BackgroundJobStore

    return BackgroundJobs(BackgroundJobStore())


PRINCIPAL = Principal(tenant_id="t1", user_id="u1", role=Role.USER)
KEYS = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("resumable", [True, False])
def test_an_interrupted_chunk_stops_between_items_and_its_redelivery_finishes_it(
    jobs: BackgroundJobs, resumable: bool
) -> None:
    job = jobs.start(PRINCIPAL, "test.rename", len(KEYS))
    clock = Clock(stop_after=2)
    changed: dict[str, int] = {}

    def rename(key: str) -> None:
        # A state-based change: doing it again to a renamed item changes nothing.
        if key not in changed:
            changed[key] = 1
        clock.done.append(key)
        return None

    with time_limit(clock.seconds_left), pytest.raises(ChunkInterrupted):
        jobs.run_chunk("t1", job.id, 0, KEYS, rename, resumable=resumable)
    assert clock.done == ["a", "b"]  # stopped before "c", not inside it
    assert jobs.get(PRINCIPAL, job.id)[0].status == "running"

    with time_limit(lambda: 60.0):
        assert jobs.run_chunk("t1", job.id, 0, KEYS, rename, resumable=resumable) is True
    assert changed == {key: 1 for key in KEYS}
    # A resumable chunk skips what it recorded; another one repeats it as a no-op.
    assert clock.done == (["a", "b", "c", "d", "e"] if resumable else ["a", "b", "a", "b", "c", "d", "e"])
    done, _ = jobs.get(PRINCIPAL, job.id)
    assert (done.status, done.succeeded, done.failed) == ("done", 5, 0)


def test_without_a_time_limit_a_chunk_runs_to_its_end(jobs: BackgroundJobs) -> None:
    job = jobs.start(PRINCIPAL, "test.rename", len(KEYS))
    assert jobs.run_chunk("t1", job.id, 0, KEYS, lambda key: None) is True
    assert jobs.get(PRINCIPAL, job.id)[0].succeeded == 5


def test_an_item_starts_only_with_the_margin_left(jobs: BackgroundJobs) -> None:
    job = jobs.start(PRINCIPAL, "test.rename", len(KEYS))
    started: list[str] = []
    with time_limit(lambda: STOP_MARGIN_SECONDS - 0.01), pytest.raises(ChunkInterrupted):
        jobs.run_chunk("t1", job.id, 0, KEYS, lambda key: started.append(key))
    assert started == []


class StoppingContext:
    """A Lambda context whose time runs out once ``after`` contacts were written."""

    def __init__(self, writes: list[Any], after: int):
        self.writes, self.after = writes, after

    def get_remaining_time_in_millis(self) -> int:
        return 0 if len(self.writes) >= self.after else 60_000


def test_the_consumer_keeps_a_stopped_chunk_and_its_redelivery_changes_each_contact_once(
    api: Any, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from chalicelib.handlers.background.consumer import process_job_batch
    from chalicelib.storage.contacts import store as contacts_storage
    from chalicelib.storage.dynamo.aws import client as aws_client
    from chalicelib.storage.queues import queue_url
    from tests.conftest import bearer

    owner = bearer(tenant.owner_token)
    ids = []
    for n in range(105):
        status, body, _ = api.call(
            "POST", "/v1/contacts", {"kind": "person", "first_name": f"P{n}", "last_name": "Müller"}, headers=owner
        )
        assert status == 201, body
        ids.append(body["id"])
    status, job, _ = api.call(
        "POST", "/v1/contacts/bulk", {"ids": ids, "action": "add_tags", "tags": ["Fair"]}, headers=owner
    )
    assert status == 202, job

    writes: list[Any] = []
    update = contacts_storage.ContactStore.update

    def counted_update(self: Any, before: Any, after: Any, **kwargs: Any) -> Any:
        writes.append(after.id)
        return update(self, before, after, **kwargs)

    monkeypatch.setattr(contacts_storage.ContactStore, "update", counted_update)
    sqs, url = aws_client("sqs"), queue_url("jobs")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2

    def event(batch: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:crm-jobs",
                    "awsRegion": "eu-central-1",
                }
                for m in batch
            ]
        }

    # Both chunks fail (one stopped half-way, one never started): Powertools fails
    # the whole invocation, and Lambda (or the pump) keeps both messages.
    with pytest.raises(BatchProcessingError) as failed:
        process_job_batch(event(messages), StoppingContext(writes, after=40))
    assert {type(e[1]).__name__ for e in failed.value.child_exceptions} == {"ChunkInterrupted"}
    assert len(writes) == 40
    _, state, _ = api.call("GET", job["status_url"], headers=owner)
    assert (state["status"], state["succeeded"]) == ("running", 0)

    assert process_job_batch(event(messages), StoppingContext(writes, after=10_000)) == {"batchItemFailures": []}
    assert sorted(writes) == sorted(ids), "every contact written once, none twice"
    _, state, _ = api.call("GET", job["status_url"], headers=owner)
    assert (state["status"], state["succeeded"], state["failed"]) == ("done", 105, 0)
    for contact_id in ids:
        _, contact, _ = api.call("GET", f"/v1/contacts/{contact_id}", headers=owner)
        assert (contact["tags"], contact["version"]) == (["Fair"], 2)
