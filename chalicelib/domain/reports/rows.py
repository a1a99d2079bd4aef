"""A record as a report row: the one mapping the DynamoDB adapters and the
in-memory twins share, so both give reports the same rows."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.contacts.models import Contact
from chalicelib.domain.deals.models import Deal
from chalicelib.domain.invoices.models import Invoice
from chalicelib.domain.reports.models import CallRow, ContactRow, DealRow, InvoiceRow, TaskRow
from chalicelib.domain.shared.access import CallAccess
from chalicelib.domain.tasks.models import Task, TaskStatus
from chalicelib.domain.voip.models import Call


def deal_row(deal: Deal) -> DealRow:
    return DealRow(
        id=deal.id,
        title=deal.title,
        responsible_id=deal.responsible_id,
        stage_id=deal.stage_id,
        stage_status=deal.stage_status.value,
        created_at=deal.created_at,
        expected_close_date=deal.expected_close_date,
        actual_close_date=deal.actual_close_date,
        value=deal.value or Decimal(0),
        currency=deal.currency,
        probability=deal.probability,
        contact_ids=tuple(deal.contact_ids),
        access=deal.access_record(),
    )


def contact_row(contact: Contact) -> ContactRow:
    return ContactRow(
        id=contact.id,
        name=contact.display_name,
        type_id=contact.type_id,
        temperature_id=contact.temperature_id,
        managers=tuple(contact.managers),
        created_at=contact.created_at,
        access=contact.access_record(),
    )


def task_row(task: Task) -> TaskRow:
    return TaskRow(
        id=task.id,
        title=task.title,
        category_id=task.category_id,
        responsible_id=task.responsible_id,
        created_by=task.created_by or "",
        created_at=task.created_at,
        due_at=task.due_at,
        closed_at=task.closed_at,
        open=task.status == TaskStatus.OPEN,
        links=tuple(task.links()),
    )


def call_row(call: Call) -> CallRow:
    return CallRow(
        id=call.id,
        operator_id=call.operator_id,
        status=call.status.value,
        direction=call.direction.value if call.direction else None,
        started_at=call.started_at,
        duration=call.duration,
        access=CallAccess(call.participant_set()),
    )


def invoice_row(invoice: Invoice) -> InvoiceRow:
    """An invoice (INV-*) with its total as the invoice shows it (lines, discounts, taxes), in its currency."""
    from chalicelib.domain.invoices.service import totals_of

    return InvoiceRow(
        id=invoice.id,
        number=invoice.number,
        status=invoice.status.value,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        created_by=invoice.created_by or "",
        client_id=invoice.client_id,
        total=totals_of(invoice).total,
        currency=invoice.currency,
    )
