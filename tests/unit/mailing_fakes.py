"""Fakes of the mailing service's collaborators that are other features (contacts, files, history)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.contacts.models import Contact, ContactKind, ContactQuery
from chalicelib.domain.mailing.models import Attachment
from chalicelib.domain.mailing.service import Mailings
from chalicelib.domain.mailing.throttle import CounterSendWindows
from chalicelib.domain.mailing.unsubscribe import UnsubscribeTokens
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import ContactShare
from chalicelib.domain.shared.errors import NotFound
from chalicelib.domain.shared.pagination import CursorCodec
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.storage.memory.limits import MemoryRateCounters
from chalicelib.storage.memory.mailing import MemoryMailer, MemoryMailingStore, MemorySuppressions

T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
SECRET = b"unit-test-secret"


def person(
    tenant: str,
    cid: str,
    first: str,
    email: str | None,
    *,
    managers: tuple[str, ...] = ("u1",),
    share: ContactShare = ContactShare.PRIVATE,
    custom: dict[str, Any] | None = None,
    tags: tuple[str, ...] = (),
) -> Contact:
    details = [{"type": "email", "category": "work", "value": email, "primary": True}] if email else []
    return Contact(
        id=cid,
        tenant_id=tenant,
        kind=ContactKind.PERSON,
        first_name=first,
        last_name="Muster",
        created_at=T0,
        updated_at=T0,
        created_by=managers[0],
        managers=list(managers),
        access=share,
        details=details,
        custom_fields=custom or {},
        tags=list(tags),
    )


class FakeRecipients:
    def __init__(self) -> None:
        self.contacts: dict[tuple[str, str], Contact] = {}

    def add(self, contact: Contact) -> Contact:
        self.contacts[(contact.tenant_id, contact.id)] = contact
        return contact

    def get(self, principal: Principal, contact_id: str) -> Contact | None:
        found = self.contacts.get((principal.tenant_id, contact_id))
        if found is None or not access.readable(principal)(found.access_record()):
            return None
        return found

    def page(
        self, principal: Principal, query: ContactQuery, after: dict[str, Any] | None, limit: int
    ) -> tuple[list[Contact], dict[str, Any] | None]:
        readable = access.readable(principal)
        found = sorted(
            (
                c
                for (t, _), c in self.contacts.items()
                if t == principal.tenant_id
                and readable(c.access_record())
                and (query.tag is None or query.tag in c.tags)
                and c.id > (after or {}).get("id", "")
            ),
            key=lambda c: c.id,
        )
        items = found[:limit]
        return items, ({"id": items[-1].id} if len(found) > limit else None)


class FakeAttachments:
    def __init__(self) -> None:
        self.files: dict[str, Attachment] = {}

    def check(self, principal: Principal, file_ids: list[str]) -> None:
        for file_id in file_ids:
            if file_id not in self.files:
                raise NotFound("The file does not exist.")

    def load(self, principal: Principal, file_ids: list[str]) -> list[Attachment]:
        self.check(principal, file_ids)
        return [self.files[f] for f in file_ids]


class FakeHistory:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def add_mail_event(self, principal: Principal, contact_id: str, subject: str, text: str, at: datetime) -> None:
        self.events.append((principal.tenant_id, contact_id, subject))


class FakeFields:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def names(self, principal: Principal) -> dict[str, str]:
        return dict(self.fields)


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: Any, *, delay_seconds: int = 0) -> None:
        self.messages.append(dict(message))

    def send_many(self, messages: Any) -> None:
        self.messages.extend(dict(m) for m in messages)


class FakeTime:
    """A clock that moves only when the service sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = T0
        self.slept = 0.0

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


class World:
    def __init__(self) -> None:
        self.store = MemoryMailingStore()
        self.suppressions = MemorySuppressions()
        self.windows = CounterSendWindows(MemoryRateCounters())
        self.mailer = MemoryMailer()
        self.recipients = FakeRecipients()
        self.attachments = FakeAttachments()
        self.history = FakeHistory()
        self.fields = FakeFields()
        self.queue = FakeQueue()
        self.time = FakeTime()
        self.tokens = UnsubscribeTokens(CursorCodec(SECRET))
        self.service = Mailings(
            self.store,
            self.suppressions,
            self.windows,
            self.mailer,
            self.recipients,
            self.attachments,
            self.history,
            self.fields,
            self.queue,
            self.tokens,
            public_url="https://crm.example",
            clock=self.time.clock,
            sleep=self.time.sleep,
        )

    def run_queue(self, limit: int = 10_000) -> int:
        """Deliver queued chunks in order until none is left; how many ran."""
        from chalicelib.domain.mailing.models import MailingChunk

        ran = 0
        while self.queue.messages and ran < limit:
            message = self.queue.messages.pop(0)
            self.service.run_chunk(MailingChunk.model_validate(message))
            ran += 1
        return ran


def admin(tenant: str = "t1", user: str = "admin1") -> Principal:
    return Principal(tenant_id=tenant, user_id=user, role=Role.ADMIN)


def user(tenant: str = "t1", user_id: str = "u1") -> Principal:
    return Principal(tenant_id=tenant, user_id=user_id, role=Role.USER)
