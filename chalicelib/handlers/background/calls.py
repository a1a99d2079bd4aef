"""The calls queue's consumer (VOIP-7, 8): Twilio's status and recording
callbacks, queued by the webhooks, merged into their calls by their own
function, with their own timeout and concurrency.

The same pattern as the jobs consumer: Powertools ``BatchProcessor`` with
partial batch failures; each message is parsed by its kind's model
(bootstrap/jobs.CALL_KINDS) and handled idempotently; a failing one fails
alone, is retried by SQS and ends in the dead-letter queue. Nothing of a
message's body is logged (phone numbers are personal data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import bootstrap
from chalicelib.bootstrap import container
from chalicelib.config import deploy_queue_name
from chalicelib.domain.shared.errors import CrmError
from chalicelib.handlers.background.messages import known_kind, log_failure, read_message
from chalicelib.observability import end_job, logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

bp = Blueprint(__name__)


def handle_call_record(record: "SQSRecord") -> None:
    body, kind = read_message(record)
    try:
        from chalicelib.bootstrap.jobs import CALL_KINDS  # the calls function's models: not in the API's cold start

        model, handler = CALL_KINDS[known_kind(body, kind, CALL_KINDS, "call event")]
        handler(container(), model.model_validate(body), record.message_id)
    except Exception as error:
        log_failure("call event", error, record, expected=(CrmError,))
        raise
    logger.info("call event done", extra={"outcome": "done"})
    end_job()


def process_call_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # Imported here, as in the jobs consumer: the HTTP function never needs them.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(
        process_partial_response(event=event, record_handler=handle_call_record, processor=processor, context=context)
    )


@bp.on_sqs_message(queue=deploy_queue_name(bootstrap.CALL_QUEUE), batch_size=10, name="calls")
def run_calls(event: Any) -> dict[str, Any]:
    logger.remove_keys(["tenant_id", "user_id"])
    return process_call_batch(event.to_dict(), getattr(event, "context", None))
