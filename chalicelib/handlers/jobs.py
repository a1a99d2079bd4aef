"""Background entry points: the job queue consumer and the schedules.

One consumer pattern: Powertools ``BatchProcessor`` with
``process_partial_response``; each message names its ``kind``, is parsed by
that kind's pydantic model and handled by an idempotent function. A bad or
failing message fails alone (reported in ``batchItemFailures``), is retried by
SQS and lands in the dead-letter queue after the queue's maxReceiveCount.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from chalice import Blueprint, Rate
from pydantic import BaseModel

from chalicelib import services
from chalicelib.config import deploy_queue_name, get_settings
from chalicelib.domain import parents
from chalicelib.domain.background_jobs import time_limit
from chalicelib.domain.contact_bulk import ContactBulkChunk
from chalicelib.domain.contacts_service import CascadeDelete
from chalicelib.domain.housekeeping import PurgeExpired
from chalicelib.domain.notifications import SendNotificationEmails
from chalicelib.domain.reminders import DeliverReminder
from chalicelib.domain.tags import TagChangeChunk
from chalicelib.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

bp = Blueprint(__name__)

JOB_QUEUE = services.JOB_QUEUE


def _purge_expired(job: PurgeExpired) -> None:
    deleted = services.housekeeping().purge(job)
    logger.info("purged expired items", extra={"hour": job.hour.isoformat(), "deleted": deleted})


def _send_notification_emails(job: SendNotificationEmails) -> None:
    sent = services.notifier().send_emails(job)
    logger.info("notification e-mails sent", extra={"sent": sent})


def _contacts_bulk(job: ContactBulkChunk) -> None:
    services.contact_bulk().run_chunk(job)


def _tags_change(job: TagChangeChunk) -> None:
    services.tags().run_chunk(job)


def _cascade_delete(job: CascadeDelete) -> None:
    for cascade in parents.cascades(job.record_kind):
        cascade(job.tenant_id, job.record_id)


# kind -> (message model, idempotent handler)
JOB_HANDLERS: dict[str, tuple[type[BaseModel], Callable[[Any], None]]] = {
    "housekeeping.purge_expired": (PurgeExpired, _purge_expired),
    "notifications.email": (SendNotificationEmails, _send_notification_emails),
    "records.cascade_delete": (CascadeDelete, _cascade_delete),
    "contacts.bulk": (ContactBulkChunk, _contacts_bulk),
    "tags.change": (TagChangeChunk, _tags_change),
    "reminders.deliver": (DeliverReminder, lambda job: services.reminders().deliver(job)),
}


class UnknownJob(ValueError):
    pass


def handle_job_record(record: "SQSRecord", lambda_context: Any = None) -> None:
    body = json.loads(record.body)
    kind = body.get("kind") if isinstance(body, dict) else None
    if kind not in JOB_HANDLERS:
        raise UnknownJob(f"unknown job kind {kind!r}")
    model, handler = JOB_HANDLERS[kind]
    # Long jobs stop between items before the invocation's time runs out (domain/background_jobs.py).
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    with time_limit((lambda: remaining() / 1000) if remaining else None):
        handler(model.model_validate(body))


def process_job_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # Imported here: the batch utilities cost ~0.1 s and the HTTP function,
    # which imports this module too, never needs them.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=handle_job_record,
                                    processor=processor, context=context)


@bp.on_sqs_message(queue=deploy_queue_name(JOB_QUEUE), batch_size=10, name="jobs")
def run_jobs(event: Any) -> dict[str, Any]:
    logger.remove_keys(["tenant_id", "user_id"])
    return process_job_batch(event.to_dict(), getattr(event, "context", None))


@bp.schedule(Rate(1, unit=Rate.HOURS), name="housekeeping")
def housekeeping_schedule(event: Any) -> dict[str, Any]:
    jobs = services.housekeeping().sweep()
    logger.info("housekeeping sweep queued", extra={"jobs": len(jobs), "stage": get_settings().stage})
    return {"queued": len(jobs)}


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="reminders")
def reminders_schedule(event: Any) -> dict[str, Any]:
    """TSK-4: queue a delivery for every reminder due by now."""
    queued = services.reminders().sweep()
    if queued:
        logger.info("reminders queued", extra={"queued": queued})
    return {"queued": queued}
