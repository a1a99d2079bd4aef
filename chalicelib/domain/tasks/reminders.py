"""Task reminders (TSK-4), delivered exactly once.

A reminder is armed with the instant it falls due (due time minus the chosen
minutes, computed on aware datetimes, so daylight-saving changes cannot shift
it). A schedule runs every minute: it reads the minute buckets of the
cross-tenant ``schedule`` index from its last checkpoint through now — its
cost grows with the reminders that fall due, not with the number of tasks —
and queues one delivery per due reminder. The delivery notifies with an id
derived from (task, instant), so two overlapping runs, a redelivered message
or a run that crashed after notifying produce one notification and one
e-mail; then it marks the reminder sent under a condition on that instant.
Re-arming (a new due time or reminder) changes the instant; a delivery for
the old instant then finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal

from pydantic import AwareDatetime, ConfigDict

from chalicelib.domain.shared.clock import Clock, utc_now
from chalicelib.domain.shared.model import Model

if TYPE_CHECKING:
    from chalicelib.domain.shared.ports import JobQueue
    from chalicelib.domain.tasks.ports import ReminderStore

REMINDER_CHOICES = (0, 5, 15, 30, 60, 120, 1440)
DEFAULT_REMINDER: Final = 1440
# After a pause (deployment, local stack off) late reminders still go out,
# but nothing older than this is dug up.
MAX_CATCH_UP = timedelta(days=2)


def reminder_instant(due_at: datetime | None, minutes: int) -> datetime | None:
    """When the reminder falls due; None for "never" or no due time."""
    if due_at is None or minutes == 0:
        return None
    if due_at.tzinfo is None:
        raise ValueError("due_at must carry an offset")
    # In UTC: Python subtracts wall-clock time within one zone, which would put
    # a reminder an hour off across a daylight-saving change.
    return due_at.astimezone(UTC) - timedelta(minutes=minutes)


@dataclass(frozen=True)
class ArmedReminder:
    tenant_id: str
    task_id: str
    remind_at: datetime


class DeliverReminder(Model):
    """Job message: deliver the reminder of a task for one instant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["reminders.deliver"] = "reminders.deliver"
    tenant_id: str
    task_id: str
    remind_at: AwareDatetime


# (reminder) -> None: notifies the responsible user; must pass
# once_key/once_at to Notifier.notify so that it is idempotent.
Deliverer = Callable[[ArmedReminder], None]


class Reminders:
    def __init__(self, store: ReminderStore, queue: JobQueue, deliverer: Deliverer, clock: Clock = utc_now):
        self._store = store
        self._queue = queue
        self._deliver = deliverer
        self._clock = clock

    def sweep(self) -> int:
        """Queue a delivery for every armed reminder due by now."""
        now = self._clock()
        since = self._store.last_sweep() or now - timedelta(minutes=5)
        since = max(since, now - MAX_CATCH_UP)
        due = self._store.due_between(since, now)
        self._queue.send_many(
            DeliverReminder(tenant_id=r.tenant_id, task_id=r.task_id, remind_at=r.remind_at).model_dump(mode="json")
            for r in due
        )
        # The current minute is read again next time: reminders may still be armed in it.
        self._store.record_sweep(now.replace(second=0, microsecond=0))
        return len(due)

    def deliver(self, job: DeliverReminder) -> bool:
        """True if this call delivered it; False if it was re-armed, disarmed or sent already."""
        armed = self._store.get(job.tenant_id, job.task_id)
        if armed is None or armed.remind_at != job.remind_at:
            return False
        self._deliver(armed)
        return self._store.mark_sent(armed)
