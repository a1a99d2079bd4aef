"""The reports service over the in-memory twins (REP-3, REP-4, issue 17):
access (a user's report never counts what they may not read; an admin's
counts everything), tenants, the creator-only list, missing rates before any
work, checkpoints, retention, and scheduled reports made exactly once per
slot even when two schedule runs overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.reports.models import (
    NewReport,
    NewReportSchedule,
    ReportSettingsUpdate,
    ReportStatus,
)
from chalicelib.domain.reports.service import GenerateReport
from chalicelib.domain.settings.currency import MissingRates
from chalicelib.domain.shared.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from tests.report_helpers import ADMIN, ANNA, BEN, CLEO, NOW, T, World, principal, workbook


@pytest.fixture
def world() -> World:
    w = World()
    w.add_tenant(T)
    return w


def make(world: World, user: str, report_type: str, tenant: str = T, **body) -> dict:
    service = world.service()
    request = NewReport.model_validate({"type": report_type, "period": {"preset": "this_month"}, **body})
    report = service.request(principal(user, tenant), request)
    world.run_jobs(service)
    done = world.store.get(tenant, report.id)
    assert done is not None and done.status == ReportStatus.DONE, done
    return workbook(world.files.objects[done.file_key])


def ids(sheet: list[list]) -> set[str]:
    return {row[-1] for row in sheet[1:]}


# ---- REP-4 opened to every user: only what the creator may read counts ----


def test_a_users_report_leaves_out_a_private_deal_they_cannot_read_and_an_admins_counts_it(world):
    anna = make(world, ANNA, "deals_by_manager")
    admin = make(world, ADMIN, "deals_by_manager")
    assert "d8" not in ids(anna["Deals counted"])  # Cleo's private deal
    assert "d8" in ids(admin["Deals counted"])
    assert ids(admin["Deals counted"]) - ids(anna["Deals counted"]) == {"d8"}
    # The total row: 7777.00 EUR of won value more for the admin.
    assert admin["Deals per manager"][-1][4] - anna["Deals per manager"][-1][4] == Decimal("7777")


def test_the_creator_on_the_list_of_a_private_deal_counts_it(world):
    cleo = make(world, CLEO, "sales_by_manager")
    assert "d8" in ids(cleo["Deals counted"])


def test_contacts_tasks_invoices_and_calls_follow_the_same_policy(world):
    anna = make(world, ANNA, "summary_period")
    admin = make(world, ADMIN, "summary_period")
    # c4 is private to Cleo: one Client fewer for Anna.
    assert anna["Contacts"][1] == ["Client", 2] and admin["Contacts"][1] == ["Client", 3]
    # Ben's t3 and Cleo's t5 (category Call) have no links: Anna sees neither; her own t1 counts.
    assert (anna["Tasks"][1][1], admin["Tasks"][1][1]) == (1, 3)
    # i6 is Cleo's invoice to a private client: one billed invoice fewer for Anna; i3 (Ben's, readable client) counts.
    assert admin["Invoices"][1][1] - anna["Invoices"][1][1] == 1
    assert anna["Invoices"][3][1] == 1
    # Calls: Anna was rung or called in k1, k2 and k5 only.
    assert [row[1] for row in anna["Calls"][1:]] == [1, 2]
    assert [row[1] for row in admin["Calls"][1:]] == [3, 2]


def test_a_task_linked_to_a_readable_deal_counts_for_others(world):
    from chalicelib.domain.tasks.models import Task

    world.rows.task_records[T].append(
        Task(
            id="t-linked",
            tenant_id=T,
            title="Follow up",
            category_id="k-meeting",
            deal_id="d6",  # a public deal
            due_at=datetime(2026, 11, 25, 9, tzinfo=UTC),
            responsible_id=BEN,
            created_at=datetime(2026, 11, 9, 9, tzinfo=UTC),
            created_by=BEN,
            updated_at=NOW,
        )
    )
    anna = make(world, ANNA, "tasks_by_manager")
    assert "t-linked" in ids(anna["Tasks counted"])
    assert "t3" not in ids(anna["Tasks counted"])  # Ben's task without links


# ---- tenants and the creator-only list ----


def test_another_tenants_report_counts_nothing_of_this_tenant(world):
    world.add_tenant("t2", data=False)
    other = make(world, ADMIN, "deals_by_manager", tenant="t2")
    assert other["Deals per manager"][-1][7] == 0
    assert ids(other["Deals counted"]) == set()


def test_reports_are_listed_and_shown_only_to_their_creator(world):
    world.add_tenant("t2", data=False)
    service = world.service()
    report = service.request(principal(ANNA), NewReport(type="summary_now"))
    for user, tenant in ((BEN, T), (ADMIN, T), (ANNA, "t2"), (ADMIN, "t2")):
        with pytest.raises(NotFound):
            service.get(principal(user, tenant), report.id)
        with pytest.raises(NotFound):
            service.delete(principal(user, tenant), report.id)
        assert service.list_mine(principal(user, tenant), PageRequest()).items == []
    assert [r.id for r in service.list_mine(principal(ANNA), PageRequest()).items] == [report.id]


def test_deleting_a_report_removes_its_files(world):
    service = world.service()
    report = service.request(principal(ANNA), NewReport(type="deals_by_manager"))
    world.run_jobs(service)
    assert any(report.id in key for key in world.files.objects)
    service.delete(principal(ANNA), report.id)
    assert not any(report.id in key for key in world.files.objects)
    with pytest.raises(NotFound):
        service.get(principal(ANNA), report.id)


# ---- REP-3: missing rates fail the request before any work ----


def test_missing_rates_are_named_and_nothing_is_stored_or_queued(world):
    world.money.settings[T] = world.money.settings[T].model_copy(update={"rates": []})
    service = world.service()
    with pytest.raises(MissingRates) as error:
        service.request(principal(ANNA), NewReport(type="summary_period"))
    assert error.value.pairs == [("GBP", "EUR"), ("USD", "EUR")]
    assert "GBP -> EUR" in error.value.detail and "USD -> EUR" in error.value.detail
    assert world.store.records == {} and world.queue.messages == []


def test_a_report_without_deals_or_invoices_needs_no_rates(world):
    world.money.settings[T] = world.money.settings[T].model_copy(update={"rates": []})
    assert make(world, ANNA, "calls_by_operator")["Calls per operator"][-1][0] == "Total"


def test_rates_removed_after_the_request_fail_the_report_with_the_reason(world):
    service = world.service()
    report = service.request(principal(ANNA), NewReport(type="deals_by_manager"))
    world.money.settings[T] = world.money.settings[T].model_copy(update={"rates": []})
    world.run_jobs(service)
    failed = world.store.get(T, report.id)
    assert failed.status == ReportStatus.FAILED and "USD -> EUR" in failed.error


def test_unknown_managers_and_groups_are_refused(world):
    service = world.service()
    with pytest.raises(ValidationFailed) as error:
        service.request(principal(ANNA), NewReport(type="summary_now", manager_ids=["nobody"], group_ids=["g-x"]))
    assert {e.field for e in error.value.errors} == {"manager_ids", "group_ids"}


# ---- checkpoints ----


def test_a_long_generation_checkpoints_each_source_and_goes_on_where_it_stopped(world):
    straight = make(world, ADMIN, "summary_period")
    service = world.service()
    report = service.request(principal(ADMIN), NewReport(type="summary_period"))
    job = GenerateReport.model_validate(world.queue.take()[0])
    deliveries = 0
    while True:
        deliveries += 1
        finished = service.generate(job, out_of_time=lambda: True)
        state = world.store.get(T, report.id)
        if finished is not None:
            break
        # Each invocation loaded one more source, saved its percent and queued the rest.
        assert len(state.loaded) == deliveries and state.status == ReportStatus.RUNNING
        assert 0 < state.percent < 100
        assert [m["kind"] for m in world.queue.take()] == ["reports.generate"]
    assert deliveries == 5  # deals, contacts, tasks, invoices, calls
    assert state.status == ReportStatus.DONE and state.percent == 100
    resumed = workbook(world.files.objects[state.file_key])
    assert {k: v for k, v in resumed.items() if k != "Report"} == {k: v for k, v in straight.items() if k != "Report"}


def test_a_redelivered_job_of_a_finished_report_changes_nothing(world):
    service = world.service()
    report = service.request(principal(ANNA), NewReport(type="deals_by_manager"))
    message = world.queue.messages[0]
    world.run_jobs(service)
    done = world.store.get(T, report.id)
    service.generate(GenerateReport.model_validate(message))
    assert world.store.get(T, report.id) == done


# ---- retention ----


def test_reports_expire_after_the_tenants_retention(world):
    service = world.service()
    with pytest.raises(Forbidden):
        service.set_settings(principal(ANNA), ReportSettingsUpdate(retention_days=7))
    service.set_settings(principal(ADMIN), ReportSettingsUpdate(retention_days=7))
    report = service.request(principal(ANNA), NewReport(type="deals_by_manager"))
    world.run_jobs(service)
    assert world.store.get(T, report.id).expires_at == NOW + timedelta(days=7)
    world.now = NOW + timedelta(days=7, minutes=1)
    later = world.service()
    with pytest.raises(NotFound):
        later.get(principal(ANNA), report.id)
    assert later.sweep() == 1
    world.run_jobs(later)
    assert world.store.get(T, report.id) is None
    assert not any(report.id in key for key in world.files.objects)


# ---- scheduled reports: exactly once per slot ----


def schedule(world: World, every: str = "week") -> str:
    request = NewReportSchedule.model_validate(
        {
            "type": "deals_by_manager",
            "period": {"preset": "last_week" if every == "week" else "last_month"},
            "every": every,
        }
    )
    return world.service().create_schedule(principal(ANNA), request).id


def test_weekly_schedules_run_on_the_tenants_monday_morning(world):
    made = world.schedules.get(T, schedule(world))
    # NOW is Friday 20 November; Monday 23 November 06:00 in Berlin is 05:00 UTC.
    assert made.next_run_at == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def test_monthly_schedules_run_on_the_first_in_the_tenants_zone(world):
    made = world.schedules.get(T, schedule(world, "month"))
    assert made.next_run_at == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


def test_two_overlapping_schedule_runs_make_one_report_and_one_mail(world):
    schedule_id = schedule(world)
    world.now = datetime(2026, 11, 23, 5, 15, tzinfo=UTC)
    first, second = world.service(), world.service()
    # Both runs read the schedule as due before either's jobs ran.
    assert first.sweep() == 1
    world.schedules.swept = None  # the second run started before the first recorded its sweep
    world.store.swept = None
    assert second.sweep() == 1
    slot_jobs = [m for m in world.queue.messages if m["kind"] == "reports.slot"]
    assert len(slot_jobs) == 2 and slot_jobs[0] == slot_jobs[1]
    world.run_jobs(first)
    reports = [r for r in world.store.records.values() if r.schedule_id == schedule_id]
    assert len(reports) == 1 and reports[0].status == ReportStatus.DONE
    assert reports[0].slot == "W2026-11-23" and reports[0].created_by == ANNA
    assert len(world.mailer.sent) == 1
    mail = world.mailer.sent[0]
    assert mail["to"] == "anna@t1.example"
    assert f"https://crm.example.com/v1/reports/{reports[0].id}/file" in mail["text"]
    # The schedule moved on to the next Monday; a run the same week queues nothing more.
    assert world.schedules.get(T, schedule_id).next_run_at == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    world.now = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    assert world.service().sweep() == 0
    # The next week makes the next slot's report.
    world.now = datetime(2026, 11, 30, 5, 1, tzinfo=UTC)
    service = world.service()
    service.sweep()
    world.run_jobs(service)
    slots = sorted(r.slot for r in world.store.records.values() if r.schedule_id == schedule_id)
    assert slots == ["W2026-11-23", "W2026-11-30"]
    assert len(world.mailer.sent) == 2


def test_a_slot_job_delivered_twice_makes_one_report(world):
    from chalicelib.domain.reports.service import ScheduleSlot

    schedule_id = schedule(world)
    world.now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    job = ScheduleSlot(tenant_id=T, schedule_id=schedule_id, due_at=datetime(2026, 11, 23, 5, 0, tzinfo=UTC))
    service = world.service()
    assert service.run_slot(job) is not None
    assert service.run_slot(job) is None
    assert len([r for r in world.store.records.values() if r.schedule_id == schedule_id]) == 1


def test_schedules_are_their_creators_only(world):
    service = world.service()
    schedule_id = schedule(world)
    with pytest.raises(NotFound):
        service.delete_schedule(principal(BEN), schedule_id)
    assert service.list_schedules(principal(BEN), PageRequest()).items == []
    service.delete_schedule(principal(ANNA), schedule_id)
    assert world.schedules.get(T, schedule_id) is None
