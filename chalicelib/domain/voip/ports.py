"""What the telephony feature needs from the outside world; storage implements
each (storage/voip.py, storage/twilio.py), storage/memory/voip.py has the
in-memory twins the unit tests run on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.voip.models import (
    AvailableNumber,
    Call,
    CallQuery,
    NumberHooks,
    NumberKind,
    OwnedNumber,
    Presence,
    PresenceStatus,
    TwilioCredentials,
    VoipAccount,
    VoipNumber,
)

if TYPE_CHECKING:
    from chalicelib.domain.contacts.models import Contact
    from chalicelib.domain.records.history import HistoryEvent


class VoipStore(Protocol):
    """The account, numbers and presence of a tenant (one small partition)."""

    def get_account(self, tenant_id: str, *, consistent: bool = False) -> VoipAccount | None: ...

    def save_account(self, before: VoipAccount | None, after: VoipAccount) -> VoipAccount:
        """Create (before None) or update conditioned on ``before.version``."""
        ...

    def list_numbers(self, tenant_id: str) -> list[VoipNumber]: ...

    def get_number(self, tenant_id: str, number_id: str) -> VoipNumber | None: ...

    def number_by_phone(self, tenant_id: str, e164: str) -> VoipNumber | None: ...

    def add_number(self, number: VoipNumber) -> VoipNumber:
        """Conflict when the tenant has the number already."""
        ...

    def update_number(self, before: VoipNumber, after: VoipNumber) -> VoipNumber: ...

    def delete_number(self, number: VoipNumber) -> None: ...

    def presence(self, tenant_id: str) -> list[Presence]: ...

    def set_presence(self, tenant_id: str, user_id: str, status: PresenceStatus, at: datetime) -> Presence: ...


class CallStore(Protocol):
    def get(self, tenant_id: str, call_id: str) -> Call | None:
        """Strongly consistent: the merge writes what it read."""
        ...

    def id_for_sid(self, tenant_id: str, call_sid: str) -> str | None: ...

    def create(self, call: Call, *, by: str | None) -> Call:
        """Conflict when a call with the same CallSid exists (a concurrent first callback)."""
        ...

    def update(self, before: Call, after: Call, *, by: str | None) -> Call:
        """Conditioned on ``before.version`` (PreconditionFailed otherwise)."""
        ...

    def list_calls(
        self, tenant_id: str, query: CallQuery, page: PageRequest, *, only_participant: str | None
    ) -> Slice[Call]: ...


class SecretVault(Protocol):
    """Per-tenant secrets (Secrets Manager): values never leave the vault but to the service."""

    def put(self, tenant_id: str, values: Mapping[str, str], *, ref: str | None) -> str:
        """Store (or replace, when ``ref`` names it) and return the reference."""
        ...

    def get(self, ref: str) -> dict[str, str]: ...


class RecordingBlobs(Protocol):
    def key(self, tenant_id: str, call_id: str, recording_sid: str) -> str:
        """Where a call's recording is kept (under the tenant)."""
        ...

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def download_url(self, key: str, *, seconds: int) -> str: ...


class Telephony(Protocol):
    """What we ask of Twilio (its REST API, through the twilio library).
    Rejected credentials raise InvalidCredentials; Twilio unreachable raises
    TemporarilyUnavailable; a missing resource NotFound."""

    def verify(self, creds: TwilioCredentials) -> str:
        """The account's friendly name."""
        ...

    def create_api_key(self, creds: TwilioCredentials, name: str) -> tuple[str, str]:
        """(key sid, key secret): signs access tokens."""
        ...

    def ensure_application(self, creds: TwilioCredentials, app_sid: str | None, hooks: NumberHooks) -> str:
        """The TwiML app browsers call out through, pointed at ``hooks`` (created if missing)."""
        ...

    def available_numbers(
        self, creds: TwilioCredentials, country: str, kind: NumberKind, contains: str | None, limit: int
    ) -> list[AvailableNumber]: ...

    def buy_number(self, creds: TwilioCredentials, phone_number: str, hooks: NumberHooks) -> OwnedNumber: ...

    def find_number(self, creds: TwilioCredentials, phone_number: str) -> OwnedNumber | None: ...

    def point_number(self, creds: TwilioCredentials, sid: str, hooks: NumberHooks | None) -> None:
        """Point the number's voice and status callbacks at us (None: unlink, clear them)."""
        ...

    def release_number(self, creds: TwilioCredentials, sid: str) -> None: ...

    def call_price(self, creds: TwilioCredentials, call_sid: str) -> tuple[str, str] | None:
        """(price, unit) once Twilio has priced the call."""
        ...

    def recording_media(self, creds: TwilioCredentials, recording_sid: str) -> tuple[bytes, str]: ...

    def delete_recording(self, creds: TwilioCredentials, recording_sid: str) -> None:
        """Idempotent: a recording gone already is no error."""
        ...

    def access_token(self, creds: TwilioCredentials, identity: str, app_sid: str, ttl: int) -> str: ...


class CallQueue(Protocol):
    """The calls queue (Twilio's callbacks, processed by their own function)."""

    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None: ...


class ContactDirectory(Protocol):
    """The contacts a call is about, through the Contacts service."""

    def owners_of(self, tenant_id: str, e164: str) -> list[str]:
        """Contact ids with this number (the phone index search uses)."""
        ...

    def find(self, tenant_id: str, contact_id: str) -> "Contact | None": ...

    def create_caller(self, tenant_id: str, e164: str, managers: list[str], by: str) -> str:
        """A private person for an unknown number: first name = the number."""
        ...


class CallHistory(Protocol):
    """The "Phone call" events on contacts (HIS, SPEC's VoIP rule)."""

    def category_id(self, tenant_id: str) -> str | None: ...

    def add(self, event: "HistoryEvent") -> None:
        """Conflict when the event exists already."""
        ...

    def set_text(self, tenant_id: str, event_id: str, text: str) -> None: ...


class OperatorDirectory(Protocol):
    def active_principals(self, tenant_id: str, user_ids: list[str]) -> list[Principal]:
        """The active users among ``user_ids``, as principals (their role
        decides what they may see of a caller's contact)."""
        ...
