"""What the mailing service needs from storage and from other features (ADM-2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.contacts.models import Contact, ContactQuery
from chalicelib.domain.mailing.models import (
    Attachment,
    Mailing,
    MailingSettings,
    MailingStatus,
    OutgoingMail,
    RecipientResult,
    RecipientStatus,
)
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal


class MailingStore(Protocol):
    def create(self, mailing: Mailing) -> None: ...

    def get(self, tenant_id: str, mailing_id: str) -> Mailing | None: ...

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
        """Checkpoint: the chunk ``from_chunk`` is done (counted once: only while
        the mailing is still at that chunk, and not cancelled unless ``status``
        is CANCELLED). False when another delivery got there first."""
        ...

    def cancel(self, tenant_id: str, mailing_id: str, at: datetime) -> bool:
        """QUEUED/RUNNING -> CANCELLED; False when it had finished already."""
        ...

    def claim(self, tenant_id: str, mailing_id: str, contact_id: str, at: datetime) -> RecipientResult | None:
        """None: this delivery sends to the contact; else the result another one recorded."""
        ...

    def finish_recipient(self, tenant_id: str, result: RecipientResult) -> None: ...

    def recipients(
        self, tenant_id: str, mailing_id: str, page: PageRequest, status: RecipientStatus | None
    ) -> Slice[RecipientResult]: ...

    def results_for_contact(self, tenant_id: str, contact_id: str) -> list[RecipientResult]:
        """A person's results in every mailing (GDPR export)."""
        ...

    def forget_contact(self, tenant_id: str, contact_id: str) -> int:
        """Erase a person's results from every mailing (GDPR); how many went."""
        ...

    def settings(self, tenant_id: str) -> MailingSettings: ...

    def save_settings(self, tenant_id: str, settings: MailingSettings) -> None: ...


class Suppressions(Protocol):
    """Per tenant: digests of addresses no mailing may reach (unsubscribed, hard bounced)."""

    def suppress(self, tenant_id: str, digest: str, reason: str, at: datetime) -> None: ...

    def is_suppressed(self, tenant_id: str, digest: str) -> bool: ...


class SendWindows(Protocol):
    def take(self, tenant_id: str, second: int, limit: int) -> bool:
        """One send in the tenant's ``second`` (unix time), if fewer than ``limit`` were taken."""
        ...


class MassMailer(Protocol):
    def send(self, mail: OutgoingMail) -> None: ...


class Recipients(Protocol):
    """Contacts as the mailing's creator may read them (domain/shared/access.py decides)."""

    def get(self, principal: Principal, contact_id: str) -> Contact | None: ...

    def page(
        self, principal: Principal, query: ContactQuery, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[Contact], dict[str, Any] | None]: ...


class Attachments(Protocol):
    def check(self, principal: Principal, file_ids: list[str]) -> None:
        """NotFound/ValidationFailed unless every file is readable, uploaded and the sum fits a mail."""
        ...

    def load(self, principal: Principal, file_ids: list[str]) -> list[Attachment]: ...


class MailHistory(Protocol):
    def add_mail_event(self, principal: Principal, contact_id: str, subject: str, text: str, at: datetime) -> None: ...


class CustomFieldNames(Protocol):
    def names(self, principal: Principal) -> dict[str, str]:
        """The tenant's contact custom fields: id -> name."""
        ...
