"""The pydantic models of the deals API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.domain.deals.models import Deal, Project
from chalicelib.domain.settings.custom_fields import custom_field_values
from chalicelib.handlers.identity.views import RecordView


class DealView(RecordView):
    title: str
    contact_id: str | None
    member_ids: list[str]
    description: str | None
    amount: str | None
    currency: str
    bid_type: str
    periods: int | None
    value: str | None
    expected_close_date: date | None
    actual_close_date: date | None
    responsible_id: str
    stage_id: str
    stage_status: str
    probability: int
    access_list: list[str]
    tags: list[str]
    custom_fields: dict[str, Any] = custom_field_values("deal")

    @classmethod
    def of(cls, deal: Deal) -> "DealView":
        value = deal.value
        return cls(**deal.model_dump(exclude={"tenant_id"}), value=str(value) if value is not None else None)


class ProjectView(RecordView):
    deal_id: str | None
    title: str
    description: str | None
    member_ids: list[str]

    @classmethod
    def of(cls, project: Project) -> "ProjectView":
        return cls(**project.model_dump(exclude={"tenant_id"}))
