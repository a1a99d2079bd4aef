"""The bounces queue's consumer (ADM-2): SES bounce and complaint events,
published by the mailing configuration set to SNS and delivered to this
queue by its subscription (infra/aws/stack.py). Hard bounces and complaints
put the address on the tenant's suppression list; other notifications are
ignored; an unreadable one fails (and ends in the dead-letter queue).
Nothing of a message is logged (addresses are personal data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.config import deploy_queue_name
from chalicelib.handlers.background.messages import PoisonMessage, log_failure, read_message
from chalicelib.lazy import lazy_imports
from chalicelib.observability import end_job, logger

with lazy_imports():
    from chalicelib.domain.mailing import bounces
    from chalicelib.domain.mailing.service import record_bounce
    from chalicelib.domain.shared.clock import utc_now


if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

bp = Blueprint(__name__)
BOUNCE_QUEUE = "bounces"


def handle_bounce_record(record: "SQSRecord") -> None:
    read_message(record)  # the message id in the log context (a notification names no kind or tenant of ours)
    try:
        try:
            found = bounces.parse(record.body)
        except ValueError as error:
            # Not JSON: no retry makes it readable, but dropping it would hide it; the
            # dead-letter queue keeps it for a look (SES or the subscription changed?).
            raise PoisonMessage("bounce notification is not JSON") from error
        if found is None:
            logger.info("bounce notification ignored", extra={"outcome": "ignored"})
            end_job()
            return
        # The suppression list only: this function's role reads nothing else (infra/aws/stack.py).
        suppressed = record_bounce(container().suppressions, found, utc_now())
    except Exception as error:
        log_failure("bounce notification", error, record)
        raise
    logger.info("bounce notification", extra={"outcome": "done", "suppressed": suppressed})
    end_job()


def process_bounce_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(
        process_partial_response(event=event, record_handler=handle_bounce_record, processor=processor, context=context)
    )


@bp.on_sqs_message(queue=deploy_queue_name(BOUNCE_QUEUE), batch_size=10, name="bounces")
def run_bounces(event: Any) -> dict[str, Any]:
    logger.remove_keys(["tenant_id", "user_id"])
    return process_bounce_batch(event.to_dict(), getattr(event, "context", None))
