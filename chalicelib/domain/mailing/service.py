"""Mass mailing (ADM-2): preview, send, progress, cancel, unsubscribe, bounces.

A mailing is a record plus one jobs-queue message per chunk. A chunk sends to
at most ``chunk_size(rate)`` recipients (about 30 s of sending at the
tenant's rate), then checkpoints (the next position, the counts) and queues
the next chunk. Redelivery is safe:
- each recipient is *claimed* (a conditional put) before its mail is sent, so
  two deliveries of a chunk never mail one person twice; a claim left by a
  delivery that died before recording the outcome reads as ``failed``
  (``interrupted``): at most once, never twice;
- the next chunk is queued before the checkpoint is written, and a chunk
  message ahead of the checkpoint waits (TemporarilyUnavailable: SQS retries
  it), one behind it is dropped; the checkpoint is conditional on the chunk
  number, so counts are added once.

Throttling: every send takes a slot in the tenant's current second
(``SendWindows``, a conditional counter in the table), so the tenant's rate
holds across chunks, SQS messages, concurrent Lambdas and concurrent
mailings. No slot left: wait for the next second.

Who: admins mail any contact; users only contacts they may read (the same
policy as the contacts list; a hidden contact is ``failed``/``not_found``).
One message per contact, to its primary e-mail; suppressed addresses
(unsubscribed, hard bounced, complained) are skipped and reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.contacts.models import Contact, ContactQuery
from chalicelib.domain.mailing import templates
from chalicelib.domain.mailing.models import (
    Bounce,
    Mailing,
    MailingChunk,
    MailingSettings,
    MailingStatus,
    NewMailing,
    OutgoingMail,
    Preview,
    PreviewRequest,
    RecipientResult,
    RecipientStatus,
)
from chalicelib.domain.mailing.ports import (
    Attachments,
    CustomFieldNames,
    MailHistory,
    MailingStore,
    MassMailer,
    Recipients,
    SendWindows,
    Suppressions,
)
from chalicelib.domain.mailing.unsubscribe import UnsubscribeTokens, address_digest
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, TemporarilyUnavailable
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.ports import JobQueue
from chalicelib.domain.shared.principal import Principal, Role

MAX_CHUNK = 100
CHUNK_SECONDS = 30
# Re-read the mailing this often within a chunk, so a cancel stops it within seconds.
CANCEL_CHECK_EVERY = 10
UNSUBSCRIBE_PATH = "/v1/unsubscribe/"
PREVIEW_TOKEN = "preview"


def chunk_size(rate_per_second: int) -> int:
    return max(1, min(MAX_CHUNK, rate_per_second * CHUNK_SECONDS))


def _primary(contact: Contact, detail_type: str) -> str | None:
    values = [d for d in contact.details if d.get("type") == detail_type and isinstance(d.get("value"), str)]
    chosen = next((d for d in values if d.get("primary")), values[0] if values else None)
    return str(chosen["value"]) if chosen else None


class Mailings:
    def __init__(
        self,
        store: MailingStore,
        suppressions: Suppressions,
        windows: SendWindows,
        mailer: MassMailer,
        recipients: Recipients,
        attachments: Attachments,
        history: MailHistory,
        custom_fields: CustomFieldNames,
        queue: JobQueue,
        tokens: UnsubscribeTokens,
        *,
        public_url: str = "",
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._store = store
        self._suppressions = suppressions
        self._windows = windows
        self._mailer = mailer
        self._recipients = recipients
        self._attachments = attachments
        self._history = history
        self._custom_fields = custom_fields
        self._queue = queue
        self._tokens = tokens
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._sleep = sleep

    # ---- settings ----

    def settings(self, principal: Principal) -> MailingSettings:
        return self._store.settings(principal.tenant_id)

    def save_settings(self, principal: Principal, settings: MailingSettings) -> MailingSettings:
        if not principal.is_admin:
            raise Forbidden("Only administrators change the sending rate.")
        self._store.save_settings(principal.tenant_id, settings)
        return settings

    # ---- preview and start ----

    def preview(self, principal: Principal, request: PreviewRequest) -> Preview:
        contact = self._recipients.get(principal, request.contact_id)
        if contact is None:
            raise NotFound("The contact does not exist.")
        self._attachments.check(principal, request.file_ids)
        fields = self._custom_fields.names(principal)
        templates.render("subject", request.subject, templates.sample_context(fields))
        templates.render("body", request.body, templates.sample_context(fields))
        address = _primary(contact, "email")
        mail = self._compose(
            principal.tenant_id, "preview", request.subject, request.body, contact, address, fields, preview=True
        )
        return Preview(
            contact_id=contact.id,
            to=address,
            subject=mail.subject,
            body=mail.text,
            headers=mail.headers,
            suppressed=address is not None
            and self._suppressions.is_suppressed(principal.tenant_id, address_digest(address)),
        )

    def start(self, principal: Principal, request: NewMailing) -> Mailing:
        fields = self._custom_fields.names(principal)
        # Every placeholder checked now (a typo is a 422 here, not ten thousand failures later).
        templates.render("subject", request.subject, templates.sample_context(fields))
        templates.render("body", request.body, templates.sample_context(fields))
        self._attachments.check(principal, request.file_ids)
        now = self._clock()
        mailing = Mailing(
            id=new_id(),
            tenant_id=principal.tenant_id,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
            creator_role=principal.role.value,
            creator_groups=sorted(principal.group_ids),
            subject=request.subject,
            body=request.body,
            file_ids=request.file_ids,
            add_history=request.add_history,
            contact_ids=request.contact_ids,
            filter=request.filter.model_dump(mode="json", exclude_none=True) if request.filter else None,
            total=len(request.contact_ids) if request.contact_ids is not None else None,
        )
        self._store.create(mailing)
        self._queue.send(MailingChunk(tenant_id=mailing.tenant_id, mailing_id=mailing.id, chunk=0).model_dump())
        return mailing

    # ---- reading, cancelling ----

    def get(self, principal: Principal, mailing_id: str) -> Mailing:
        mailing = self._store.get(principal.tenant_id, mailing_id)
        if mailing is None:
            raise NotFound("The mailing does not exist.")
        access.require(principal, Operation.READ, mailing.access_record(), what="mailing")
        return mailing

    def recipients(
        self, principal: Principal, mailing_id: str, page: PageRequest, status: RecipientStatus | None
    ) -> Slice[RecipientResult]:
        self.get(principal, mailing_id)
        return self._store.recipients(principal.tenant_id, mailing_id, page, status)

    def cancel(self, principal: Principal, mailing_id: str) -> Mailing:
        mailing = self.get(principal, mailing_id)
        access.require(principal, Operation.WRITE, mailing.access_record(), what="mailing")
        if not self._store.cancel(principal.tenant_id, mailing_id, self._clock()):
            current = self.get(principal, mailing_id)
            if current.status == MailingStatus.CANCELLED:
                return current
            raise Conflict(f"The mailing is {current.status.value}; only a queued or running one can be cancelled.")
        return self.get(principal, mailing_id)

    # ---- the background chunks ----

    def run_chunk(self, job: MailingChunk) -> int:
        """Send one chunk; how many mails went out."""
        mailing = self._store.get(job.tenant_id, job.mailing_id)
        if mailing is None or mailing.status in (MailingStatus.DONE, MailingStatus.CANCELLED):
            return 0
        if job.chunk < mailing.chunk:
            return 0  # a duplicate of a chunk already checkpointed
        if job.chunk > mailing.chunk:
            raise TemporarilyUnavailable("The mailing's previous chunk has not checkpointed yet.")
        principal = Principal(
            tenant_id=mailing.tenant_id,
            user_id=mailing.created_by,
            role=Role(mailing.creator_role),
            group_ids=frozenset(mailing.creator_groups),
        )
        rate = self._store.settings(mailing.tenant_id).rate_per_second
        contacts, next_position, ids = self._batch(principal, mailing, chunk_size(rate))
        fields = self._custom_fields.names(principal)
        attachments = self._attachments.load(principal, mailing.file_ids) if mailing.file_ids else []
        counts: dict[str, int] = {}
        sent = 0
        cancelled = False
        for index, contact_id in enumerate(ids):
            if index and index % CANCEL_CHECK_EVERY == 0:
                current = self._store.get(mailing.tenant_id, mailing.id)
                if current is None or current.status == MailingStatus.CANCELLED:
                    cancelled = True
                    break
            status = self._one(principal, mailing, contact_id, contacts.get(contact_id), fields, attachments, rate)
            counts[status.value] = counts.get(status.value, 0) + 1
            sent += status == RecipientStatus.SENT
        finished = cancelled or next_position is None
        if not finished:
            self._queue.send(
                MailingChunk(tenant_id=mailing.tenant_id, mailing_id=mailing.id, chunk=job.chunk + 1).model_dump()
            )
        self._checkpoint(mailing, job.chunk, next_position, counts, finished)
        return sent

    def _checkpoint(
        self, mailing: Mailing, chunk: int, position: dict[str, Any] | None, counts: dict[str, int], finished: bool
    ) -> None:
        now = self._clock()
        status = MailingStatus.DONE if finished else MailingStatus.RUNNING
        total = mailing.processed + sum(counts.values()) if finished and mailing.contact_ids is None else None
        kwargs: dict[str, Any] = {
            "from_chunk": chunk,
            "position": position,
            "add_counts": counts,
            "at": now,
            "total": total,
        }
        if self._store.advance(mailing.tenant_id, mailing.id, status=status, **kwargs):
            return
        current = self._store.get(mailing.tenant_id, mailing.id)
        if current is not None and current.status == MailingStatus.CANCELLED and current.chunk == chunk:
            # Cancelled while this chunk ran: what it sent still counts.
            self._store.advance(mailing.tenant_id, mailing.id, status=MailingStatus.CANCELLED, **kwargs)

    def _batch(
        self, principal: Principal, mailing: Mailing, size: int
    ) -> tuple[dict[str, Contact | None], dict[str, Any] | None, list[str]]:
        """The chunk's recipients (id -> contact, None: not readable) and where the next chunk starts."""
        position = mailing.position or {}
        if mailing.contact_ids is not None:
            start = int(position.get("offset", 0))
            ids = mailing.contact_ids[start : start + size]
            end = start + len(ids)
            contacts = {cid: self._recipients.get(principal, cid) for cid in ids}
            return contacts, ({"offset": end} if end < len(mailing.contact_ids) else None), ids
        query = ContactQuery.model_validate(mailing.filter or {})
        found, after = self._recipients.page(principal, query, position.get("after"), size)
        return {c.id: c for c in found}, ({"after": after} if after else None), [c.id for c in found]

    def _one(
        self,
        principal: Principal,
        mailing: Mailing,
        contact_id: str,
        contact: Contact | None,
        fields: dict[str, str],
        attachments: list[Any],
        rate: int,
    ) -> RecipientStatus:
        tenant = mailing.tenant_id
        earlier = self._store.claim(tenant, mailing.id, contact_id, self._clock())
        if earlier is not None:
            return earlier.status or RecipientStatus.FAILED  # claimed by a delivery that died: not sent twice

        def done(status: RecipientStatus, reason: str | None = None) -> RecipientStatus:
            self._store.finish_recipient(
                tenant,
                RecipientResult(
                    mailing_id=mailing.id, contact_id=contact_id, status=status, reason=reason, at=self._clock()
                ),
            )
            return status

        if contact is None:
            return done(RecipientStatus.FAILED, "not_found")
        address = _primary(contact, "email")
        if not address:
            return done(RecipientStatus.NO_ADDRESS)
        if self._suppressions.is_suppressed(tenant, address_digest(address)):
            return done(RecipientStatus.SUPPRESSED)
        try:
            mail = self._compose(tenant, mailing.id, mailing.subject, mailing.body, contact, address, fields)
        except Exception as error:  # a template that fails for this recipient only (e.g. a type error)
            return done(RecipientStatus.FAILED, f"template: {getattr(error, 'detail', error)}"[:300])
        mail = mail.model_copy(update={"attachments": attachments})
        self._throttle(tenant, rate)
        try:
            self._mailer.send(mail)
        except Exception as error:
            return done(RecipientStatus.FAILED, type(error).__name__)
        if mailing.add_history:
            try:
                self._history.add_mail_event(principal, contact_id, mail.subject, mail.text, self._clock())
            except Exception:  # the mail went out; a missing history line must not report it as failed
                pass
        return done(RecipientStatus.SENT)

    def _throttle(self, tenant_id: str, rate: int) -> None:
        while True:
            now = self._clock().timestamp()
            if self._windows.take(tenant_id, int(now), rate):
                return
            self._sleep(max(0.01, int(now) + 1 - now))

    def _compose(
        self,
        tenant_id: str,
        mailing_id: str,
        subject: str,
        body: str,
        contact: Contact,
        address: str | None,
        fields: dict[str, str],
        *,
        preview: bool = False,
    ) -> OutgoingMail:
        # A preview's link does nothing: whoever clicks it while checking the text must not unsubscribe the contact.
        token = PREVIEW_TOKEN if preview else self._tokens.issue(tenant_id, address or "", contact.id, mailing_id)
        url = f"{self._public_url}{UNSUBSCRIBE_PATH}{token}"
        custom: dict[str, Any] = {}
        for field_id, value in contact.custom_fields.items():
            custom[field_id] = value
            if field_id in fields:
                custom[templates.field_key(fields[field_id])] = value
        for field_id, name in fields.items():  # fields the contact has no value for: empty, not undefined
            custom.setdefault(field_id, "")
            custom.setdefault(templates.field_key(name), "")
        context = {
            "first_name": contact.first_name or "",
            "last_name": contact.last_name or "",
            "display_name": contact.display_name,
            "company_name": contact.company_name or "",
            "job_title": contact.job_title or "",
            "email": address or "",
            "phone": _primary(contact, "phone") or "",
            "custom": custom,
            "unsubscribe_url": url,
        }
        text = templates.render("body", body, context)
        if url not in text:
            text = f"{text.rstrip()}\n\n--\nUnsubscribe: {url}\n"
        rendered_subject = " ".join(templates.render("subject", subject, context).split())
        return OutgoingMail(
            to=address or "",
            subject=rendered_subject,
            text=text,
            headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            tags={"tenant": tenant_id, "mailing": mailing_id},
        )

    # ---- unsubscribe and bounces ----

    def unsubscribe(self, token: str) -> str:
        """Suppress the token's address for its tenant; the tenant id (for the logs)."""
        found = self._tokens.read(token)
        self._suppressions.suppress(found.tenant_id, found.digest, "unsubscribed", self._clock())
        return found.tenant_id

    def check_token(self, token: str) -> str:
        return self._tokens.read(token).tenant_id

    def bounced(self, bounce: Bounce) -> int:
        return record_bounce(self._suppressions, bounce, self._clock())

    # ---- GDPR ----

    def forget_contact(self, tenant_id: str, contact_id: str) -> int:
        return self._store.forget_contact(tenant_id, contact_id)


def record_bounce(suppressions: Suppressions, bounce: Bounce, now: datetime) -> int:
    """Hard bounces and complaints suppress their addresses; soft bounces change
    nothing. A function of its own: the bounces function has the suppression
    list and nothing else (no cursor key, no mailer)."""
    if not bounce.permanent:
        return 0
    for address in bounce.addresses:
        suppressions.suppress(bounce.tenant_id, address_digest(address), "bounced", now)
    return len(bounce.addresses)
