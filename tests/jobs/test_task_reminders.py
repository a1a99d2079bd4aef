"""Task reminders (TSK-4) end to end: tasks created through the API, the real
wiring (container().reminders, the job queue and its consumer), a clock set
per sweep."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.bootstrap import container
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Table
from tests.api.test_tasks import berlin_tenant, contact, task
from tests.conftest import bearer, sent_emails

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def sweep_at(moment: datetime) -> int:
    reminders = container().reminders
    reminders._clock = lambda: moment
    return reminders.sweep()


def reminders_in_inbox(api, token):
    status, page, _ = api.call("GET", "/v1/notifications", headers=bearer(token))
    assert status == 200
    return [n for n in page["items"] if n["subject"].startswith("Reminder:")]


@pytest.fixture
def setup(api, tenant):
    anna = contact(api, tenant.owner_token)
    created = task(
        api,
        tenant.owner_token,
        contact_id=anna["id"],
        remind_minutes=5,
        due_at=(NOW + timedelta(minutes=10)).isoformat(),
    )
    return created


def test_exactly_once_under_two_overlapping_runs(api, tenant, setup, run_jobs):
    due = NOW + timedelta(minutes=5)
    assert sweep_at(due - timedelta(minutes=1)) == 0
    assert sweep_at(due) == 1
    # An overlapping run that read the checkpoint before the first moved it on.
    Table().delete(keys.job_state("reminders"))
    assert sweep_at(due + timedelta(seconds=20)) == 1
    result = run_jobs()
    assert result["failures"] == []
    found = reminders_in_inbox(api, tenant.owner_token)
    assert len(found) == 1 and found[0]["link"] == f"/v1/tasks/{setup['id']}"
    assert len([m for m in sent_emails() if m.subject.startswith("Reminder:")]) == 1
    # Sent: a later sweep finds nothing.
    assert sweep_at(due + timedelta(minutes=1)) == 0


def test_edit_rearms_and_an_old_delivery_does_nothing(api, tenant, setup, run_jobs):
    due = NOW + timedelta(minutes=5)
    assert sweep_at(due) == 1  # queued for the old instant
    status, _, _ = api.call(
        "PATCH",
        f"/v1/tasks/{setup['id']}",
        {"due_at": (NOW + timedelta(hours=2)).isoformat()},
        headers=bearer(tenant.owner_token, **{"If-Match": '"1"'}),
    )
    assert status == 200
    run_jobs()
    assert reminders_in_inbox(api, tenant.owner_token) == []
    new_instant = NOW + timedelta(hours=2, minutes=-5)
    assert sweep_at(new_instant - timedelta(minutes=1)) == 0
    assert sweep_at(new_instant) == 1
    run_jobs()
    assert len(reminders_in_inbox(api, tenant.owner_token)) == 1
    # Changing only remind_minutes re-arms as well.
    status, _, _ = api.call(
        "PATCH",
        f"/v1/tasks/{setup['id']}",
        {"remind_minutes": 60},
        headers=bearer(tenant.owner_token, **{"If-Match": '"2"'}),
    )
    assert status == 200
    armed = container().reminders._store.get(tenant.id, setup["id"])
    assert armed is not None and armed.remind_at == NOW + timedelta(hours=1)


def test_no_reminder_for_closed_deleted_or_never(api, tenant, setup, run_jobs):
    h = bearer(tenant.owner_token, **{"If-Match": '"1"'})
    assert api.call("PATCH", f"/v1/tasks/{setup['id']}", {"status": "closed"}, headers=h)[0] == 200
    deleted = task(
        api, tenant.owner_token, title="Gone", remind_minutes=5, due_at=(NOW + timedelta(minutes=10)).isoformat()
    )
    assert api.call("DELETE", f"/v1/tasks/{deleted['id']}", headers=bearer(tenant.owner_token))[0] == 204
    task(api, tenant.owner_token, title="Never", remind_minutes=0, due_at=(NOW + timedelta(minutes=5)).isoformat())
    assert sweep_at(NOW + timedelta(minutes=6)) == 0
    run_jobs()
    assert reminders_in_inbox(api, tenant.owner_token) == []


def test_a_task_closed_after_the_sweep_is_not_reminded(api, tenant, setup, run_jobs):
    assert sweep_at(NOW + timedelta(minutes=5)) == 1
    h = bearer(tenant.owner_token, **{"If-Match": '"1"'})
    assert api.call("PATCH", f"/v1/tasks/{setup['id']}", {"status": "closed"}, headers=h)[0] == 200
    run_jobs()
    assert reminders_in_inbox(api, tenant.owner_token) == []


def test_berlin_reminder_across_the_march_change_lands_at_the_right_instant(api, run_jobs):
    berlin = berlin_tenant(api)
    zone = ZoneInfo("Europe/Berlin")
    anna = contact(api, berlin.owner_token)
    # DST starts 2027-03-28 02:00 local. Due Monday 09:00 local (+02:00) = 07:00 UTC;
    # one day earlier is Sunday 07:00 UTC = 09:00 local (already +02:00).
    due_local = datetime(2027, 3, 29, 9, 0, tzinfo=zone)
    created = task(api, berlin.owner_token, contact_id=anna["id"], due_at=due_local.isoformat(), remind_minutes=1440)
    instant = datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    assert sweep_at(instant - timedelta(minutes=1)) == 0
    run_jobs()
    assert reminders_in_inbox(api, berlin.owner_token) == []
    assert sweep_at(instant) == 1
    run_jobs()
    found = reminders_in_inbox(api, berlin.owner_token)
    assert [n["subject"] for n in found] == ["Reminder: Call back — Anna Müller — due 29.03.2027 09:00 (Europe/Berlin)"]
    assert found[0]["link"] == f"/v1/tasks/{created['id']}"


def test_reminders_go_to_the_responsible_user(api, tenant, run_jobs):
    bob, bob_token = tenant.add_user("bob@acme.example")
    task(
        api,
        tenant.owner_token,
        title="For Bob",
        responsible_id=bob,
        remind_minutes=15,
        due_at=(NOW + timedelta(minutes=15)).isoformat(),
    )
    assert sweep_at(NOW) == 1
    run_jobs()
    assert [n["subject"].split(" — ")[0] for n in reminders_in_inbox(api, bob_token)] == ["Reminder: For Bob"]
    assert reminders_in_inbox(api, tenant.owner_token) == []


def test_the_schedule_is_registered(app):
    from chalicelib.bootstrap.jobs import JOB_KINDS
    from chalicelib.handlers.background import schedules

    assert "reminders.deliver" in JOB_KINDS
    assert callable(schedules.reminders_schedule)
