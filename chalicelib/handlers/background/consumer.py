"""The jobs queue's consumer.

One consumer pattern: Powertools ``BatchProcessor`` with
``process_partial_response``; each message names its ``kind``, is parsed by
that kind's pydantic model and handled by an idempotent function
(bootstrap/jobs.py). A bad or failing message fails alone (reported in
``batchItemFailures``), is retried by SQS and lands in the dead-letter queue
after the queue's maxReceiveCount.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import bootstrap
from chalicelib.bootstrap import container
from chalicelib.config import deploy_queue_name
from chalicelib.domain.shared.errors import CrmError
from chalicelib.handlers.background.messages import known_kind, log_failure, read_message
from chalicelib.lazy import lazy_imports
from chalicelib.observability import end_job, logger

with lazy_imports():
    from chalicelib.bootstrap.events import UnknownSubscriber
    from chalicelib.domain.jobs.service import time_limit

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

bp = Blueprint(__name__)

JOB_QUEUE = bootstrap.JOB_QUEUE


def handle_job_record(record: "SQSRecord", lambda_context: Any = None) -> None:
    """One message: its kind, tenant and outcome are logged (never its body:
    personal data); the tenant is in the log context while it runs."""
    body, kind = read_message(record)
    try:
        # Here, not at the top: the job kinds' models load in the jobs function,
        # not in the API's cold start (app.py imports this module for its wiring).
        from chalicelib.bootstrap.jobs import JOB_KINDS

        model, handler = JOB_KINDS[known_kind(body, kind, JOB_KINDS, "job")]
        # Long jobs stop between items before the invocation's time runs out (domain/jobs/service.py).
        remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
        with time_limit((lambda: remaining() / 1000) if remaining else None):
            handler(container(), model.model_validate(body))
    except Exception as error:
        # The batch processor reports it as a failure: SQS retries, then the DLQ.
        # Expected failures name their reason; a bug logs its traceback, as on the HTTP path.
        log_failure("job", error, record, expected=(CrmError, UnknownSubscriber))
        raise
    subscriber = {"subscriber": body.get("subscriber")} if kind == "event" else {}
    logger.info("job done", extra={"outcome": "done", **subscriber})
    end_job()


def process_job_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # Imported here: the batch utilities cost ~0.1 s and the HTTP function,
    # which imports this module too, never needs them.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(
        process_partial_response(event=event, record_handler=handle_job_record, processor=processor, context=context)
    )


@bp.on_sqs_message(queue=deploy_queue_name(JOB_QUEUE), batch_size=10, name="jobs")
def run_jobs(event: Any) -> dict[str, Any]:
    logger.remove_keys(["tenant_id", "user_id"])
    return process_job_batch(event.to_dict(), getattr(event, "context", None))
