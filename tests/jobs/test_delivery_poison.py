"""Poison messages on every queue (issue 19, point 4): a body that is not
JSON, a kind the consumer does not know, a known kind of the wrong shape,
and a well-formed message whose handler raises. In one batch with a good
message: each poison is reported alone in ``batchItemFailures`` (the good
one succeeds), leaves one WARNING/ERROR line naming its message id and the
reason and nothing of its body; and on the queue itself (moto's redrive
policy, as SQS's) it lands in the dead-letter queue after the queue's
maxReceiveCount."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.jobs import delivery_harness as h

# Personal data put in every poison body: it must reach no log line.
PERSON = "poison.person@example.org"
BAD_TENANT = "01POISONPOISONPOISONPOISON"
HOUR = "2026-11-29T10:00:00+00:00"


class Raising:
    """A collaborator that is away for the poison tenant (and fine for others)."""

    def __getattr__(self, name: str) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            if BAD_TENANT in repr((args, kwargs)) or "datetime(2000, 1, 1" in repr((args, kwargs)):
                raise RuntimeError("the table is away")
            return None

        return method


@dataclass(frozen=True)
class Poison:
    good: dict[str, Any]
    wrong_shape: dict[str, Any]
    raising: dict[str, Any]
    service: str  # the container collaborator the raising message reaches


JOB = Poison(
    good={"kind": "housekeeping.purge_expired", "hour": HOUR, "until": HOUR},
    wrong_shape={"kind": "housekeeping.purge_expired", "hour": PERSON, "until": HOUR},
    raising={"kind": "housekeeping.purge_expired", "hour": "2000-01-01T00:00:00+00:00", "until": HOUR},
    service="housekeeping",
)

# queue -> its poison; every declared queue has one (test_every_queue_has_a_poison_scenario).
POISONS: dict[str, Poison] = {
    "jobs": JOB,
    "imports": JOB,  # the imports function shares the jobs dispatch
    "documents": Poison(
        good={"kind": "invoices.render", "tenant_id": "t1", "invoice_id": "01INVOICE"},
        wrong_shape={"kind": "invoices.render", "tenant_id": "t1", "invoice_id": "01INVOICE", "email": PERSON},
        raising={"kind": "invoices.render", "tenant_id": BAD_TENANT, "invoice_id": "01INVOICE"},
        service="invoice_documents",
    ),
    "calls": Poison(
        good={"kind": "voip.settle", "tenant_id": "t1", "received_at": HOUR, "call_id": "01CALL"},
        wrong_shape={"kind": "voip.status", "tenant_id": "t1", "params": {"From": PERSON}},
        raising={"kind": "voip.settle", "tenant_id": BAD_TENANT, "received_at": HOUR, "call_id": "01CALL"},
        service="call_events",
    ),
    "bounces": Poison(
        good={"notificationType": "Bounce", "bounce": {"bounceType": "Transient"}, "mail": {}},
        # A bounce whose recipients are not a list: the parser cannot read it.
        wrong_shape={"notificationType": "Bounce", "bounce": PERSON, "mail": {"tags": {"tenant": ["t1"]}}},
        raising={
            "notificationType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": PERSON}]},
            "mail": {"headers": [{"name": "X-CRM-Tenant", "value": BAD_TENANT}]},
        },
        service="suppressions",
    ),
}


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    """Every WARNING and ERROR line of the app's logger, as written (JSON)."""
    from chalicelib.observability import logger as crm_logger

    lines: list[dict[str, Any]] = []
    formatter = crm_logger.registered_formatter

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(formatter.format(record)))

    handler = Capture(level=logging.WARNING)
    logging.getLogger(crm_logger.name).addHandler(handler)
    try:
        yield lines
    finally:
        logging.getLogger(crm_logger.name).removeHandler(handler)


def _function_of(queue: str) -> str:
    return next(f for f, feed in h.declared_functions().items() if feed == f"queue:{queue}")


def test_every_queue_has_a_poison_scenario() -> None:
    assert set(POISONS) == h.declared_queues()
    consumed = {feed.removeprefix("queue:") for feed in h.declared_functions().values() if feed.startswith("queue:")}
    assert consumed == set(POISONS)


@pytest.mark.parametrize("queue", sorted(POISONS))
def test_poison_fails_alone_and_is_logged_with_its_id_and_reason(
    aws: None, queue: str, log_lines: list[dict[str, Any]]
) -> None:
    from chalicelib.bootstrap import container

    poison = POISONS[queue]
    container().override(**{poison.service: Raising()})
    if queue == "bounces":
        poison = Poison(*(_sns(body) for body in (poison.good, poison.wrong_shape, poison.raising)), poison.service)
    bodies = {
        "good": json.dumps(poison.good),
        "not json": f"{{'email': '{PERSON}'",
        "unknown kind": json.dumps({"kind": "no.such.kind", "tenant_id": "t1", "email": PERSON}),
        "wrong shape": json.dumps(poison.wrong_shape),
        "raising": json.dumps(poison.raising),
    }
    if queue == "bounces":
        # SES's notifications have no kind of ours: any other type is ignored (acknowledged), not poison.
        del bodies["unknown kind"]
    records = [
        h.sqs_record(queue, {"MessageId": f"m-{name.replace(' ', '-')}", "ReceiptHandle": f"r-{name}", "Body": body}, 1)
        for name, body in bodies.items()
    ]
    function = _function_of(queue)
    answer = h.handlers()[function]({"Records": records}, h.lambda_context(function))
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    assert failed == {r["messageId"] for r in records} - {"m-good"}

    for message_id in failed:
        (line,) = [line for line in log_lines if line.get("message_id") == message_id]
        assert line["level"] in ("WARNING", "ERROR") and line["outcome"] == "failed", line
        assert line["reason"], line
    reasons = {line["message_id"]: line["reason"] for line in log_lines if line.get("outcome") == "failed"}
    assert "not JSON" in reasons["m-not-json"] or "not a JSON object" in reasons["m-not-json"]
    assert reasons["m-raising"] == "RuntimeError"
    if queue != "bounces":
        assert reasons["m-unknown-kind"] == "unknown " + reasons["m-unknown-kind"].split("unknown ", 1)[1]
        assert "'no.such.kind'" in reasons["m-unknown-kind"]
        assert reasons["m-wrong-shape"].startswith("invalid message: ")
    assert not [line for line in log_lines if PERSON in json.dumps(line)], "personal data in a log line"


def _sns(event: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "Notification", "Message": json.dumps(event)}


@pytest.mark.parametrize("queue", sorted(POISONS))
def test_poison_lands_in_the_dead_letter_queue_after_max_receive_count(aws: None, queue: str) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.dynamo.table_spec import QUEUES, dead_letter_name
    from chalicelib.storage.queues import queue_url

    sqs, url = client("sqs"), queue_url(queue)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert int(policy["maxReceiveCount"]) == QUEUES[queue]["max_receive_count"]
    assert policy["deadLetterTargetArn"].endswith(":" + dead_letter_name(url.rsplit("/", 1)[1]))

    sqs.send_message(QueueUrl=url, MessageBody="{'not': json")
    function = _function_of(queue)
    handler = h.handlers()[function]
    receives = 0
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not got:
            break
        receives += 1
        (message,) = got
        count = int(message["Attributes"]["ApproximateReceiveCount"])
        # A batch whose every message failed raises: Lambda keeps the whole batch.
        with pytest.raises(BatchProcessingError):
            handler({"Records": [h.sqs_record(queue, message, count)]}, h.lambda_context(function))
        # Not deleted: visible again at once here, after the visibility timeout on AWS.
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        assert receives <= QUEUES[queue]["max_receive_count"], "never moved to the dead-letter queue"
    assert receives == QUEUES[queue]["max_receive_count"]
    dlq = sqs.get_queue_url(QueueName=dead_letter_name(url.rsplit("/", 1)[1]))["QueueUrl"]
    (dead,) = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert dead["Body"] == "{'not': json"


def test_failure_reasons_name_fields_never_values() -> None:
    from pydantic import ValidationError

    from chalicelib.domain.jobs.housekeeping import PurgeExpired
    from chalicelib.handlers.background.messages import failure_reason

    with pytest.raises(ValidationError) as refused:
        PurgeExpired.model_validate({"hour": PERSON, "until": datetime.now(UTC), "extra": PERSON})
    reason = failure_reason(refused.value)
    assert reason.startswith("invalid message: hour: ") and "extra: extra_forbidden" in reason
    assert PERSON not in reason
