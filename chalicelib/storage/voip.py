"""Telephony in the single table, Secrets Manager and S3 (VOIP-1..8).

- The account, numbers, number markers and presence share the tenant's small
  ``T#t#VOIP`` partition: the incoming webhook reads a number and the
  presence of its operators in two Queries.
- Calls are an indexed record type (one item per call, index entries per
  facet in the call's transaction) with a marker per Twilio CallSid, so two
  first callbacks of one call make one record.
- Each tenant's Twilio credentials are one Secrets Manager secret named
  ``<CRM_TWILIO_SECRET_PREFIX><tenant id>``; the deployed roles may touch
  secrets of that prefix only.
- Recordings are objects under the tenant (``t/<tenant>/voip/...``).
The glue to other features (contacts, history, users) sits at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import get_settings
from chalicelib.domain.contacts.models import Contact
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed, TemporarilyUnavailable
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.voip.models import Call, CallQuery, Presence, PresenceStatus, VoipAccount, VoipNumber
from chalicelib.storage.blobs import BlobStore, tenant_object_key
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors, error_code
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.dynamo.table import Delete, Put, SortKey, Table, Update

_ALL = PageRequest(limit=200)


def _record_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "id", "version", "tenant_id")}


class DynamoVoipStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    # ---- the account ----

    def get_account(self, tenant_id: str, *, consistent: bool = False) -> VoipAccount | None:
        item = self._table.get(keys.voip_account(tenant_id), consistent=consistent)
        return VoipAccount.model_validate(item) if item else None

    def save_account(self, before: VoipAccount | None, after: VoipAccount) -> VoipAccount:
        key = keys.voip_account(after.tenant_id)
        item = {**after.model_dump(mode="json"), **key}
        if before is None:
            self._table.create(item, on_conflict=Conflict("The account was connected meanwhile; reload it."))
            return after
        changes = _record_fields(item)
        changes.update({k: None for k in before.model_dump(mode="json") if k not in item or item[k] is None})
        self._table.transact(
            [
                Update(
                    key,
                    set=changes,
                    expected_version=before.version,
                    on_conflict=PreconditionFailed("The account changed meanwhile; reload it."),
                )
            ]
        )
        return after.model_copy(update={"version": before.version + 1})

    # ---- numbers ----

    def list_numbers(self, tenant_id: str) -> list[VoipNumber]:
        found = self._table.query(
            keys.voip(tenant_id), sort=SortKey.begins_with(keys.VOIP_NUMBER_PREFIX), page=_ALL, consistent=True
        )
        return [VoipNumber.model_validate(i) for i in found.items]

    def get_number(self, tenant_id: str, number_id: str) -> VoipNumber | None:
        item = self._table.get(keys.voip_number(tenant_id, number_id), consistent=True)
        return VoipNumber.model_validate(item) if item else None

    def number_by_phone(self, tenant_id: str, e164: str) -> VoipNumber | None:
        # A tenant has few numbers: one Query of them all beats marker + item.
        return next((n for n in self.list_numbers(tenant_id) if n.phone_number == e164), None)

    def add_number(self, number: VoipNumber) -> VoipNumber:
        taken = Conflict("The CRM has this number already.")
        self._table.transact(
            [
                Put({**number.model_dump(mode="json"), **keys.voip_number(number.tenant_id, number.id)}),
                Put(
                    {**keys.voip_number_marker(number.tenant_id, number.phone_number), "number_id": number.id},
                    on_conflict=taken,
                ),
            ]
        )
        return number

    def update_number(self, before: VoipNumber, after: VoipNumber) -> VoipNumber:
        item = after.model_dump(mode="json")
        changes = _record_fields(item)
        changes.update({k: None for k, v in item.items() if v is None})
        self._table.transact(
            [
                Update(
                    keys.voip_number(after.tenant_id, after.id),
                    set=changes,
                    expected_version=before.version,
                    on_conflict=PreconditionFailed("The number changed meanwhile; reload it."),
                )
            ]
        )
        return after.model_copy(update={"version": before.version + 1})

    def delete_number(self, number: VoipNumber) -> None:
        self._table.transact(
            [
                Delete(
                    keys.voip_number(number.tenant_id, number.id),
                    expected_version=number.version,
                    must_exist=True,
                    on_conflict=PreconditionFailed("The number changed meanwhile; reload it."),
                ),
                Delete(keys.voip_number_marker(number.tenant_id, number.phone_number)),
            ]
        )

    # ---- presence ----

    def presence(self, tenant_id: str) -> list[Presence]:
        found = self._table.query(keys.voip(tenant_id), sort=SortKey.begins_with(keys.VOIP_PRESENCE_PREFIX), page=_ALL)
        return [Presence.model_validate(i) for i in found.items]

    def set_presence(self, tenant_id: str, user_id: str, status: PresenceStatus, at: datetime) -> Presence:
        presence = Presence(user_id=user_id, status=status, updated_at=at)
        # Last writer wins: presence is a switch its own user flips.
        self._table.update(
            keys.voip_presence(tenant_id, user_id),
            set={"user_id": user_id, "status": status.value, "updated_at": iso(at)},
            must_exist=False,
        )
        return presence


# ---- calls ----


def call_entries(call: Call) -> dict[EntryKey, Item]:
    tenant = call.tenant_id
    attributes: Item = {
        "rid": call.id,
        "direction": call.direction.value if call.direction else None,
        "status": call.status.value,
        "participants": sorted(call.participant_set()),
        "contact_id": call.contact_id,
        "started_at": iso(call.started_at),
    }
    facets = ["all", f"status#{call.status.value}"]
    if call.direction:
        facets.append(f"dir#{call.direction.value}")
    facets += [f"op#{uid}" for uid in sorted(call.participant_set())]
    if call.contact_id:
        facets.append(f"contact#{call.contact_id}")
    sk = keys.call_by_start(call.started_at, call.id)
    entries: dict[EntryKey, Item] = {}
    for facet in facets:
        pk = keys.call_facet(tenant, facet)
        entries[(pk, sk)] = {"pk": pk, "sk": sk, **attributes}
    return entries


def _entry_matches(entry: Item, query: CallQuery, participant: str | None) -> bool:
    people = entry.get("participants") or []
    return (
        (participant is None or participant in people)
        and (query.operator_id is None or query.operator_id in people)
        and (query.direction is None or entry.get("direction") == query.direction.value)
        and (query.status is None or entry.get("status") == query.status.value)
        and (query.contact_id is None or entry.get("contact_id") == query.contact_id)
    )


class DynamoCallStore(IndexedStore[Call]):
    kind = "call"
    model = Call
    entry_id = "rid"

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.call(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.call_facet(tenant_id, name)

    def index_entries(self, record: Call) -> dict[EntryKey, Item]:
        return call_entries(record)

    def id_for_sid(self, tenant_id: str, call_sid: str) -> str | None:
        item = self._table.get(keys.call_sid_marker(tenant_id, call_sid), consistent=True)
        return str(item["call_id"]) if item else None

    def create(self, record: Call, *, by: str | None, extra: Iterable[Any] = ()) -> Call:
        marker = Put(
            {**keys.call_sid_marker(record.tenant_id, record.call_sid), "call_id": record.id},
            on_conflict=Conflict("The call exists already."),
        )
        return super().create(record, by=by, extra=[marker, *extra])

    def list_calls(
        self, tenant_id: str, query: CallQuery, page: PageRequest, *, only_participant: str | None
    ) -> Slice[Call]:
        if only_participant or query.operator_id:
            facet = f"op#{only_participant or query.operator_id}"
        elif query.contact_id:
            facet = f"contact#{query.contact_id}"
        elif query.status:
            facet = f"status#{query.status.value}"
        elif query.direction:
            facet = f"dir#{query.direction.value}"
        else:
            facet = "all"
        low, high = keys.call_start_range(query.started_from, query.started_to)
        return self.query(
            tenant_id,
            facet,
            page,
            sort=SortKey.between(low, high),
            newest_first=True,
            visible=lambda e: _entry_matches(e, query, only_participant),
        )


# ---- secrets ----


class SecretsManagerVault:
    """One secret per tenant, named by the configured prefix (least privilege)."""

    def put(self, tenant_id: str, values: Mapping[str, str], *, ref: str | None) -> str:
        secrets = client("secretsmanager")
        text = json.dumps(dict(values))
        _never_logged(values)
        if ref is not None:
            with aws_errors():
                secrets.put_secret_value(SecretId=ref, SecretString=text)
            return ref
        name = f"{get_settings().twilio_secret_prefix}{tenant_id}"
        try:
            secrets.create_secret(
                Name=name, SecretString=text, Description="Twilio credentials of a CRM tenant (VOIP-1)"
            )
        except ClientError as err:
            if error_code(err) != "ResourceExistsException":
                with aws_errors():
                    raise
            # Left from an earlier account of this tenant: take it over.
            with aws_errors():
                secrets.put_secret_value(SecretId=name, SecretString=text)
        # The name, not the ARN: it is what the roles' prefix permission names, and it
        # survives the local stack re-creating the secret (a new ARN suffix) on restore.
        return name

    def get(self, ref: str) -> dict[str, str]:
        try:
            answer = client("secretsmanager").get_secret_value(SecretId=ref)
        except ClientError as err:
            if error_code(err) == "ResourceNotFoundException":
                raise NotFound("The Twilio credentials are gone; store them again.") from err
            with aws_errors():
                raise
        values = {str(k): str(v) for k, v in json.loads(answer["SecretString"]).items()}
        _never_logged(values)
        return values


def _never_logged(values: Mapping[str, str]) -> None:
    """The tokens of a secret are redacted from every log line (issue 19)."""
    from chalicelib.observability import register_secret

    for name, value in values.items():
        if "token" in name or "secret" in name:
            register_secret(value)


class S3RecordingBlobs:
    def __init__(self, blobs: BlobStore | None = None):
        self._blobs = blobs or BlobStore()

    def key(self, tenant_id: str, call_id: str, recording_sid: str) -> str:
        return tenant_object_key(tenant_id, "voip", "calls", call_id, f"{recording_sid}.mp3")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._blobs.put(key, data, content_type)

    def exists(self, key: str) -> bool:
        return self._blobs.head(key) is not None

    def download_url(self, key: str, *, seconds: int) -> str:
        return self._blobs.download_url(key, seconds=seconds)


# ---- glue to contacts, history and users (no AWS of its own) ----

UNKNOWN_CALLER_LAST_NAME = "Unknown caller"


class ContactsForCalls:
    """ContactDirectory through the contact store's phone index and the Contacts service."""

    def __init__(self, contact_store: Any, contacts: Callable[[], Any], identity_store: Any):
        self._store = contact_store
        self._contacts = contacts  # the service, built on first use
        self._identity = identity_store

    def owners_of(self, tenant_id: str, e164: str) -> list[str]:
        return list(self._store.phone_owners(tenant_id, e164))

    def find(self, tenant_id: str, contact_id: str) -> Contact | None:
        found: Contact | None = self._store.get(tenant_id, contact_id)
        return found

    def create_caller(self, tenant_id: str, e164: str, managers: list[str], by: str) -> str:
        from chalicelib.domain.contacts.models import NewContact

        tenant = self._identity.get_tenant(tenant_id)
        principal = Principal(tenant_id=tenant_id, user_id=by, role=Role.USER)
        request = NewContact.model_validate(
            {
                "kind": "person",
                # SPEC's VoIP rule: the first name is the number. CON-1 wants a last name too.
                "first_name": e164,
                "last_name": UNKNOWN_CALLER_LAST_NAME,
                "details": [{"type": "phone", "value": e164, "category": "work"}],
                "managers": managers,
                "access": "private",
            }
        )
        return str(self._contacts().create(principal, tenant, request).id)


class HistoryForCalls:
    """CallHistory through the history store and the settings lists."""

    def __init__(self, history_store: Any, settings_lists: Callable[[], Any]):
        self._store = history_store
        self._lists = settings_lists

    def category_id(self, tenant_id: str) -> str | None:
        system = Principal(tenant_id=tenant_id, user_id="system", role=Role.ADMIN)
        entries = self._lists().list(system, "history-categories")
        return next((e.id for e in entries if e.name.strip().casefold() == "phone call"), None)

    def add(self, event: Any) -> None:
        self._store.add_event(event)

    def set_text(self, tenant_id: str, event_id: str, text: str) -> None:
        before = self._store.find_event(tenant_id, event_id)
        if before is None:
            # The id index is eventually consistent: the message comes back.
            raise TemporarilyUnavailable("The call's history event is not readable yet; retried.")
        if before.text != text:
            after = before.model_copy(update={"text": text})
            self._store.replace_event(before, after, expected_version=before.version)


class OperatorsFromUsers:
    def __init__(self, identity_store: Any):
        self._identity = identity_store

    def active_principals(self, tenant_id: str, user_ids: list[str]) -> list[Principal]:
        from chalicelib.domain.identity.models import UserStatus

        users = self._identity.get_users(tenant_id, list(dict.fromkeys(user_ids))) if user_ids else []
        return [
            Principal(tenant_id=tenant_id, user_id=u.id, role=u.role, group_ids=frozenset(u.group_ids))
            for u in users
            if u.status == UserStatus.ACTIVE
        ]
