"""Reports (REP-1..4): asked for, generated in the background, kept for the
tenant's retention, listed only to their creator; scheduled weekly or monthly.

Generation (``generate``) reads each source the type needs (deals,
contacts, tasks, invoices, calls), keeps only the rows the report's creator
may read (domain/shared/access.py decides, as for any list), parks them
beside the report (the checkpoint: a redelivered or re-enqueued job goes on
with the next source) and at the end builds the tables (types.py) and the
workbook. Rates are checked before anything is created: a missing rate is a
422 naming every missing pair (REP-3), and checked again when the job runs.

Schedules: a due schedule queues one job per slot (the week or the month it
is due in); the job creates the slot's report under a conditional write on
the slot, so two overlapping schedule runs make one report, never two.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from chalicelib.domain.reports.models import (
    SOURCES,
    CallRow,
    ContactRow,
    DealRow,
    Every,
    InvoiceRow,
    NewReport,
    NewReportSchedule,
    Report,
    ReportSchedule,
    ReportSettings,
    ReportSettingsUpdate,
    ReportStatus,
    ReportType,
    Rows,
    Source,
    TaskRow,
)
from chalicelib.domain.reports.periods import Window, add_months, local_today, resolve, week_start, week_start_day
from chalicelib.domain.reports.ports import (
    CallRows,
    ContactRows,
    DealRows,
    Directory,
    InvoiceRows,
    LinkedAccess,
    Mailer,
    ReportFiles,
    ReportSettingsStore,
    ReportStore,
    ScheduleStore,
    TaskRows,
)
from chalicelib.domain.reports.tables import Table
from chalicelib.domain.reports.types import Context, Stage, build
from chalicelib.domain.settings.currency import MissingRates, rate_for, rate_table
from chalicelib.domain.shared.access import InvoiceAccess, Operation, TaskAccess, allowed
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.ports import JobQueue
from chalicelib.domain.shared.principal import Principal, Role

GENERATE_KIND = "reports.generate"
SLOT_KIND = "reports.slot"
EXPIRE_KIND = "reports.expire"
DOWNLOAD_SECONDS = 300
# Scheduled reports are made early in the tenant's day, once the day before is over everywhere in it.
SCHEDULE_HOUR = 6
# A schedule run looks back this far before its last sweep (or now, the first time).
LOOK_BACK = timedelta(days=1)
_PERCENT_LOADING = 80  # sources loaded: 0..80 %; tables and workbook: the rest

# Renders a workbook: (report, its context, its tables, who made it) -> .xlsx bytes.
Renderer = Callable[[Report, Context, list[Table], str], bytes]

# A source's parked rows as JSON. Made on first use: a TypeAdapter builds its schema when made.
_ROW_TYPES: dict[Source, Callable[[], TypeAdapter[Any]]] = {
    Source.DEALS: lambda: TypeAdapter(list[DealRow]),
    Source.CONTACTS: lambda: TypeAdapter(list[ContactRow]),
    Source.TASKS: lambda: TypeAdapter(list[TaskRow]),
    Source.INVOICES: lambda: TypeAdapter(list[InvoiceRow]),
    Source.CALLS: lambda: TypeAdapter(list[CallRow]),
}


@functools.cache
def _row_type(source: Source) -> TypeAdapter[Any]:
    return _ROW_TYPES[source]()


class GenerateReport(Model):
    kind: str = GENERATE_KIND
    tenant_id: str
    report_id: str


class ScheduleSlot(Model):
    kind: str = SLOT_KIND
    tenant_id: str
    schedule_id: str
    due_at: datetime


class ExpireReport(Model):
    kind: str = EXPIRE_KIND
    tenant_id: str
    report_id: str


def slot_of(every: Every, day: Any) -> str:
    """The name of the week or month a run belongs to: its exactly-once key."""
    return f"W{day.isoformat()}" if every == Every.WEEK else f"M{day.year:04d}-{day.month:02d}"


class Reports:
    def __init__(
        self,
        *,
        store: ReportStore,
        schedules: ScheduleStore,
        files: ReportFiles,
        settings: ReportSettingsStore,
        deals: DealRows,
        contacts: ContactRows,
        tasks: TaskRows,
        invoices: InvoiceRows,
        calls: CallRows,
        linked: LinkedAccess,
        directory: Directory,
        lists: Any,
        money: Any,
        queue: JobQueue,
        mailer: Mailer,
        render: Renderer,
        public_url: str = "",
        clock: Clock = utc_now,
    ):
        self._store = store
        self._schedules = schedules
        self._files = files
        self._settings = settings
        self._deals = deals
        self._contacts = contacts
        self._tasks = tasks
        self._invoices = invoices
        self._calls = calls
        self._linked = linked
        self._directory = directory
        self._lists = lists
        self._money = money
        self._queue = queue
        self._mailer = mailer
        self._render = render
        self._public_url = public_url.rstrip("/")
        self._clock = clock

    # ---- on demand (REP-1, REP-2, REP-4) ----

    def request(self, principal: Principal, request: NewReport) -> Report:
        """Check everything that could fail the report (managers, groups, rates),
        then store it queued and queue its generation: the answer is 202."""
        self._check_people(principal, request.manager_ids, request.group_ids)
        self._check_rates(principal, request.type)
        tenant = self._directory.get_tenant(principal.tenant_id)
        now = self._clock()
        report = Report(
            id=new_id(),
            tenant_id=principal.tenant_id,
            type=request.type,
            period=request.period,
            manager_ids=list(dict.fromkeys(request.manager_ids)),
            group_ids=list(dict.fromkeys(request.group_ids)),
            time_zone=getattr(tenant, "time_zone", "UTC") or "UTC",
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        self._store.create(report, by=principal.user_id)
        self._queue.send(GenerateReport(tenant_id=report.tenant_id, report_id=report.id).model_dump(mode="json"))
        return report

    def get(self, principal: Principal, report_id: str) -> Report:
        """Only its creator sees a report, admins included (REP-4); expired ones are gone."""
        report = self._store.get(principal.tenant_id, report_id)
        if report is None or report.created_by != principal.user_id or self._expired(report):
            raise NotFound("The report does not exist.")
        return report

    def list_mine(self, principal: Principal, page: PageRequest) -> Slice[Report]:
        found = self._store.list_mine(principal.tenant_id, principal.user_id, page)
        return Slice([r for r in found.items if not self._expired(r)], found.after)

    def download_url(self, principal: Principal, report_id: str) -> str:
        report = self.get(principal, report_id)
        if report.status != ReportStatus.DONE or report.file_key is None:
            raise NotFound("The report's file is not ready; its status says how far it is.")
        return self._files.download_url(report.file_key, filename=file_name(report), seconds=DOWNLOAD_SECONDS)

    def delete(self, principal: Principal, report_id: str) -> None:
        report = self.get(principal, report_id)
        self._files.delete_all(report.tenant_id, report.id)
        self._store.delete(report, by=principal.user_id, at=self._clock())

    def _expired(self, report: Report) -> bool:
        return report.expires_at is not None and report.expires_at <= self._clock()

    # ---- retention (set by the tenant's admins) ----

    def settings(self, principal: Principal) -> ReportSettings:
        return self._settings.get(principal.tenant_id)

    def set_settings(self, principal: Principal, request: ReportSettingsUpdate) -> ReportSettings:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins set how long reports are kept.")
        return self._settings.put(principal.tenant_id, ReportSettings(retention_days=request.retention_days))

    # ---- checks before any work ----

    def _check_people(self, principal: Principal, user_ids: list[str], group_ids: list[str]) -> None:
        errors = []
        known_users = {u.id for u in self._directory.get_users(principal.tenant_id, user_ids)}
        errors += [FieldError("manager_ids", f"no user {u}") for u in user_ids if u not in known_users]
        known_groups = {g.id for g in self._directory.get_groups(principal.tenant_id, group_ids)}
        errors += [FieldError("group_ids", f"no group {g}") for g in group_ids if g not in known_groups]
        if errors:
            raise ValidationFailed("Some managers or groups do not exist.", errors=errors)

    def _check_rates(self, principal: Principal, report_type: ReportType) -> tuple[str, dict[Any, Any]]:
        """The default currency and its rates; MissingRates (422) names every pair missing."""
        money = self._money.get(principal)
        currencies: set[str] = set()
        if Source.DEALS in SOURCES[report_type]:
            currencies |= self._deals.currencies(principal.tenant_id)
        if Source.INVOICES in SOURCES[report_type]:
            currencies |= self._invoices.currencies(principal.tenant_id)
        rates = rate_table(money.rates)
        missing = {(c, money.currency) for c in currencies if rate_for(c, money.currency, rates) is None}
        if missing:
            raise MissingRates(missing)
        return money.currency, rates

    # ---- generation (the jobs queue) ----

    def generate(self, job: GenerateReport, *, out_of_time: Callable[[], bool] = lambda: False) -> Report | None:
        """Idempotent: a finished report is left alone; a half-done one goes on
        from its last checkpoint. Returns the report when it is finished."""
        report = self._store.get(job.tenant_id, job.report_id)
        if report is None or report.status in (ReportStatus.DONE, ReportStatus.FAILED):
            return report
        principal = self._creator(report)
        if principal is None:
            return self._fail(report, "The user who asked for the report no longer exists.")
        try:
            currency, rates = self._check_rates(principal, report.type)
        except MissingRates as missing:
            return self._fail(report, missing.detail)
        tenant = self._directory.get_tenant(report.tenant_id)
        if report.status == ReportStatus.QUEUED:
            report = self._save(report, status=ReportStatus.RUNNING, percent=1, currency=currency)
        sources = SOURCES[report.type]
        for source in sources:
            if source in report.loaded:
                continue
            visible = list(self._visible(principal, source))
            self._files.park(report.tenant_id, report.id, source.value, _row_type(source).dump_json(visible))
            loaded = [*report.loaded, source]
            report = self._save(report, loaded=loaded, percent=max(1, _PERCENT_LOADING * len(loaded) // len(sources)))
            if out_of_time() and len(loaded) < len(sources):
                # Checkpoint: the next delivery goes on with the next source.
                self._queue.send(job.model_dump(mode="json"))
                return None
        now = self._clock()
        rows = Rows()
        for source in sources:
            data = self._files.parked(report.tenant_id, report.id, source.value)
            setattr(rows, source.value, _row_type(source).validate_json(data) if data else [])
        ctx = self.context(principal, report, now=now, currency=currency, rates=rates, tenant=tenant)
        ctx = self.with_names(ctx, report.tenant_id, [*people_in(rows), *(ctx.managers or ())])
        tables = build(report.type, ctx, rows)
        creator = self._directory.get_user(report.tenant_id, principal.user_id)
        data = self._render(report, ctx, tables, getattr(creator, "name", principal.user_id))
        key = self._files.put(report.tenant_id, report.id, data)
        retention = self._settings.get(report.tenant_id).retention_days
        report = self._save(
            report,
            status=ReportStatus.DONE,
            percent=100,
            generated_at=now,
            file_key=key,
            file_size=len(data),
            expires_at=now + timedelta(days=retention),
            range_from=ctx.window.start,
            range_until=ctx.window.until,
        )
        if report.schedule_id and creator is not None:
            self._mail_link(report, creator)
        return report

    def context(
        self,
        principal: Principal,
        report: Report,
        *,
        now: datetime,
        currency: str,
        rates: Any,
        tenant: Any = None,
    ) -> Context:
        """Everything the types need besides rows: the period, managers, names, lists."""
        tenant = tenant or self._directory.get_tenant(report.tenant_id)
        first_weekday = week_start_day(getattr(tenant, "phone_region", None))
        start, until = resolve(report.period, local_today(now, report.time_zone), first_weekday=first_weekday)
        managers = self._managers(report)
        stages = tuple(
            Stage(e.id, e.name, (e.status.value if e.status else "open"), e.order)
            for e in self._lists.list(principal, "deal-stages")
        )
        ctx = Context(
            window=Window(start, until, report.time_zone),
            now=now,
            currency=currency,
            rates=rates,
            managers=managers,
            stages=stages,
            contact_types={e.id: e.name for e in self._lists.list(principal, "contact-types")},
            temperatures={e.id: e.name for e in self._lists.list(principal, "temperatures")},
            task_categories={e.id: e.name for e in self._lists.list(principal, "task-categories")},
        )
        return ctx

    def with_names(self, ctx: Context, tenant_id: str, user_ids: Iterable[str]) -> Context:
        from dataclasses import replace

        users = self._directory.get_users(tenant_id, sorted(set(user_ids)))
        return replace(ctx, names={u.id: u.name for u in users})

    def _managers(self, report: Report) -> frozenset[str] | None:
        if not report.manager_ids and not report.group_ids:
            return None
        members = {m for g in self._directory.get_groups(report.tenant_id, report.group_ids) for m in g.member_ids}
        return frozenset(report.manager_ids) | frozenset(members)

    def _creator(self, report: Report) -> Principal | None:
        """The creator as they are now: their role decides what the report counts."""
        user = self._directory.get_user(report.tenant_id, report.created_by or "")
        if user is None or getattr(user, "status", "active") == "deactivated":
            return None
        return Principal(report.tenant_id, user.id, Role(user.role), frozenset(user.group_ids))

    def _save(self, report: Report, **changes: Any) -> Report:
        after = report.model_copy(update={**changes, "updated_at": self._clock()})
        return self._store.update(report, after, by=None)

    def _fail(self, report: Report, reason: str) -> Report:
        return self._save(report, status=ReportStatus.FAILED, error=reason)

    # ---- what the creator may read (REP-4 opened to every user) ----

    def _visible(self, principal: Principal, source: Source) -> Iterator[Any]:
        if source == Source.DEALS:
            return (d for d in self._deals.deals(principal.tenant_id) if allowed(principal, Operation.READ, d.access))
        if source == Source.CONTACTS:
            return (
                c for c in self._contacts.contacts(principal.tenant_id) if allowed(principal, Operation.READ, c.access)
            )
        if source == Source.CALLS:
            return (c for c in self._calls.calls(principal.tenant_id) if allowed(principal, Operation.READ, c.access))
        if source == Source.TASKS:
            return self._visible_tasks(principal)
        return self._visible_invoices(principal)

    def _readable_links(self, principal: Principal, refs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        if principal.is_admin or not refs:
            return refs
        records = self._linked.access_records(principal.tenant_id, sorted(refs))
        return {ref for ref, record in records.items() if allowed(principal, Operation.READ, record)}

    def _visible_tasks(self, principal: Principal) -> Iterator[TaskRow]:
        tasks = list(self._tasks.tasks(principal.tenant_id))
        me = principal.user_id
        refs = {ref for t in tasks if me not in (t.responsible_id, t.created_by) for ref in t.links}
        readable = self._readable_links(principal, refs)
        for task in tasks:
            linked = any(ref in readable for ref in task.links)
            access = TaskAccess(responsible_id=task.responsible_id, created_by=task.created_by, linked_readable=linked)
            if allowed(principal, Operation.READ, access):
                yield task

    def _visible_invoices(self, principal: Principal) -> Iterator[InvoiceRow]:
        invoices = list(self._invoices.invoices(principal.tenant_id))
        refs = {("contact", i.client_id) for i in invoices if i.created_by != principal.user_id}
        readable = self._readable_links(principal, refs)
        for invoice in invoices:
            access = InvoiceAccess(
                created_by=invoice.created_by, client_readable=("contact", invoice.client_id) in readable
            )
            if allowed(principal, Operation.READ, access):
                yield invoice

    # ---- schedules (issue 17: weekly or monthly, exactly once per slot) ----

    def create_schedule(self, principal: Principal, request: NewReportSchedule) -> ReportSchedule:
        self._check_people(principal, request.manager_ids, request.group_ids)
        tenant = self._directory.get_tenant(principal.tenant_id)
        now = self._clock()
        schedule = ReportSchedule(
            id=new_id(),
            tenant_id=principal.tenant_id,
            type=request.type,
            period=request.period,
            manager_ids=request.manager_ids,
            group_ids=request.group_ids,
            every=request.every,
            next_run_at=next_run(request.every, now, tenant),
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        return self._schedules.create(schedule, by=principal.user_id)

    def list_schedules(self, principal: Principal, page: PageRequest) -> Slice[ReportSchedule]:
        return self._schedules.list_mine(principal.tenant_id, principal.user_id, page)

    def get_schedule(self, principal: Principal, schedule_id: str) -> ReportSchedule:
        schedule = self._schedules.get(principal.tenant_id, schedule_id)
        if schedule is None or schedule.created_by != principal.user_id:
            raise NotFound("The report schedule does not exist.")
        return schedule

    def delete_schedule(self, principal: Principal, schedule_id: str) -> None:
        schedule = self.get_schedule(principal, schedule_id)
        self._schedules.delete(schedule, by=principal.user_id, at=self._clock())

    def sweep(self) -> int:
        """The scheduled function: queue a slot job for every schedule due by now
        and an expiry job for every report past its retention. Overlapping runs
        may queue a slot twice; the slot's conditional write makes one report."""
        now = self._clock()
        # Looking back a day past the last sweep finds again what a failed job left behind (a schedule
        # not moved on, a report not deleted): their jobs are idempotent, so finding twice costs nothing.
        swept = min(self._schedules.last_sweep() or now, self._store.last_sweep() or now)
        since = swept - LOOK_BACK
        messages: list[dict[str, Any]] = []
        for tenant_id, schedule_id in self._schedules.due(since, now):
            schedule = self._schedules.get(tenant_id, schedule_id)
            if schedule is not None and schedule.next_run_at <= now:
                slot = ScheduleSlot(tenant_id=tenant_id, schedule_id=schedule_id, due_at=schedule.next_run_at)
                messages.append(slot.model_dump(mode="json"))
        messages += [
            ExpireReport(tenant_id=t, report_id=r).model_dump(mode="json") for t, r in self._store.expired(since, now)
        ]
        if messages:
            self._queue.send_many(messages)
        self._schedules.record_sweep(now)
        self._store.record_sweep(now)
        return len(messages)

    def run_slot(self, job: ScheduleSlot) -> Report | None:
        """Create the slot's report (once, whoever comes first), queue its generation,
        and move the schedule on to its next slot."""
        schedule = self._schedules.get(job.tenant_id, job.schedule_id)
        if schedule is None:
            return None
        tenant = self._directory.get_tenant(job.tenant_id)
        time_zone = getattr(tenant, "time_zone", "UTC") or "UTC"
        slot = slot_of(schedule.every, slot_start(schedule.every, job.due_at, tenant))
        now = self._clock()
        report = Report(
            id=new_id(),
            tenant_id=job.tenant_id,
            type=schedule.type,
            period=schedule.period,
            manager_ids=schedule.manager_ids,
            group_ids=schedule.group_ids,
            time_zone=time_zone,
            schedule_id=schedule.id,
            slot=slot,
            created_at=now,
            created_by=schedule.created_by,
            updated_at=now,
            updated_by=schedule.created_by,
        )
        created, report = self._store.create_for_slot(report, schedule.id, slot)
        if report.status == ReportStatus.QUEUED:
            # Also when the slot was claimed before: a lost message must not leave it queued for ever.
            self._queue.send(GenerateReport(tenant_id=report.tenant_id, report_id=report.id).model_dump(mode="json"))
        if schedule.next_run_at <= now:
            after = schedule.model_copy(
                update={"next_run_at": next_run(schedule.every, now, tenant), "last_slot": slot, "updated_at": now}
            )
            try:
                self._schedules.update(schedule, after, by=None)
            except Exception:  # another run moved it on already: nothing to do
                pass
        return report if created else None

    def expire(self, job: ExpireReport) -> bool:
        report = self._store.get(job.tenant_id, job.report_id)
        if report is None or not self._expired(report):
            return False
        self._files.delete_all(report.tenant_id, report.id)
        self._store.delete(report, by=None, at=self._clock())
        return True

    def _mail_link(self, report: Report, creator: Any) -> None:
        email = getattr(creator, "email", None)
        if not email:
            return
        link = f"{self._public_url}/v1/reports/{report.id}/file"
        kept = f"It is kept until {report.expires_at:%Y-%m-%d}.\n" if report.expires_at else ""
        self._mailer.send(
            to=email,
            subject=f"Your report is ready: {report.type.value.replace('_', ' ')}",
            text=(
                f"Your scheduled report ({report.type.value}, {report.slot}) is ready.\n\n"
                f"Download it (with your CRM sign-in): {link}\n{kept}"
            ),
        )


def people_in(rows: Rows) -> Iterator[str]:
    """Every user a report may name."""
    for d in rows.deals:
        yield d.responsible_id
    for c in rows.contacts:
        yield from c.managers
    for t in rows.tasks:
        yield t.responsible_id
    for i in rows.invoices:
        yield i.created_by
    for call in rows.calls:
        if call.operator_id:
            yield call.operator_id


def file_name(report: Report) -> str:
    stamp = (report.generated_at or report.created_at).strftime("%Y-%m-%d")
    return f"{report.type.value}-{stamp}.xlsx"


def slot_start(every: Every, moment: datetime, tenant: Any) -> Any:
    """The first local day of the week or month ``moment`` falls in."""
    time_zone = getattr(tenant, "time_zone", "UTC") or "UTC"
    day = local_today(moment, time_zone)
    if every == Every.WEEK:
        return week_start(day, week_start_day(getattr(tenant, "phone_region", None)))
    return day.replace(day=1)


def next_run(every: Every, now: datetime, tenant: Any) -> datetime:
    """The first slot start (at SCHEDULE_HOUR, local) after ``now``."""
    time_zone = getattr(tenant, "time_zone", "UTC") or "UTC"
    start = slot_start(every, now, tenant)
    while True:
        at = datetime.combine(start, time(SCHEDULE_HOUR), tzinfo=ZoneInfo(time_zone)).astimezone(UTC)
        if at > now:
            return at
        start = start + timedelta(weeks=1) if every == Every.WEEK else add_months(start, 1)
