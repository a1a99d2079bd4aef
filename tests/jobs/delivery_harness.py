"""Delivery faults (issue 19, point 4): what the deployment declares it runs in
the background, and a delivery harness that feeds every queue and the table's
stream to the very handlers Lambda calls (``app.handler_map`` and the image
functions, as the local pump does), in order and once, or with faults.

Faults, as SQS and the stream may deliver: every batch in reversed order,
then every message of it again with a new receipt handle and a higher receive
count (a redelivery after a lost delete or an expired visibility timeout);
stream records likewise. The end state of a run is the table, the bucket's
keys, the outbox (SES), the webhook requests made and the calls made to
Twilio, with ids and instants normalised: two runs from the same start that
differ only in their ids and clocks compare equal.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# ---- what the deployment declares ----


def declared_functions() -> dict[str, str]:
    """Every background function -> what feeds it: ``queue:<name>``, ``stream`` or ``schedule``."""
    from chalice.app import ScheduledEventConfig

    from app import app
    from infra.aws.stack import FUNCTIONS

    feeds = {source.name: "schedule" for source in app.event_sources if isinstance(source, ScheduledEventConfig)}
    for name, function in FUNCTIONS.items():
        if function.consumes:
            feeds[name] = f"queue:{function.consumes}"
        elif function.stream:
            feeds[name] = "stream"
    return feeds


def declared_queues() -> set[str]:
    from chalicelib.storage.dynamo.table_spec import QUEUES
    from infra.aws.stack import EXTRA_QUEUES

    return set(QUEUES) | set(EXTRA_QUEUES)


def queued_subscribers() -> set[str]:
    """``event:<topic>/<subscriber>`` for every subscriber that runs as its own jobs message."""
    from chalicelib.bootstrap.events import SUBSCRIBERS

    return {f"event:{topic}/{s.name}" for topic, found in SUBSCRIBERS.items() for s in found if not s.inline}


def declared_kinds() -> dict[str, set[str]]:
    """queue -> the message kinds its consumer handles (bootstrap/jobs.py; the
    bounces queue's are SES's notification types; events by subscriber)."""
    from chalicelib.bootstrap.jobs import CALL_KINDS, DOCUMENT_KINDS, JOB_KINDS

    jobs = (set(JOB_KINDS) - {"event", "imports.chunk"}) | queued_subscribers()
    return {
        "jobs": jobs,
        # The imports function shares the jobs dispatch; its queue carries import chunks only.
        "imports": {"imports.chunk"},
        "documents": set(DOCUMENT_KINDS),
        "calls": set(CALL_KINDS),
        "bounces": {"Bounce", "Complaint"},
    }


def kind_of(queue: str, body: str) -> str:
    """The kind a delivered message stands for, as declared_kinds() names it."""
    try:
        data = json.loads(body)
    except ValueError:
        return "<unreadable>"
    if not isinstance(data, dict):
        return "<not an object>"
    if queue == "bounces":
        if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
            data = json.loads(data["Message"])
        return str(data.get("notificationType") or data.get("eventType"))
    if data.get("kind") == "event":
        return f"event:{data.get('topic')}/{data.get('subscriber')}"
    return str(data.get("kind"))


# ---- Lambda's side: contexts and events ----


def lambda_context(function: str) -> Any:
    from infra.local.pump import FunctionLimits

    return FunctionLimits().context(function)


def handlers() -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    """function name -> the handler Lambda calls (Chalice's and the image functions')."""
    from app import app
    from infra.local.pump import plain_consumers

    found = dict(app.handler_map)
    found.update({name: handler for name, (handler, _, _) in plain_consumers().items()})
    return found


def sqs_record(queue: str, message: dict[str, Any], receive_count: int, receipt: str | None = None) -> dict[str, Any]:
    from chalicelib.config import get_settings

    return {
        "messageId": message["MessageId"],
        "receiptHandle": receipt or message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:eu-central-1:123456789012:{get_settings().queue_name(queue)}",
        "awsRegion": "eu-central-1",
    }


def failed_ids(answer: Any, ids: list[str]) -> set[str]:
    if not isinstance(answer, dict):
        return set(ids)
    return {f["itemIdentifier"] for f in answer.get("batchItemFailures") or []}


# ---- the outside world the handlers talk to ----


@dataclass
class Outside:
    """Webhook receivers and Twilio, recorded (the requests are the end state too)."""

    twilio: Any = None  # the FakeTwilioApi as the world left it; each run talks to a copy
    webhook_posts: list[str] = field(default_factory=list)

    def install(self) -> None:
        from chalicelib.bootstrap import container
        from chalicelib.domain.webhooks.ports import Answer
        from chalicelib.storage.memory.twilio_api import fake_http_client
        from tests.moto_state import _copy

        outside = self

        class Resolver:
            def resolve(self, host: str, port: int) -> list[str]:
                return ["93.184.216.34"]

        class Sender:
            def post(self, target: Any, address: str, headers: dict[str, str], body: bytes) -> Answer:
                outside.webhook_posts.append(body.decode())
                return Answer(200)

        container().override(webhook_resolver=Resolver(), webhook_sender=Sender(), mailing_sleep=lambda seconds: None)
        if self.twilio is not None:
            self.twilio = _copy(self.twilio)
            container().override(twilio_http_client=fake_http_client(self.twilio))


def forget_stream() -> None:
    """Have the emulator drop the stream records written so far (the fixtures'
    tenants): a run reads only what its world wrote since."""
    from chalicelib.config import get_settings
    from infra.emulator.server import trim_stream

    table = _moto_table()
    shard = table.stream_shard
    trim_stream(table, shard.starting_sequence_number + len(shard.items) - 1, get_settings().region)


def _moto_table() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.config import get_settings

    settings = get_settings()
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][settings.region].get_table(settings.table_name)


class MotoStreamTail:
    """The records StreamTail reads through GetRecords, read off moto's shard
    directly: the same records (tests/jobs/test_delivery_faults.py checks),
    without serialising every image of a busy table for each read."""

    def __init__(self) -> None:
        self.next: int | None = None

    def read(self, limit: int = 100) -> list[dict[str, Any]]:
        from chalicelib.storage.dynamo.aws import client
        from chalicelib.storage.webhooks import lambda_record

        table = _moto_table()
        shard = table.stream_shard
        start = shard.starting_sequence_number if self.next is None else self.next
        found = shard.get(start, limit)
        if not found:
            return []
        self.next = start + len(found)
        arn = client("dynamodb").describe_table(TableName=table.name)["Table"]["LatestStreamArn"]
        # As botocore parses the JSON answer (numbers, no datetimes), then as Lambda shapes it.
        return [lambda_record(json.loads(json.dumps(r, default=_epoch)), arn) for r in found]


def _epoch(value: Any) -> float:
    from datetime import datetime

    assert isinstance(value, datetime), value
    return round(value.timestamp(), 3)  # GetRecords answers milliseconds


# ---- delivery ----


@dataclass
class Delivery:
    """Drains every queue and the stream into their functions until nothing is left."""

    faulty: bool
    functions: dict[str, str] = field(default_factory=declared_functions)
    delivered: dict[str, Counter[str]] = field(default_factory=dict)  # queue -> kind -> deliveries
    failures: list[tuple[str, str]] = field(default_factory=list)  # (queue, kind) that failed
    stream_records: int = 0
    scheduled: dict[str, list[Any]] = field(default_factory=dict)  # schedule -> what each run answered
    tail: Any = None

    def __post_init__(self) -> None:
        self.handlers = handlers()

    def _deliver(self, function: str, records: list[dict[str, Any]]) -> Any:
        return self.handlers[function]({"Records": records}, lambda_context(function))

    def queue_batch(self, function: str, queue: str) -> int:
        from chalicelib.storage.dynamo.aws import client
        from chalicelib.storage.queues import queue_url

        sqs, url = client("sqs"), queue_url(queue)
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return 0
        kinds = {m["MessageId"]: kind_of(queue, m["Body"]) for m in messages}
        seen = self.delivered.setdefault(queue, Counter())
        if self.faulty:
            # Out of order (the oldest message twice in that batch, as SQS may hand one
            # message to a batch twice), then each message again: same id, a new receipt.
            batches = [
                [sqs_record(queue, m, 1) for m in reversed(messages)]
                + [sqs_record(queue, messages[0], 1, receipt=f"twin-{uuid.uuid4()}")],
                [sqs_record(queue, m, 2, receipt=f"again-{uuid.uuid4()}") for m in messages],
            ]
        else:
            batches = [[sqs_record(queue, m, 1) for m in messages]]
        for batch in batches:
            failed = failed_ids(self._deliver(function, batch), [r["messageId"] for r in batch])
            self.failures += [(queue, kinds[f]) for f in failed]
            seen.update(kinds[r["messageId"]] for r in batch)
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(messages)

    def stream_batch(self, function: str) -> int:
        if self.tail is None:
            self.tail = MotoStreamTail()
        records = self.tail.read(100)
        if not records:
            return 0
        batches = [list(reversed(records)), records] if self.faulty else [records]
        for batch in batches:
            answer = self._deliver(function, batch)
            failed = failed_ids(answer, [r["dynamodb"]["SequenceNumber"] for r in batch])
            self.failures += [("stream", f) for f in failed]
        self.stream_records += len(records)
        return len(records)

    def drain(self, limit: int = 500) -> None:
        for _ in range(limit):
            busy = 0
            for function, feed in self.functions.items():
                if feed.startswith("queue:"):
                    busy += self.queue_batch(function, feed.removeprefix("queue:"))
                elif feed == "stream":
                    busy += self.stream_batch(function)
            if not busy:
                return
        raise AssertionError("the queues never emptied: a message keeps queueing itself")

    def run_schedules(self) -> None:
        """Every schedule once; with faults, twice overlapping: the second run
        starts from the checkpoints the first one read (as if it had begun
        before the first recorded how far it swept), as EventBridge may fire a
        rule twice and a slow run may meet the next one."""
        for function, feed in self.functions.items():
            if feed != "schedule":
                continue
            before = checkpoints()
            runs = self.scheduled.setdefault(function, [])
            runs.append(self.handlers[function](scheduled_event(function), lambda_context(function)))
            if self.faulty:
                restore_checkpoints(before)
                runs.append(self.handlers[function](scheduled_event(function), lambda_context(function)))


def checkpoints() -> dict[str, dict[str, Any]]:
    """The schedules' checkpoints (keys.job_state: ``SYS#JOB#<name>``), raw."""
    from chalicelib.config import get_settings
    from chalicelib.storage.dynamo.aws import client

    answer = client("dynamodb").scan(
        TableName=get_settings().table_name,
        FilterExpression="begins_with(pk, :job)",
        ExpressionAttributeValues={":job": {"S": "SYS#JOB#"}},
    )
    assert "LastEvaluatedKey" not in answer
    return {item["pk"]["S"]: item for item in answer["Items"]}


def restore_checkpoints(before: dict[str, dict[str, Any]]) -> None:
    from chalicelib.config import get_settings
    from chalicelib.storage.dynamo.aws import client

    dynamodb, table = client("dynamodb"), get_settings().table_name
    for pk, item in checkpoints().items():
        if pk in before:
            dynamodb.put_item(TableName=table, Item=before[pk])
        else:
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def scheduled_event(function: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-central-1",
        "resources": [f"arn:aws:events:eu-central-1:123456789012:rule/{function}"],
        "detail": {},
    }


# ---- the end state ----

_ULID = re.compile(r"(?<![0-9A-Za-z])[0-9A-HJKMNP-TV-Z]{26}(?![0-9A-Za-z])")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_INSTANT = re.compile(r"\d{4}-?\d{2}-?\d{2}[T ]?\d{2}:?\d{2}(:?\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_EPOCH = re.compile(r"(?<![0-9])1[6-9]\d{8}(\d{3})?(\.\d+)?(?![0-9])")
_HEX = re.compile(r"(?<![0-9a-f])[0-9a-f]{16,}(?![0-9a-f])")


_SIZE = re.compile(r'"(size|file_size)": \{"N": "\d+"\}')
# What may rightly differ with the order of delivery: bookkeeping of how the
# work went, not what it made. (item kind, attribute) -> why.
ORDER_BOOKKEEPING = {
    # A call whose final status came before its answered leg's end queues a settle
    # message (and notes it) instead of settling at once: one more write, same call.
    ("CALL", "settle_queued"): "whether settling waited for a message",
    ("CALL", "version"): "the write noting that a settle message was queued",
}


def _drop_bookkeeping(item: dict[str, Any]) -> dict[str, Any]:
    pk = str((item.get("pk") or {}).get("S", ""))
    parts = pk.split("#")
    kind = parts[2] if len(parts) > 2 and parts[0] == "T" else ""
    return {k: v for k, v in item.items() if (kind, k) not in ORDER_BOOKKEEPING}


def normalise(text: str) -> str:
    # A rendered file's size moves by a byte with the instant printed in it.
    text = _SIZE.sub(r'"\1": "<size>"', text)
    for pattern, name in ((_ULID, "<id>"), (_UUID, "<uuid>"), (_INSTANT, "<t>"), (_EPOCH, "<epoch>"), (_HEX, "<hex>")):
        text = pattern.sub(name, text)
    return text


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(str(_plain(v)) for v in value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def table_items() -> list[dict[str, Any]]:
    from chalicelib.config import get_settings
    from chalicelib.storage.dynamo.aws import client

    name, items, start = get_settings().table_name, [], None
    while True:
        page = client("dynamodb").scan(TableName=name, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def end_state(outside: Outside) -> dict[str, Counter[str]]:
    from chalicelib.config import get_settings
    from chalicelib.storage.dynamo.aws import client
    from tests.conftest import sent_emails

    s3 = client("s3")
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=get_settings().bucket_name)
        for o in page.get("Contents", [])
    ]
    return {
        "table": Counter(
            normalise(json.dumps(_plain(_drop_bookkeeping(item)), sort_keys=True, default=str))
            for item in table_items()
        ),
        "objects": Counter(normalise(k) for k in keys),
        "emails": Counter(normalise(_mail(m)) for m in sent_emails()),
        "webhook requests": Counter(normalise(p) for p in outside.webhook_posts),
        "twilio": Counter(
            [normalise(json.dumps(_plain(outside.twilio.state()), sort_keys=True, default=str))]
            + [normalise(" ".join(r)) for r in outside.twilio.requests]
            if outside.twilio is not None
            else []
        ),
    }


def _mail(message: Any) -> str:
    """Who an e-mail went to and its subject (a raw message carries them in its headers)."""
    import email

    if hasattr(message, "subject"):
        return f"{message.destinations} {message.subject}"
    parsed = email.message_from_string(message.raw_data)
    return f"{message.destinations or parsed['To']} {parsed['Subject']}"


def differences(expected: dict[str, Counter[str]], got: dict[str, Counter[str]]) -> dict[str, Any]:
    found = {}
    for part in expected:
        missing, extra = expected[part] - got[part], got[part] - expected[part]
        if missing or extra:
            found[part] = {"missing": sorted(missing)[:20], "extra": sorted(extra)[:20]}
    return found


def dump(items: Iterator[str]) -> str:
    return "\n".join(items)
