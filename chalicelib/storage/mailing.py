"""Mass mailing's storage (ADM-2): mailings, recipients' results, the
suppression list, the per-second send counters, and the SES sender.

The sender builds one MIME message per recipient with RFC 8058's
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers and sends it raw
through SES, in the configuration set whose bounce and complaint events
reach the ``bounces`` queue (infra/aws/stack.py). ``X-CRM-Tenant`` names the
tenant in the notification's headers. On the local stack the message is also
written to the outbox folder (storage/mail.py).
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from typing import Any

from chalicelib.domain.mailing.models import (
    COUNTED,
    Mailing,
    MailingSettings,
    MailingStatus,
    OutgoingMail,
    RecipientResult,
    RecipientStatus,
)
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict, NotFound
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors
from chalicelib.storage.dynamo.table import SortKey, Table
from chalicelib.storage.dynamo.table_spec import GSI1
from chalicelib.storage.mail import _to_outbox

_COUNT = "count_"


def _mailing_item(mailing: Mailing) -> dict[str, Any]:
    data = mailing.model_dump(mode="json", exclude={"counts"})
    return {
        **{k: v for k, v in data.items() if v is not None},
        **{f"{_COUNT}{name}": mailing.counts.get(name, 0) for name in COUNTED},
        **keys.mailing(mailing.tenant_id, mailing.id),
    }


def _mailing(item: dict[str, Any]) -> Mailing:
    counts = {name: int(item.get(f"{_COUNT}{name}", 0)) for name in COUNTED}
    return Mailing.model_validate({**item, "counts": counts})


class DynamoMailingStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def create(self, mailing: Mailing) -> None:
        self._table.create(_mailing_item(mailing))

    def get(self, tenant_id: str, mailing_id: str) -> Mailing | None:
        item = self._table.get(keys.mailing(tenant_id, mailing_id), consistent=True)
        return _mailing(item) if item else None

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
        rules: list[tuple[str, str, Any]] = [("chunk", "=", from_chunk)]
        if status != MailingStatus.CANCELLED:
            rules.append(("status", "<>", MailingStatus.CANCELLED.value))
        current = self.get(tenant_id, mailing_id)
        if current is None:
            return False
        changes: dict[str, Any] = {
            "chunk": from_chunk + 1,
            "position": position,
            "status": status.value,
            "updated_at": iso(at),
            "started_at": current.started_at.isoformat() if current.started_at else iso(at),
        }
        if status in (MailingStatus.DONE, MailingStatus.CANCELLED):
            changes["finished_at"] = current.finished_at.isoformat() if current.finished_at else iso(at)
        if total is not None:
            changes["total"] = total
        try:
            self._table.update(
                keys.mailing(tenant_id, mailing_id),
                set=changes,
                add={f"{_COUNT}{name}": count for name, count in add_counts.items() if count},
                require=rules,
            )
        except (Conflict, NotFound):
            return False
        return True

    def cancel(self, tenant_id: str, mailing_id: str, at: datetime) -> bool:
        try:
            self._table.update(
                keys.mailing(tenant_id, mailing_id),
                set={"status": MailingStatus.CANCELLED.value, "finished_at": iso(at), "updated_at": iso(at)},
                require=[("status", "<>", MailingStatus.DONE.value), ("status", "<>", MailingStatus.CANCELLED.value)],
            )
        except (Conflict, NotFound):
            return False
        return True

    def claim(self, tenant_id: str, mailing_id: str, contact_id: str, at: datetime) -> RecipientResult | None:
        claim = RecipientResult(mailing_id=mailing_id, contact_id=contact_id, at=at)
        try:
            self._table.create(
                {
                    **claim.model_dump(mode="json", exclude_none=True),
                    **keys.mailing_recipient(tenant_id, mailing_id, contact_id),
                    **keys.mailing_recipient_indexes(tenant_id, mailing_id, contact_id),
                }
            )
        except Conflict:
            item = self._table.get(keys.mailing_recipient(tenant_id, mailing_id, contact_id), consistent=True)
            return RecipientResult.model_validate(item) if item else claim
        return None

    def finish_recipient(self, tenant_id: str, result: RecipientResult) -> None:
        self._table.update(
            keys.mailing_recipient(tenant_id, result.mailing_id, result.contact_id),
            set={
                "status": result.status.value if result.status else None,
                "reason": result.reason,
                "at": iso(result.at),
            },
            bump_version=False,
            must_exist=False,
        )

    def recipients(
        self, tenant_id: str, mailing_id: str, page: PageRequest, status: RecipientStatus | None
    ) -> Slice[RecipientResult]:
        def visible(item: dict[str, Any]) -> bool:
            return "status" in item and (status is None or item["status"] == status.value)

        found = self._table.query(
            keys.mailing(tenant_id, mailing_id)["pk"],
            sort=SortKey.begins_with(keys.MAILING_RECIPIENT_PREFIX),
            page=page,
            visible=visible,
        )
        return Slice([RecipientResult.model_validate(i) for i in found.items], found.after)

    def results_for_contact(self, tenant_id: str, contact_id: str) -> list[RecipientResult]:
        found = self._table.query(
            keys.mailing_results_of_contact(tenant_id, contact_id), index=GSI1, page=PageRequest(limit=200)
        )
        return [RecipientResult.model_validate(i) for i in found.items]

    def forget_contact(self, tenant_id: str, contact_id: str) -> int:
        partition = keys.mailing_results_of_contact(tenant_id, contact_id)
        gone = 0
        while True:
            found = self._table.query(partition, index=GSI1, page=PageRequest(limit=100))
            self._table.write_batch(deletes=[{"pk": i["pk"], "sk": i["sk"]} for i in found.items])
            gone += len(found.items)
            if not found.after or not found.items:
                return gone

    def settings(self, tenant_id: str) -> MailingSettings:
        item = self._table.get(keys.mailing_settings(tenant_id))
        return MailingSettings.model_validate({k: v for k, v in item.items() if k == "rate_per_second"} if item else {})

    def save_settings(self, tenant_id: str, settings: MailingSettings) -> None:
        self._table.write_batch(puts=[{**keys.mailing_settings(tenant_id), **settings.model_dump(mode="json")}])


class DynamoSuppressions:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def suppress(self, tenant_id: str, digest: str, reason: str, at: datetime) -> None:
        # Put once: the first reason stays (an unsubscribe is not turned into a bounce).
        try:
            self._table.create({**keys.suppression(tenant_id, digest), "reason": reason, "at": iso(at)})
        except Conflict:
            pass

    def is_suppressed(self, tenant_id: str, digest: str) -> bool:
        return self._table.get(keys.suppression(tenant_id, digest), consistent=True) is not None


class SesMassMailer:
    def __init__(self, sender: str, configuration_set: str = ""):
        self._sender = sender
        self._configuration_set = configuration_set

    def message(self, mail: OutgoingMail) -> EmailMessage:
        # Lines up to RFC 5322's 998: with the default 78, the long one-click URL would be folded
        # into an RFC 2047 encoded word, which no mail client reads as RFC 8058's <URL>.
        message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
        message["From"] = self._sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        for name, value in mail.headers.items():
            message[name] = value
        if "tenant" in mail.tags:
            message["X-CRM-Tenant"] = mail.tags["tenant"]
        message.set_content(mail.text)
        for attachment in mail.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
        return message

    def send(self, mail: OutgoingMail) -> None:
        message = self.message(mail)
        extra: dict[str, Any] = {}
        if self._configuration_set:
            extra["ConfigurationSetName"] = self._configuration_set
        tags = [{"Name": k, "Value": v} for k, v in mail.tags.items()]
        with aws_errors():
            client("ses").send_raw_email(
                Source=self._sender,
                Destinations=[mail.to],
                RawMessage={"Data": message.as_bytes()},
                Tags=tags,
                **extra,
            )
        # The local stack's copy (API.md "Local stack"), as every other mail the CRM sends.
        _to_outbox(message)


# ---- the other features, as the mailing service's ports see them ----


class ContactsForMailing:
    """Recipients through the contacts service: its access policy and its list filter."""

    def __init__(self, contacts: Any):
        self._contacts = contacts

    def get(self, principal: Any, contact_id: str) -> Any:
        try:
            return self._contacts().get(principal, contact_id)
        except NotFound:
            return None

    def page(self, principal: Any, query: Any, after: dict[str, Any] | None, limit: int) -> tuple[list[Any], Any]:
        found = self._contacts().list(principal, query, PageRequest(limit=limit, after=after))
        return list(found.items), found.after


class FilesForMailing:
    """Attachments: files the creator may read (domain/records/files.py), bytes from S3."""

    MAX_TOTAL = 10 * 1024 * 1024  # SES takes 10 MB per message by default

    def __init__(self, files: Any, blobs: Any = None):
        self._files = files
        self._blobs = blobs

    def _stored(self, principal: Any, file_ids: list[str]) -> list[Any]:
        from chalicelib.domain.records.files import FileStatus
        from chalicelib.domain.shared.errors import FieldError, ValidationFailed

        stored = [self._files().get(principal, file_id) for file_id in file_ids]
        if any(f.status != FileStatus.UPLOADED for f in stored):
            raise ValidationFailed(
                "Every attachment must be uploaded.", errors=[FieldError("file_ids", "a file is not uploaded yet")]
            )
        if sum(f.size for f in stored) > self.MAX_TOTAL:
            raise ValidationFailed(
                "The attachments are too large.", errors=[FieldError("file_ids", "at most 10 MB together")]
            )
        return stored

    def check(self, principal: Any, file_ids: list[str]) -> None:
        self._stored(principal, file_ids)

    def load(self, principal: Any, file_ids: list[str]) -> list[Any]:
        from chalicelib.domain.mailing.models import Attachment
        from chalicelib.storage.blobs import BlobStore
        from chalicelib.storage.records.files import object_key

        blobs = self._blobs or BlobStore()
        out = []
        for stored in self._stored(principal, file_ids):
            data, _ = blobs.get(object_key(stored.tenant_id, stored.id))
            out.append(Attachment(filename=stored.filename, content_type=stored.content_type, data=data))
        return out


class HistoryForMailing:
    def __init__(self, history_store: Any):
        self._store = history_store

    def add_mail_event(self, principal: Any, contact_id: str, subject: str, text: str, at: datetime) -> None:
        from chalicelib.domain.records.files import ParentLink
        from chalicelib.domain.records.history import HistoryEvent, HistoryKind
        from chalicelib.domain.shared.clock import new_id

        self._store.add_event(
            HistoryEvent(
                id=new_id(),
                tenant_id=principal.tenant_id,
                parent=ParentLink(kind="contact", id=contact_id),
                kind=HistoryKind.EMAIL,
                text=f"Mailing: {subject}\n\n{text}"[:20_000],
                happened_at=at,
                author_id=principal.user_id,
                created_at=at,
                created_by=principal.user_id,
                updated_at=at,
                updated_by=principal.user_id,
            )
        )


class CustomFieldsForMailing:
    def __init__(self, custom_fields: Any):
        self._fields = custom_fields

    def names(self, principal: Any) -> dict[str, str]:
        return {
            f.id: f.label for f in self._fields().list(principal) if f.active and f.entity.value in _CONTACT_ENTITIES
        }


_CONTACT_ENTITIES = ("contact", "person", "company")
