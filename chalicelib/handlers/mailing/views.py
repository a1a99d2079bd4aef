"""The pydantic models of the mailing API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from chalicelib.domain.mailing.models import (
    Mailing,
    RecipientResult,
)
from chalicelib.domain.shared.model import Model


class MailingView(Model):
    id: str
    status: str
    subject: str
    body: str
    file_ids: list[str]
    add_history: bool
    contact_ids: list[str] | None
    filter: dict[str, Any] | None
    total: int | None = Field(description="Known from the start for contact_ids; for a filter once done")
    processed: int
    counts: dict[str, int] = Field(description="sent, suppressed, no_address, failed")
    percent: int | None
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None
    recipients_url: str

    @classmethod
    def of(cls, mailing: Mailing) -> "MailingView":
        percent = None
        if mailing.status.value in ("done",):
            percent = 100
        elif mailing.total:
            percent = min(99, mailing.processed * 100 // mailing.total)
        return cls(
            **mailing.model_dump(exclude={"tenant_id", "counts", "status"}),
            status=mailing.status.value,
            counts=mailing.counts,
            processed=mailing.processed,
            percent=percent,
            recipients_url=f"/v1/mailings/{mailing.id}/recipients",
        )


class MailingStarted(Model):
    id: str
    job_id: str
    status_url: str


class RecipientView(Model):
    contact_id: str
    status: str
    reason: str | None
    at: datetime

    @classmethod
    def of(cls, result: RecipientResult) -> "RecipientView":
        return cls(contact_id=result.contact_id, status=str(result.status), reason=result.reason, at=result.at)


class BounceHook(Model):
    model_config = ConfigDict(extra="allow")

    notificationType: str = Field(description="Bounce or Complaint, as SES sends it")
