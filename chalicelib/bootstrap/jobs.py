"""The jobs queue's message kinds and what runs each: one table, next to the
event table (events.py), whose deliveries are one of these kinds."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from chalicelib.bootstrap.events import LEGACY_CASCADE_KIND, EventDelivery, deliver, republish_legacy_cascade
from chalicelib.domain.contacts.bulk import ContactBulkChunk
from chalicelib.domain.exports.models import ExportRun
from chalicelib.domain.forms.submission import FormSubmission
from chalicelib.domain.gdpr.service import GdprMessage
from chalicelib.domain.imports.models import ImportChunk
from chalicelib.domain.invoices.documents import MailInvoice, RenderInvoice, SendInvoice
from chalicelib.domain.jobs.housekeeping import PurgeExpired
from chalicelib.domain.mailing.models import MailingChunk
from chalicelib.domain.notifications.service import SendNotificationEmails
from chalicelib.domain.records.tags import TagChangeChunk
from chalicelib.domain.shared.model import Model
from chalicelib.domain.tasks.reminders import DeliverReminder
from chalicelib.domain.voip.calls import CallMessage
from chalicelib.domain.webhooks.models import DeliverWebhook, ReplayWebhooks
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalicelib.bootstrap.container import Container


class LegacyCascade(Model):
    kind: str
    tenant_id: str
    record_kind: str
    record_id: str


def _purge_expired(c: "Container", job: PurgeExpired) -> None:
    deleted = c.housekeeping.purge(job)
    logger.info("purged expired items", extra={"hour": job.hour.isoformat(), "deleted": deleted})


def _send_notification_emails(c: "Container", job: SendNotificationEmails) -> None:
    sent = c.notifier.send_emails(job)
    logger.info("notification e-mails sent", extra={"sent": sent})


def _render_invoice(c: "Container", job: RenderInvoice) -> None:
    rendered = c.invoice_documents.render(job)
    logger.info("invoice rendered" if rendered else "invoice already rendered")


def _prepare_invoice_mail(c: "Container", job: SendInvoice) -> None:
    queued = c.invoice_documents.prepare_mail(job)
    logger.info("invoice mail queued" if queued else "invoice mail sent already")


def _mail_invoice(c: "Container", job: MailInvoice) -> None:
    sent = c.invoice_documents.deliver(job)
    logger.info("invoice mail sent" if sent else "invoice mail not sent now")


# ---- reports (REP-1..4, issue 17) ----
# Loading stops (and the job re-enqueues itself from its checkpoint) while this
# much of the invocation is left: the tables and the workbook are made in it.
REPORT_MARGIN_SECONDS = 45.0


def _generate_report(c: "Container", job: Any) -> None:
    from chalicelib.domain.jobs.service import _seconds_left  # the consumer's clock of this invocation

    seconds_left = _seconds_left.get()
    c.reports.generate(job, out_of_time=lambda: seconds_left is not None and seconds_left() < REPORT_MARGIN_SECONDS)


def _report_kinds() -> dict[str, tuple[type[BaseModel], Callable[["Container", Any], object]]]:
    from chalicelib.domain.reports.service import ExpireReport, GenerateReport, ScheduleSlot

    return {
        "reports.generate": (GenerateReport, _generate_report),
        "reports.slot": (ScheduleSlot, lambda c, job: c.reports.run_slot(job)),
        "reports.expire": (ExpireReport, lambda c, job: c.reports.expire(job)),
    }


# kind -> (message model, idempotent handler)
JOB_KINDS: dict[str, tuple[type[BaseModel], Callable[["Container", Any], object]]] = {
    "event": (EventDelivery, deliver),
    "housekeeping.purge_expired": (PurgeExpired, _purge_expired),
    "notifications.email": (SendNotificationEmails, _send_notification_emails),
    "contacts.bulk": (ContactBulkChunk, lambda c, job: c.contact_bulk.run_chunk(job)),
    "tags.change": (TagChangeChunk, lambda c, job: c.tags.run_chunk(job)),
    "reminders.deliver": (DeliverReminder, lambda c, job: c.reminders.deliver(job)),
    "invoices.mail": (MailInvoice, _mail_invoice),
    # A web form submission whose processing failed in the request (WEB-3): idempotent, by its ids.
    "forms.submission": (FormSubmission, lambda c, job: c.web_form_intake.process(job)),
    # Mass mailing (ADM-2): one chunk of recipients, checkpointed; it queues the next.
    "mailing.chunk": (MailingChunk, lambda c, job: c.mailings.run_chunk(job)),
    # GDPR (issue 18): one person's export ZIP, or their erasure step by step (bootstrap/gdpr.py).
    "gdpr.export": (GdprMessage, lambda c, job: c.gdpr.run(job)),
    "gdpr.erase": (GdprMessage, lambda c, job: c.gdpr.run(job)),
    # Outgoing webhooks (issue 18): one attempt of one delivery; one page of a replayed range.
    "webhooks.deliver": (DeliverWebhook, lambda c, job: c.webhook_dispatch.deliver(job)),
    "webhooks.replay": (ReplayWebhooks, lambda c, job: c.webhook_dispatch.replay_page(job)),
    LEGACY_CASCADE_KIND: (LegacyCascade, lambda c, job: republish_legacy_cascade(c, job.model_dump())),
    # Import chunks come on their own queue (handlers/background/imports.py), through the same dispatch.
    "imports.chunk": (ImportChunk, lambda c, job: c.imports.run(job)),
    "exports.run": (ExportRun, lambda c, job: c.exports.run(job)),
    **_report_kinds(),
}


# The documents queue's kinds (the documents function: handlers/background/documents.py).
DOCUMENT_KINDS: dict[str, tuple[type[BaseModel], Callable[["Container", Any], object]]] = {
    "invoices.render": (RenderInvoice, _render_invoice),
    "invoices.send": (SendInvoice, _prepare_invoice_mail),
}

# The calls queue's kinds (Twilio's status and recording callbacks, a call's
# price asked again): each is merged into its call (domain/voip/calls.py).
# The handler also gets the message id: it claims a caller's new contact.
CALL_KINDS: dict[str, tuple[type[BaseModel], Callable[["Container", Any, str], object]]] = {
    kind: (CallMessage, lambda c, message, message_id: c.call_events.handle(message, message_id))
    for kind in ("voip.status", "voip.recording", "voip.settle")
}
