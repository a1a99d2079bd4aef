"""The pydantic models of the cases API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.cases.models import Case
from chalicelib.domain.settings.custom_fields import custom_field_values
from chalicelib.handlers.identity.views import RecordView


class CaseView(RecordView):
    title: str
    member_ids: list[str]
    access_list: list[str]
    tags: list[str]
    custom_fields: dict[str, Any] = custom_field_values("case")
    closed: bool
    closed_at: datetime | None

    @classmethod
    def of(cls, case: Case) -> "CaseView":
        return cls(**case.model_dump(exclude={"tenant_id"}))
