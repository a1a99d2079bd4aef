"""In-memory twins of the mailing ports (tests), held to the contract tests
that hold storage/mailing.py (tests/contract/test_mailing_stores.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.mailing.models import (
    Mailing,
    MailingSettings,
    MailingStatus,
    OutgoingMail,
    RecipientResult,
    RecipientStatus,
)
from chalicelib.domain.shared.pagination import PageRequest, Slice


class MemoryMailingStore:
    def __init__(self) -> None:
        self.mailings: dict[tuple[str, str], Mailing] = {}
        self.results: dict[tuple[str, str], dict[str, RecipientResult]] = {}
        self._settings: dict[str, MailingSettings] = {}

    def create(self, mailing: Mailing) -> None:
        self.mailings[(mailing.tenant_id, mailing.id)] = mailing

    def get(self, tenant_id: str, mailing_id: str) -> Mailing | None:
        return self.mailings.get((tenant_id, mailing_id))

    def advance(
        self,
        tenant_id: str,
        mailing_id: str,
        *,
        from_chunk: int,
        position: dict[str, Any] | None,
        add_counts: dict[str, int],
        status: MailingStatus,
        at: datetime,
        total: int | None = None,
    ) -> bool:
        mailing = self.get(tenant_id, mailing_id)
        if mailing is None or mailing.chunk != from_chunk:
            return False
        if mailing.status == MailingStatus.CANCELLED and status != MailingStatus.CANCELLED:
            return False
        counts = dict(mailing.counts)
        for name, count in add_counts.items():
            counts[name] = counts.get(name, 0) + count
        update: dict[str, Any] = {
            "chunk": from_chunk + 1,
            "position": position,
            "counts": counts,
            "status": status,
            "updated_at": at,
            "version": mailing.version + 1,
            "started_at": mailing.started_at or at,
        }
        if status in (MailingStatus.DONE, MailingStatus.CANCELLED):
            update["finished_at"] = mailing.finished_at or at
        if total is not None:
            update["total"] = total
        self.mailings[(tenant_id, mailing_id)] = mailing.model_copy(update=update)
        return True

    def cancel(self, tenant_id: str, mailing_id: str, at: datetime) -> bool:
        mailing = self.get(tenant_id, mailing_id)
        if mailing is None or mailing.status not in (MailingStatus.QUEUED, MailingStatus.RUNNING):
            return False
        self.mailings[(tenant_id, mailing_id)] = mailing.model_copy(
            update={"status": MailingStatus.CANCELLED, "finished_at": at, "version": mailing.version + 1}
        )
        return True

    def claim(self, tenant_id: str, mailing_id: str, contact_id: str, at: datetime) -> RecipientResult | None:
        results = self.results.setdefault((tenant_id, mailing_id), {})
        if contact_id in results:
            return results[contact_id]
        results[contact_id] = RecipientResult(mailing_id=mailing_id, contact_id=contact_id, at=at)
        return None

    def finish_recipient(self, tenant_id: str, result: RecipientResult) -> None:
        self.results.setdefault((tenant_id, result.mailing_id), {})[result.contact_id] = result

    def recipients(
        self, tenant_id: str, mailing_id: str, page: PageRequest, status: RecipientStatus | None
    ) -> Slice[RecipientResult]:
        after = (page.after or {}).get("contact_id", "")
        ordered = sorted(self.results.get((tenant_id, mailing_id), {}).values(), key=lambda r: r.contact_id)
        found = [r for r in ordered if r.contact_id > after and r.status is not None]
        found = [r for r in found if status is None or r.status == status]
        items = found[: page.limit]
        more = len(found) > page.limit
        return Slice(items, {"contact_id": items[-1].contact_id} if more else None)

    def results_for_contact(self, tenant_id: str, contact_id: str) -> list[RecipientResult]:
        return [r[contact_id] for (t, _), r in self.results.items() if t == tenant_id and contact_id in r]

    def forget_contact(self, tenant_id: str, contact_id: str) -> int:
        gone = 0
        for (tenant, _), results in self.results.items():
            if tenant == tenant_id and results.pop(contact_id, None) is not None:
                gone += 1
        return gone

    def settings(self, tenant_id: str) -> MailingSettings:
        return self._settings.get(tenant_id, MailingSettings())

    def save_settings(self, tenant_id: str, settings: MailingSettings) -> None:
        self._settings[tenant_id] = settings


class MemorySuppressions:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def suppress(self, tenant_id: str, digest: str, reason: str, at: datetime) -> None:
        self.entries.setdefault((tenant_id, digest), reason)

    def is_suppressed(self, tenant_id: str, digest: str) -> bool:
        return (tenant_id, digest) in self.entries


class MemoryMailer:
    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []
        self.fail_for: set[str] = set()

    def send(self, mail: OutgoingMail) -> None:
        if mail.to in self.fail_for:
            raise RuntimeError("refused")
        self.sent.append(mail)
