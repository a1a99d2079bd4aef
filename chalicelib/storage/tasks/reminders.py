"""Armed reminders: one item per task, in the task's item collection, indexed
by minute in the cross-tenant ``schedule`` index until it is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict, NotFound
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.tasks.reminders import ArmedReminder
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Delete, Put, SortKey, Table
from chalicelib.storage.dynamo.table_spec import SCHEDULE_INDEX

_JOB = "reminders"


def arm_op(reminder: ArmedReminder) -> Put:
    """Put into the task's own transaction: (re-)arms, replacing any earlier instant."""
    return Put(
        {
            **keys.reminder(reminder.tenant_id, reminder.task_id),
            "tenant_id": reminder.tenant_id,
            "task_id": reminder.task_id,
            "remind_at": iso(reminder.remind_at),
            **keys.reminder_schedule(reminder.tenant_id, reminder.task_id, reminder.remind_at),
        },
        must_not_exist=False,
    )


def disarm_op(tenant_id: str, task_id: str) -> Delete:
    return Delete(keys.reminder(tenant_id, task_id))


class ReminderStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def get(self, tenant_id: str, task_id: str) -> ArmedReminder | None:
        item = self._table.get(keys.reminder(tenant_id, task_id), consistent=True)
        if item is None or item.get("sent_at"):
            return None
        return ArmedReminder(tenant_id, task_id, datetime.fromisoformat(item["remind_at"]))

    def last_sweep(self) -> datetime | None:
        state = self._table.get(keys.job_state(_JOB))
        return datetime.fromisoformat(state["swept_until"]) if state else None

    def record_sweep(self, until: datetime) -> None:
        self._table.update(keys.job_state(_JOB), set={"swept_until": iso(until)}, bump_version=False, must_exist=False)

    def due_between(self, since: datetime, until: datetime) -> list[ArmedReminder]:
        """Armed reminders with since <= remind_at <= until: one Query per minute bucket."""
        found: list[ArmedReminder] = []
        minute = since.astimezone(UTC).replace(second=0, microsecond=0)
        while minute <= until:
            after = None
            while True:
                page = self._table.query(
                    keys.reminder_bucket(minute),
                    index=SCHEDULE_INDEX,
                    sort=SortKey.at_most(iso(until) + "\uffff"),
                    page=PageRequest(limit=200, after=after),
                )
                found += [
                    ArmedReminder(i["tenant_id"], i["task_id"], datetime.fromisoformat(i["remind_at"]))
                    for i in page.items
                ]
                if page.after is None:
                    break
                after = page.after
            minute += timedelta(minutes=1)
        return [r for r in found if since - timedelta(minutes=1) <= r.remind_at <= until]

    def mark_sent(self, reminder: ArmedReminder) -> bool:
        """Sent exactly once: only while armed for this very instant. The item
        leaves the schedule index (sparse) and stays as a record of delivery."""
        try:
            self._table.update(
                keys.reminder(reminder.tenant_id, reminder.task_id),
                set={"sent_at": iso(datetime.now(UTC))},
                remove=["sched_pk", "sched_sk"],
                bump_version=False,
                require=[("remind_at", "=", iso(reminder.remind_at)), ("sent_at", "not_exists", None)],
            )
        except (Conflict, NotFound):
            return False
        return True
