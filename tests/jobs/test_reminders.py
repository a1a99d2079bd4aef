"""Reminder machinery (TSK-4): due reminders found by minute bucket, delivered
exactly once even when runs overlap or a delivery is retried."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.bootstrap import container
from chalicelib.domain.tasks.reminders import ArmedReminder, DeliverReminder, Reminders
from chalicelib.storage.dynamo.table import Table
from chalicelib.storage.tasks.reminders import ReminderStore, arm_op, disarm_op

NOW = datetime(2026, 11, 27, 10, 30, 20, tzinfo=UTC)


class ListQueue:
    def __init__(self):
        self.messages = []

    def send_many(self, messages):
        self.messages += list(messages)


@pytest.fixture
def delivered(aws):
    return []


def make(delivered, clock_at=NOW):
    queue = ListQueue()

    def deliver(reminder: ArmedReminder):
        created = container().notifier.notify(
            reminder.tenant_id,
            ["u1"],
            "task.reminder",
            f"Reminder {reminder.task_id}",
            once_key=f"reminder:{reminder.task_id}",
            once_at=reminder.remind_at,
        )
        delivered.extend(created)

    return Reminders(ReminderStore(), queue, deliver, clock=lambda: clock_at), queue


def arm(task_id: str, at: datetime, tenant: str = "t1"):
    Table().transact([arm_op(ArmedReminder(tenant, task_id, at))])


def test_sweep_reads_only_due_buckets_and_queues_each_once(delivered):
    service, queue = make(delivered)
    arm("due-1", NOW - timedelta(minutes=2))
    arm("due-2", NOW - timedelta(seconds=10))
    arm("later", NOW + timedelta(minutes=5))
    arm("other-tenant", NOW - timedelta(minutes=1), tenant="t2")
    assert service.sweep() == 3
    assert sorted(m["task_id"] for m in queue.messages) == ["due-1", "due-2", "other-tenant"]


def test_overlapping_runs_and_retries_deliver_exactly_once(delivered):
    first, q1 = make(delivered)
    second, q2 = make(delivered)
    arm("task-1", NOW - timedelta(minutes=1))
    first.sweep()
    # An overlapping run read the checkpoint before the first one moved it on.
    from chalicelib.storage.dynamo import keys

    Table().delete(keys.job_state("reminders"))
    second.sweep()  # so the same reminder is queued twice
    jobs = [DeliverReminder.model_validate(m) for m in q1.messages + q2.messages]
    assert len(jobs) == 2
    results = [first.deliver(job) for job in jobs] + [second.deliver(jobs[0])]
    assert results == [True, False, False]
    assert len(delivered) == 1


def test_a_delivery_that_crashed_after_notifying_is_retried_without_a_second_notification(delivered):
    service, queue = make(delivered)
    arm("task-1", NOW - timedelta(minutes=1))
    service.sweep()
    job = DeliverReminder.model_validate(queue.messages[0])
    reminder = ReminderStore().get("t1", "task-1")
    service._deliver(reminder)  # notified, then the Lambda died before marking it sent
    assert service.deliver(job) is True  # the retried message marks it, notifying nothing new
    assert len(delivered) == 1


def test_rearming_moves_the_reminder_and_old_deliveries_do_nothing(delivered):
    service, queue = make(delivered)
    arm("task-1", NOW - timedelta(minutes=1))
    service.sweep()
    stale = DeliverReminder.model_validate(queue.messages[0])
    arm("task-1", NOW + timedelta(hours=1))  # due date changed
    assert service.deliver(stale) is False and delivered == []
    later, later_queue = make(delivered, clock_at=NOW + timedelta(hours=1, minutes=1))
    assert later.sweep() == 1
    assert later.deliver(DeliverReminder.model_validate(later_queue.messages[0])) is True
    assert len(delivered) == 1


def test_disarmed_reminders_are_not_delivered(delivered):
    service, queue = make(delivered)
    arm("task-1", NOW - timedelta(minutes=1))
    Table().transact([disarm_op("t1", "task-1")])
    assert service.sweep() == 0


def test_a_sent_reminder_leaves_the_index(delivered):
    service, queue = make(delivered)
    arm("task-1", NOW - timedelta(minutes=1))
    service.sweep()
    service.deliver(DeliverReminder.model_validate(queue.messages[0]))
    again, again_queue = make(delivered, clock_at=NOW + timedelta(minutes=1))
    assert again.sweep() == 0
