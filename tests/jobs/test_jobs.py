"""The background patterns: a schedule that finds due work with a Query and
enqueues it, and an idempotent SQS consumer with partial batch failures."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.jobs.housekeeping import Housekeeping, PurgeExpired
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.table import Table
from chalicelib.storage.jobs.expiry import ExpiringItemsStore
from chalicelib.storage.queues import Queue, queue_url

pytestmark = pytest.mark.usefixtures("aws")

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


def put_expiring(n: int, expires_at: datetime) -> dict:
    key = {"pk": f"T#t1#SESSION#{n}", "sk": "META"}
    Table().create({**key, **keys.expiry_attributes(expires_at)})
    return key


def drain_jobs() -> list[dict]:
    sqs = client("sqs")
    messages = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url("jobs"), MaxNumberOfMessages=10)
        batch = answer.get("Messages", [])
        if not batch:
            return messages
        messages += batch
        for m in batch:
            sqs.delete_message(QueueUrl=queue_url("jobs"), ReceiptHandle=m["ReceiptHandle"])


def sqs_event(bodies: list[dict]) -> dict:
    # Distinct messageIds: chalice's generate_sqs_event gives all the same one.
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"r-{i}",
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


def test_sweep_enqueues_every_hour_since_the_last_sweep_and_remembers_it():
    service = Housekeeping(ExpiringItemsStore(), Queue("jobs"), clock=lambda: NOW)
    first = service.sweep()
    assert len(first) == 49  # 48 h look-back on the first run, through the current hour
    assert len(drain_jobs()) == 49
    later = Housekeeping(ExpiringItemsStore(), Queue("jobs"), clock=lambda: NOW + timedelta(hours=2))
    second = later.sweep()
    assert [j.hour.hour for j in second] == [10, 11, 12]


def test_purge_deletes_only_what_has_expired_and_is_idempotent():
    gone = [put_expiring(i, NOW - timedelta(minutes=i + 1)) for i in range(3)]
    later_this_hour = put_expiring(10, NOW + timedelta(minutes=20))
    other_hour = put_expiring(11, NOW - timedelta(hours=3))
    service = Housekeeping(ExpiringItemsStore(), Queue("jobs"), clock=lambda: NOW)
    job = PurgeExpired(hour=NOW.replace(minute=0), until=NOW)
    assert service.purge(job) == 3
    assert service.purge(job) == 0  # delivered twice: nothing more happens
    assert all(Table().get(k) is None for k in gone)
    assert Table().get(later_this_hour) is not None
    assert Table().get(other_hour) is not None


def test_consumer_reports_only_the_bad_record_as_failed(app):
    from chalicelib.handlers.background.consumer import process_job_batch

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # Expired at the very start of this hour: in this hour's bucket whatever the minute now.
    put_expiring(1, hour)
    good = PurgeExpired(hour=hour, until=datetime.now(UTC)).model_dump(mode="json")
    result = process_job_batch(sqs_event([good, {"kind": "no.such.job"}, {"kind": "housekeeping.purge_expired"}, good]))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    assert Table().get({"pk": "T#t1#SESSION#1", "sk": "META"}) is None


def test_lambda_entry_points_through_the_test_client(client):
    scheduled = {
        "version": "0",
        "id": "e-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-27T10:30:00Z",
        "region": "eu-central-1",
        "resources": [],
        "detail": {},
    }
    answer = client.lambda_.invoke("housekeeping", scheduled)
    assert answer.payload["queued"] >= 1
    messages = drain_jobs()
    assert len(messages) == answer.payload["queued"]
    event = sqs_event([json.loads(messages[-1]["Body"])])
    assert client.lambda_.invoke("jobs", event).payload == {"batchItemFailures": []}
