"""The documents queue's consumer: a plain Lambda handler (the documents
function is a container image with pango, infra/aws/stack.py), not a Chalice
route or event source, so the HTTP function never imports weasyprint.

Each message names its ``kind`` (bootstrap/jobs.py ``DOCUMENT_KINDS``:
render an invoice, send one of its mails) and is handled idempotently; a
failing message fails alone (``batchItemFailures``), is retried by SQS and
lands in the dead-letter queue after the queue's maxReceiveCount. On the
local stack the job pump (infra/local/pump.py) delivers the queue here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.bootstrap import container
from chalicelib.domain.shared.errors import CrmError
from chalicelib.handlers.background.messages import known_kind, log_failure, read_message
from chalicelib.lazy import lazy_imports
from chalicelib.observability import end_job, logger

with lazy_imports():  # the message models load with the first message (bench/cold_start.py measures this entry)
    from chalicelib.bootstrap.jobs import DOCUMENT_KINDS

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

HANDLER = "chalicelib.handlers.background.documents.handle_batch"
QUEUE = "documents"


def handle_record(record: "SQSRecord") -> None:
    body, kind = read_message(record)
    try:
        model, handler = DOCUMENT_KINDS[known_kind(body, kind, DOCUMENT_KINDS, "document job")]
        handler(container(), model.model_validate(body))
    except Exception as error:
        log_failure("document job", error, record, expected=(CrmError,))
        raise
    logger.info("document job done", extra={"outcome": "done"})
    end_job()


def handle_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The Lambda handler: one SQS batch, partial batch failures reported."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    logger.remove_keys(["tenant_id", "user_id"])
    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(
        process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    )
