"""The pydantic models of the reports API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain.shared.model import Model


class ReportView(Model):
    id: str
    version: int
    type: str
    period: dict[str, Any]
    manager_ids: list[str]
    group_ids: list[str]
    status: str
    percent: int
    time_zone: str
    currency: str | None
    range_from: date | None
    range_to: date | None
    generated_at: datetime | None
    file_size: int | None
    file_url: str | None
    error: str | None
    expires_at: datetime | None
    schedule_id: str | None
    status_url: str
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, report: Any) -> "ReportView":
        data = report.model_dump(mode="json", exclude={"tenant_id", "file_key", "loaded", "slot", "range_until"})
        data["period"] = report.period.model_dump(mode="json", exclude_none=True)
        return cls(
            **data,
            range_to=report.range_until - timedelta(days=1) if report.range_until else None,
            file_url=f"/v1/reports/{report.id}/file" if report.status == "done" else None,
            status_url=f"/v1/reports/{report.id}",
        )


class AcceptedReportView(ReportView):
    """202: the report as queued; ``job_id`` is the report's id, ``status_url`` its own URL."""

    job_id: str

    @classmethod
    def of(cls, report: Any) -> "AcceptedReportView":
        return cls(**ReportView.of(report).model_dump(), job_id=report.id)


class ScheduleView(Model):
    id: str
    version: int
    type: str
    period: dict[str, Any]
    manager_ids: list[str]
    group_ids: list[str]
    every: str
    next_run_at: datetime
    last_slot: str | None
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, schedule: Any) -> "ScheduleView":
        data = schedule.model_dump(mode="json", exclude={"tenant_id"})
        data["period"] = schedule.period.model_dump(mode="json", exclude_none=True)
        return cls(**data)
