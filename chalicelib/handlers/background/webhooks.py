"""The table's stream -> webhook deliveries (issue 18, point 6).

ONE handler for both stacks: on AWS the ``webhook_events`` function is fed by
an event source mapping on the table's stream (infra/aws: NEW_AND_OLD_IMAGES,
partial batch failures, bisect on error); on the local stack the job pump
reads the same stream from the moto server and calls the same function
(infra/local/pump.py). Each record of a record item becomes its webhook
events (domain/webhooks/events.py), each event a delivery per subscription
that wants it, each delivery a jobs-queue message. Nothing of a record's
values is logged (personal data).

A record that fails is reported by its sequence number: Lambda retries from
there (the records before it are done); redoing one is harmless, since
delivery ids are the events' ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.observability import end_job, logger, start_job

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

bp = Blueprint(__name__)

# Chalice's name of the function (infra/aws/stack.py FUNCTIONS, the pump).
STREAM_FUNCTION = "webhook_events"


def handle_stream_record(record: "DynamoDBRecord") -> None:
    change = container().stream_change(record.raw_event)
    if change is None:
        return
    start_job(kind="webhooks.stream", message_id=record.event_id or "", tenant_id=change.tenant_id)
    try:
        queued = container().webhook_dispatch.on_changes([change])
    except Exception as error:
        logger.exception("stream record failed", extra={"outcome": "failed", "error": type(error).__name__})
        raise
    if queued:
        logger.info("webhook deliveries queued", extra={"outcome": "done", "deliveries": queued, "kind": change.kind})
    end_job()


def process_stream_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # Imported here, as in the queue consumers: the HTTP function never needs them.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    with container().webhook_dispatch.batch():
        answer: dict[str, Any] = dict(
            process_partial_response(
                event=event, record_handler=handle_stream_record, processor=processor, context=context
            )
        )
    return answer


@bp.lambda_function(name=STREAM_FUNCTION)
def webhook_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.remove_keys(["tenant_id", "user_id"])
    return process_stream_batch(event, context)
