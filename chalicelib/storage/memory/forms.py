"""In-memory twins of the web forms ports (domain/forms/ports.py), for unit tests.

``MemoryWebFormStore`` is held to the same contract tests as its DynamoDB
adapter (tests/contract/; the rate counters' twin is storage/memory/limits.py). The others
stand in for the collaborators other features provide (contacts, history,
users, custom fields, notifications, the jobs queue) as far as web forms
use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.contacts.models import Contact, ContactKind, ContactQuery, NewContact, fold
from chalicelib.domain.forms.models import WebForm
from chalicelib.domain.identity.models import Tenant, User
from chalicelib.domain.records.history import HistoryEvent
from chalicelib.domain.settings.custom_fields import CustomField, kinds_for
from chalicelib.domain.shared.access import ContactShare
from chalicelib.domain.shared.clock import new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal


class MemoryWebFormStore:
    def __init__(self) -> None:
        self.forms: dict[tuple[str, str], WebForm] = {}
        self.keys: dict[str, tuple[str, str]] = {}

    def get(self, tenant_id: str, form_id: str) -> WebForm | None:
        return self.forms.get((tenant_id, form_id))

    def find_by_key(self, key: str) -> tuple[str, str] | None:
        return self.keys.get(key)

    def list_forms(self, tenant_id: str, page: PageRequest) -> Slice[WebForm]:
        ordered = sorted((f for (t, _), f in self.forms.items() if t == tenant_id), key=lambda f: f.id, reverse=True)
        after = (page.after or {}).get("sk")
        if after:
            ordered = [f for f in ordered if f.id < after]
        items = ordered[: page.limit]
        more = len(ordered) > page.limit
        return Slice(items, {"sk": items[-1].id} if more and items else None)

    def create(self, record: WebForm, *, by: str | None) -> WebForm:
        if (record.tenant_id, record.id) in self.forms:
            raise Conflict("The web_form already exists.")
        if record.key in self.keys:
            raise Conflict("The form key is taken; try again.")
        self.forms[(record.tenant_id, record.id)] = record
        self.keys[record.key] = (record.tenant_id, record.id)
        return record

    def update(self, before: WebForm, after: WebForm, *, by: str | None) -> WebForm:
        stored = self.forms.get((before.tenant_id, before.id))
        if stored is None or stored.version != before.version:
            raise PreconditionFailed("The web_form changed since it was read; reload it and apply the change again.")
        if after.key != before.key and after.key in self.keys:
            raise Conflict("The form key is taken; try again.")
        saved = after.model_copy(update={"version": before.version + 1})
        self.keys.pop(before.key, None)
        self.keys[saved.key] = (saved.tenant_id, saved.id)
        self.forms[(saved.tenant_id, saved.id)] = saved
        return saved

    def delete(self, record: WebForm, *, by: str | None, at: Any) -> None:
        stored = self.forms.get((record.tenant_id, record.id))
        if stored is None or stored.version != record.version:
            raise PreconditionFailed("The web_form changed since it was read; reload it and apply the change again.")
        del self.forms[(record.tenant_id, record.id)]
        self.keys.pop(record.key, None)


# ---- other features' collaborators, as far as web forms use them ----


@dataclass
class MemoryDirectory:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    users: dict[tuple[str, str], User] = field(default_factory=dict)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[User]:
        return [self.users[(tenant_id, u)] for u in dict.fromkeys(user_ids) if (tenant_id, u) in self.users]

    def list_users(self, tenant_id: str, page: PageRequest) -> Slice[User]:
        return Slice(
            sorted((u for (t, _), u in self.users.items() if t == tenant_id), key=lambda u: u.id)[: page.limit]
        )


class MemoryContacts:
    """ContactWriter and ContactLookup: contacts kept whole, looked up by their details."""

    def __init__(self, directory: MemoryDirectory | None = None) -> None:
        self.contacts: dict[tuple[str, str], Contact] = {}
        self.directory = directory
        self.fail_next_create: Exception | None = None

    def create(
        self, principal: Principal, tenant: Tenant, request: NewContact, *, contact_id: str | None = None
    ) -> Contact:
        if self.fail_next_create is not None:
            failure, self.fail_next_create = self.fail_next_create, None
            raise failure
        record_id = contact_id or new_id()
        if (principal.tenant_id, record_id) in self.contacts:
            raise Conflict("The contact already exists.")
        fields = request.model_dump(exclude_unset=True, exclude={"kind"})
        managers = fields.pop("managers", None) or [principal.user_id]
        if self.directory is not None:
            known = {u.id for u in self.directory.get_users(principal.tenant_id, managers)}
            if set(managers) - known:
                raise ValidationFailed("Managers must be active users of this tenant.")
        now = utc_now()
        contact = Contact(
            id=record_id,
            tenant_id=principal.tenant_id,
            kind=request.kind,
            **{k: v for k, v in fields.items() if k not in ("access", "tags", "details", "custom_fields")},
            tags=fields.get("tags") or [],
            details=fields.get("details") or [],
            custom_fields=fields.get("custom_fields") or {},
            access=fields.get("access") or ContactShare.PRIVATE,
            managers=managers,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        if contact.company_id:
            company = self.contacts.get((principal.tenant_id, contact.company_id))
            contact = contact.model_copy(update={"company_name": company.company_name if company else None})
        self.contacts[(principal.tenant_id, record_id)] = contact
        return contact

    def add(self, contact: Contact) -> Contact:
        self.contacts[(contact.tenant_id, contact.id)] = contact
        return contact

    def of_tenant(self, tenant_id: str) -> list[Contact]:
        return sorted((c for (t, _), c in self.contacts.items() if t == tenant_id), key=lambda c: c.id)

    def get(self, tenant_id: str, record_id: str) -> Contact | None:
        return self.contacts.get((tenant_id, record_id))

    def email_owners(self, tenant_id: str, email: str) -> list[str]:
        return [c.id for c in self.of_tenant(tenant_id) if email.lower() in c.emails()]

    def phone_owners(self, tenant_id: str, phone: str) -> list[str]:
        return [c.id for c in self.of_tenant(tenant_id) if phone in c.phones()]

    def query_contacts(
        self, tenant_id: str, query: ContactQuery, page: PageRequest, *, visible: Any, phone: str | None = None
    ) -> Slice[Contact]:
        wanted = fold(query.q or "")
        found = [
            c
            for c in self.of_tenant(tenant_id)
            if (query.kind is None or c.kind == query.kind) and wanted in fold(c.display_name)
        ]
        return Slice(found[: page.limit])


class MemoryHistory:
    def __init__(self) -> None:
        self.events: dict[str, HistoryEvent] = {}

    def add_event(self, event: HistoryEvent) -> None:
        if event.id in self.events:
            raise Conflict("The record already exists.")
        self.events[event.id] = event

    def of(self, contact_id: str) -> list[HistoryEvent]:
        return [e for e in self.events.values() if e.parent.id == contact_id]


class MemoryCustomFields:
    def __init__(self, fields: Iterable[CustomField] = ()) -> None:
        self.fields = {f.id: f for f in fields}

    def for_scope(self, principal: Principal, scope: str) -> list[CustomField]:
        kinds = set(kinds_for(scope))
        return [f for f in self.fields.values() if f.entity.value in kinds and f.active]


@dataclass
class SentNotification:
    tenant_id: str
    user_ids: list[str]
    kind: str
    subject: str
    link: str | None
    once_key: str | None


class MemoryNotifier:
    def __init__(self) -> None:
        self.sent: list[SentNotification] = []
        self._once: set[tuple[str, str]] = set()

    def notify(
        self,
        tenant_id: str,
        user_ids: list[str],
        kind: str,
        subject: str,
        link: str | None = None,
        *,
        email_note: str | None = None,
        once_key: str | None = None,
        once_at: datetime | None = None,
    ) -> list[Any]:
        fresh = [u for u in user_ids if once_key is None or (once_key, u) not in self._once]
        if not fresh:
            return []
        self._once |= {(once_key, u) for u in fresh if once_key is not None}
        self.sent.append(SentNotification(tenant_id, fresh, kind, subject, link, once_key))
        return fresh


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[Mapping[str, Any]] = []
        self.broken = False

    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None:
        if self.broken:
            raise ConnectionError("the queue does not answer")
        self.messages.append(dict(message))

    def send_many(self, messages: Iterable[Mapping[str, Any]]) -> None:
        for message in messages:
            self.send(message)


def person(tenant_id: str, first: str, last: str, **fields: Any) -> Contact:
    """A stored person for tests."""
    now = utc_now()
    return Contact(
        id=new_id(),
        tenant_id=tenant_id,
        kind=ContactKind.PERSON,
        first_name=first,
        last_name=last,
        created_at=now,
        updated_at=now,
        **fields,
    )
