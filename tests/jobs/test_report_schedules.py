"""Scheduled reports end to end over moto (issue 17): the ``reports``
scheduled function queues the due slot, the jobs consumer makes the report,
the creator gets one e-mail with the link; two overlapping runs of the
schedule still make one report (the slot's conditional write in DynamoDB);
expired reports go, file included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import bearer, sent_emails


def at(moment: datetime) -> None:
    from chalicelib.bootstrap import container

    container().override(report_clock=lambda: moment)


def run_schedule() -> dict:
    from chalicelib.handlers.background.schedules import reports_schedule

    event = {
        "version": "0",
        "id": "run",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-29T12:00:00Z",
        "region": "eu-central-1",
        "resources": [],
        "detail": {},
    }
    return reports_schedule(event, None)


def test_overlapping_schedule_runs_make_one_report_and_mail_its_creator_once(api, tenant, run_jobs):
    anna_id, anna = tenant.add_user("anna@acme.example")
    body = {"type": "deals_by_manager", "period": {"preset": "last_week"}, "every": "week"}
    status, schedule, _ = api.call("POST", "/v1/report-schedules", body, headers=bearer(anna))
    assert status == 201, schedule
    due = datetime.fromisoformat(schedule["next_run_at"])
    at(due + timedelta(minutes=5))
    # Two runs before either's jobs ran (the second began before the first recorded its sweep).
    assert run_schedule() == {"queued": 1}
    assert run_schedule() == {"queued": 1}
    assert run_jobs()["failures"] == []
    listed = api.call("GET", "/v1/reports", headers=bearer(anna))[1]["items"]
    assert len(listed) == 1 and listed[0]["status"] == "done" and listed[0]["schedule_id"] == schedule["id"]
    mails = [m for m in sent_emails() if m.subject.startswith("Your report is ready")]
    assert mails and all(m.destinations["ToAddresses"] == ["anna@acme.example"] for m in mails)
    assert len(mails) == 1
    assert f"/v1/reports/{listed[0]['id']}/file" in mails[0].body
    moved = api.call("GET", f"/v1/report-schedules/{schedule['id']}", headers=bearer(anna))[1]
    assert datetime.fromisoformat(moved["next_run_at"]) == due + timedelta(weeks=1)
    # The same week again: nothing more.
    at(due + timedelta(hours=2))
    run_schedule()
    run_jobs()
    assert len(api.call("GET", "/v1/reports", headers=bearer(anna))[1]["items"]) == 1


def test_reports_past_the_retention_are_deleted_with_their_file(api, tenant, run_jobs):
    from chalicelib.config import get_settings
    from chalicelib.storage.dynamo.aws import client

    owner = tenant.owner_token
    api.call("PUT", "/v1/settings/reports", {"retention_days": 1}, headers=bearer(owner))
    now = datetime.now(UTC)
    at(now)
    report_id = api.call("POST", "/v1/reports", {"type": "summary_now"}, headers=bearer(owner))[1]["id"]
    run_jobs()
    assert api.call("GET", f"/v1/reports/{report_id}", headers=bearer(owner))[1]["status"] == "done"
    at(now + timedelta(days=1, minutes=20))
    assert api.call("GET", f"/v1/reports/{report_id}", headers=bearer(owner))[0] == 404
    assert run_schedule() == {"queued": 1}
    run_jobs()
    listed = client("s3").list_objects_v2(Bucket=get_settings().bucket_name, Prefix=f"t/{tenant.id}/reports/")
    assert listed.get("KeyCount", 0) == 0
    from chalicelib.bootstrap import container

    assert container().report_store.get(tenant.id, report_id) is None
