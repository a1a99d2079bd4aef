"""In-memory twins of the telephony ports (domain/voip/ports.py), for unit
tests: the same conditions as the DynamoDB adapters (conditional create,
version-checked update), no AWS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.contacts.models import Contact
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.voip.models import Call, CallQuery, Presence, PresenceStatus, VoipAccount, VoipNumber


class MemoryVoipStore:
    def __init__(self) -> None:
        self.accounts: dict[str, VoipAccount] = {}
        self.numbers: dict[tuple[str, str], VoipNumber] = {}
        self.presences: dict[tuple[str, str], Presence] = {}

    def get_account(self, tenant_id: str, *, consistent: bool = False) -> VoipAccount | None:
        return self.accounts.get(tenant_id)

    def save_account(self, before: VoipAccount | None, after: VoipAccount) -> VoipAccount:
        current = self.accounts.get(after.tenant_id)
        if before is None and current is not None:
            raise Conflict("The account was connected meanwhile; reload it.")
        if before is not None and (current is None or current.version != before.version):
            raise PreconditionFailed("The account changed meanwhile; reload it.")
        saved = after.model_copy(update={"version": before.version + 1 if before else 1})
        self.accounts[after.tenant_id] = saved
        return saved

    def list_numbers(self, tenant_id: str) -> list[VoipNumber]:
        return [n for (t, _), n in sorted(self.numbers.items()) if t == tenant_id]

    def get_number(self, tenant_id: str, number_id: str) -> VoipNumber | None:
        return self.numbers.get((tenant_id, number_id))

    def number_by_phone(self, tenant_id: str, e164: str) -> VoipNumber | None:
        return next((n for n in self.list_numbers(tenant_id) if n.phone_number == e164), None)

    def add_number(self, number: VoipNumber) -> VoipNumber:
        if self.number_by_phone(number.tenant_id, number.phone_number) is not None:
            raise Conflict("The CRM has this number already.")
        self.numbers[(number.tenant_id, number.id)] = number
        return number

    def update_number(self, before: VoipNumber, after: VoipNumber) -> VoipNumber:
        current = self.numbers.get((after.tenant_id, after.id))
        if current is None or current.version != before.version:
            raise PreconditionFailed("The number changed meanwhile; reload it.")
        saved = after.model_copy(update={"version": before.version + 1})
        self.numbers[(after.tenant_id, after.id)] = saved
        return saved

    def delete_number(self, number: VoipNumber) -> None:
        current = self.numbers.get((number.tenant_id, number.id))
        if current is None or current.version != number.version:
            raise PreconditionFailed("The number changed meanwhile; reload it.")
        del self.numbers[(number.tenant_id, number.id)]

    def presence(self, tenant_id: str) -> list[Presence]:
        return [p for (t, _), p in self.presences.items() if t == tenant_id]

    def set_presence(self, tenant_id: str, user_id: str, status: PresenceStatus, at: datetime) -> Presence:
        presence = Presence(user_id=user_id, status=status, updated_at=at)
        self.presences[(tenant_id, user_id)] = presence
        return presence


class MemoryCallStore:
    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], Call] = {}
        self.sids: dict[tuple[str, str], str] = {}
        self.writes = 0

    def get(self, tenant_id: str, call_id: str) -> Call | None:
        return self.calls.get((tenant_id, call_id))

    def id_for_sid(self, tenant_id: str, call_sid: str) -> str | None:
        return self.sids.get((tenant_id, call_sid))

    def create(self, call: Call, *, by: str | None) -> Call:
        if (call.tenant_id, call.call_sid) in self.sids:
            raise Conflict("The call exists already.")
        self.sids[(call.tenant_id, call.call_sid)] = call.id
        self.calls[(call.tenant_id, call.id)] = call
        self.writes += 1
        return call

    def update(self, before: Call, after: Call, *, by: str | None) -> Call:
        current = self.calls.get((after.tenant_id, after.id))
        if current is None or current.version != before.version:
            raise PreconditionFailed("The call changed since it was read; reload it and apply the change again.")
        saved = after.model_copy(update={"version": before.version + 1})
        self.calls[(after.tenant_id, after.id)] = saved
        self.writes += 1
        return saved

    def list_calls(
        self, tenant_id: str, query: CallQuery, page: PageRequest, *, only_participant: str | None
    ) -> Slice[Call]:
        found = [
            c
            for (t, _), c in self.calls.items()
            if t == tenant_id
            and (only_participant is None or only_participant in c.participant_set())
            and (query.operator_id is None or query.operator_id in c.participant_set())
            and (query.direction is None or c.direction == query.direction)
            and (query.status is None or c.status == query.status)
            and (query.contact_id is None or c.contact_id == query.contact_id)
            and (query.started_from is None or c.started_at >= query.started_from)
            and (query.started_to is None or c.started_at <= query.started_to)
        ]
        found.sort(key=lambda c: (c.started_at, c.id), reverse=True)
        start = int((page.after or {}).get("offset", 0))
        items = found[start : start + page.limit]
        more = start + page.limit < len(found)
        return Slice(items, {"offset": start + page.limit} if more else None)


class MemoryVault:
    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, str]] = {}
        self.reads = 0

    def put(self, tenant_id: str, values: Mapping[str, str], *, ref: str | None) -> str:
        ref = ref or f"arn:memory:secret:crm/twilio/{tenant_id}"
        self.secrets[ref] = dict(values)
        return ref

    def get(self, ref: str) -> dict[str, str]:
        self.reads += 1
        if ref not in self.secrets:
            raise NotFound("The Twilio credentials are gone; store them again.")
        return dict(self.secrets[ref])


class MemoryBlobs:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def key(self, tenant_id: str, call_id: str, recording_sid: str) -> str:
        return f"t/{tenant_id}/voip/calls/{call_id}/{recording_sid}.mp3"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    def exists(self, key: str) -> bool:
        return key in self.objects

    def download_url(self, key: str, *, seconds: int) -> str:
        return f"https://blobs.example/{key}?expires={seconds}"


@dataclass
class MemoryQueue:
    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None:
        self.sent.append((dict(message), delay_seconds))


class MemoryContacts:
    """ContactDirectory: contacts by id and by phone, creation recorded."""

    def __init__(self) -> None:
        self.contacts: dict[tuple[str, str], Contact] = {}
        self.created: list[tuple[str, str, list[str]]] = []

    def add(self, contact: Contact) -> Contact:
        self.contacts[(contact.tenant_id, contact.id)] = contact
        return contact

    def owners_of(self, tenant_id: str, e164: str) -> list[str]:
        return [c.id for (t, _), c in self.contacts.items() if t == tenant_id and e164 in c.phones()]

    def find(self, tenant_id: str, contact_id: str) -> Contact | None:
        return self.contacts.get((tenant_id, contact_id))

    def create_caller(self, tenant_id: str, e164: str, managers: list[str], by: str) -> str:
        from chalicelib.domain.shared.clock import new_id, utc_now

        now = utc_now()
        contact = Contact(
            id=new_id(),
            tenant_id=tenant_id,
            kind="person",  # type: ignore[arg-type]
            first_name=e164,
            last_name="Unknown caller",
            managers=managers,
            details=[{"type": "phone", "category": "work", "value": e164, "primary": True}],
            created_at=now,
            updated_at=now,
            created_by=by,
        )
        self.add(contact)
        self.created.append((tenant_id, e164, managers))
        return contact.id


class MemoryHistory:
    def __init__(self, category: str | None = "cat-phone") -> None:
        self.events: dict[tuple[str, str], Any] = {}
        self.category = category

    def category_id(self, tenant_id: str) -> str | None:
        return self.category

    def add(self, event: Any) -> None:
        key = (event.tenant_id, event.id)
        if key in self.events:
            raise Conflict("The record already exists.")
        self.events[key] = event

    def set_text(self, tenant_id: str, event_id: str, text: str) -> None:
        event = self.events[(tenant_id, event_id)]
        self.events[(tenant_id, event_id)] = event.model_copy(update={"text": text})


class MemoryOperators:
    """OperatorDirectory: users by id with a role; inactive ones left out."""

    def __init__(self, roles: Mapping[tuple[str, str], str] | None = None) -> None:
        self.roles: dict[tuple[str, str], str] = dict(roles or {})

    def add(self, tenant_id: str, user_id: str, role: str = "user") -> None:
        self.roles[(tenant_id, user_id)] = role

    def active_principals(self, tenant_id: str, user_ids: list[str]) -> list[Principal]:
        return [
            Principal(tenant_id=tenant_id, user_id=u, role=Role(self.roles[(tenant_id, u)]))
            for u in dict.fromkeys(user_ids)
            if (tenant_id, u) in self.roles
        ]
