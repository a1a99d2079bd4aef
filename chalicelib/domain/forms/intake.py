"""The public form endpoint (WEB-2, WEB-3): strangers' submissions in, leads out.

Order of a submission, cheapest refusal first:
1. the key: unknown, disabled (or the tenant's CRM switched off) is 404;
2. the body: over 64 kB is 413; unreadable 400, another media type 415;
3. the client's rate limit (every request counts) is 429;
4. the honeypot filled, or a stamp that is forged or younger than the
   minimum fill time: dropped without a trace, with the answer a person
   gets (bots learn nothing); a missing stamp is a 422 naming it, since only
   a hand-made integration leaves it out and it must hear so;
5. the answers, checked against the form: 422 naming each input;
6. the form's rate limit (only submissions that passed all of the above
   count) is 429;
7. accepted: processed before the answer (a contact made through the
   contacts service's rules, or the existing contact with this e-mail or
   phone; the submission as its history event; notifications). Should that
   fail, the submission goes to the jobs queue and is processed from there;
   the answer is a success only once one of the two has happened.

Nothing in an answer depends on whether the visitor was already a contact.
Processing is idempotent: the ids it writes derive from the submission's
id, so a retried job finds what the first attempt did and finishes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ulid import ULID

from chalicelib.domain.contacts.models import Contact, ContactKind, ContactQuery, NewContact
from chalicelib.domain.forms.limits import MAX_BODY_BYTES, PER_CLIENT, PER_FORM
from chalicelib.domain.forms.models import WebForm, valid_key
from chalicelib.domain.forms.ports import (
    ContactLookup,
    ContactWriter,
    CustomFieldDefinitions,
    HistoryWriter,
    Notifications,
    RateCounters,
    TenantDirectory,
    WebFormStore,
)
from chalicelib.domain.forms.service import custom_fields_of
from chalicelib.domain.forms.stamps import StampCheck, Stamps, client_digest
from chalicelib.domain.forms.submission import (
    HONEYPOT_INPUT,
    STAMP_INPUT,
    FormSubmission,
    Received,
    clean,
    history_text,
    read_body,
)
from chalicelib.domain.identity.models import Tenant, User, UserStatus
from chalicelib.domain.records.history import system_event
from chalicelib.domain.settings.custom_fields import CustomField
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import (
    Conflict,
    CrmError,
    FieldError,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    ValidationFailed,
)
from chalicelib.domain.shared.limits import Limit, RateLimiter
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.ports import JobQueue
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.shared.text import fold, words


def derived_id(base: str, purpose: str) -> str:
    """A ULID with ``base``'s time and a random part fixed by ``purpose``: the
    same submission always names the same contact, company and event."""
    digest = hashlib.sha256(f"{base}\n{purpose}".encode()).digest()[:10]
    return str(ULID.from_bytes(ULID.from_str(base).bytes[:6] + digest))


def actor(tenant_id: str, form_id: str) -> Principal:
    """Who a form acts as: the form itself (``created_by`` of what it makes),
    with the rights the contacts service needs to apply the form's settings."""
    return Principal(tenant_id=tenant_id, user_id=f"web-form:{form_id}", role=Role.ADMIN)


@dataclass(frozen=True)
class PublicForm:
    tenant: Tenant
    form: WebForm


@dataclass
class Outcome:
    """What the endpoint answers. Dropped submissions look accepted: only
    ``dropped`` (never shown) tells them apart."""

    submission_id: str | None = None
    error: CrmError | None = None
    values: dict[str, Any] = field(default_factory=dict)
    is_json: bool = False
    stamp: str | None = None
    dropped: str | None = None
    deferred: bool = False

    @property
    def accepted(self) -> bool:
        return self.error is None


class FormIntake:
    def __init__(
        self,
        forms: WebFormStore,
        counters: RateCounters,
        directory: TenantDirectory,
        contacts: ContactWriter,
        lookup: ContactLookup,
        history: HistoryWriter,
        custom_fields: CustomFieldDefinitions,
        notifier: Notifications,
        queue: JobQueue,
        stamps: Stamps,
        client_key: bytes,
        clock: Clock = utc_now,
    ):
        self._forms = forms
        self._limiter = RateLimiter(counters)
        self._directory = directory
        self._contacts = contacts
        self._lookup = lookup
        self._history = history
        self._custom_fields = custom_fields
        self._notifier = notifier
        self._queue = queue
        self._stamps = stamps
        self._client_key = client_key
        self._clock = clock

    # ---- the form behind a key ----

    def open(self, key: str) -> PublicForm:
        """The enabled form with this key, or NotFound (whatever the reason)."""
        missing = NotFound("No such form.")
        found = self._forms.find_by_key(key) if valid_key(key) else None
        if found is None:
            raise missing
        tenant_id, form_id = found
        form = self._forms.get(tenant_id, form_id)
        tenant = self._directory.get_tenant(tenant_id) if form is not None else None
        if form is None or form.key != key or not form.enabled or tenant is None or not tenant.crm_access.enabled:
            raise missing
        return PublicForm(tenant, form)

    def custom_fields(self, target: PublicForm) -> dict[str, CustomField]:
        if not target.form.custom_field_ids():
            return {}
        principal = actor(target.tenant.id, target.form.id)
        return custom_fields_of(target.form, self._custom_fields.for_scope(principal, target.form.kind.value))

    def fresh_stamp(self, target: PublicForm) -> str:
        return self._stamps.issue(target.form.id, self._clock())

    # ---- a submission ----

    def submit(self, target: PublicForm, body: bytes, content_type: str, client_ip: str) -> Outcome:
        now = self._clock()
        form, tenant_id = target.form, target.tenant.id
        if len(body) > MAX_BODY_BYTES:
            return Outcome(error=PayloadTooLarge(f"A form submission is at most {MAX_BODY_BYTES // 1024} kB."))
        received: Received | None = None
        unreadable: CrmError | None = None
        try:
            received = read_body(body, content_type)
        except CrmError as error:
            unreadable = error
        values = received.values if received else {}
        outcome = Outcome(values=values, is_json=received.is_json if received else False)
        stamp = values.get(STAMP_INPUT)
        outcome.stamp = stamp if isinstance(stamp, str) else None
        try:
            self._take(PER_CLIENT, tenant_id, client_digest(self._client_key, client_ip), now)
            if unreadable is not None or received is None:
                raise unreadable or ValidationFailed("The submission cannot be read.")
            if received.text(HONEYPOT_INPUT).strip():
                return self._drop(outcome, "honeypot")
            checked = self._stamps.check(form.id, outcome.stamp, now)
            if checked == StampCheck.MISSING:
                raise ValidationFailed(
                    "The form's fill-time stamp is missing.",
                    errors=[FieldError(STAMP_INPUT, "is required: post the form as its snippet renders it")],
                )
            if checked != StampCheck.OK:
                return self._drop(outcome, f"stamp {checked.value}")
            cleaned = clean(form, received, self.custom_fields(target), target.tenant.phone_region or "DE")
            self._take(PER_FORM, tenant_id, form.id, now)
        except CrmError as error:
            outcome.error = error
            return outcome
        submission_id = new_id()
        submission = FormSubmission(
            tenant_id=tenant_id,
            form_id=form.id,
            form_name=form.name,
            submission_id=submission_id,
            received_at=now,
            contact_kind=form.kind,
            contact=cleaned.contact,
            details=cleaned.details,
            custom_fields=cleaned.custom_fields,
            company_name=cleaned.company_name,
            tags=form.tags,
            access=form.access,
            manager_ids=form.manager_ids,
            notify_user_ids=form.notify_user_ids,
            text=history_text(form.name, cleaned, form.consent_text, now),
        )
        outcome.submission_id = submission_id
        try:
            self.process(submission)
        except Exception:
            # Written to the queue before we answer, or the answer is an error: never a silent loss.
            self._queue.send(submission.model_dump(mode="json"))
            outcome.deferred = True
        return outcome

    def _drop(self, outcome: Outcome, reason: str) -> Outcome:
        outcome.submission_id = new_id()  # the same shape as a real one
        outcome.dropped = reason
        return outcome

    def _take(self, limit: Limit, tenant_id: str, subject: str, now: datetime) -> None:
        quota = self._limiter.take(limit, subject, now, tenant_id=tenant_id)
        if not quota.allowed:
            raise TooManyRequests(
                "Too many submissions; please wait a moment and send the form again.", retry_after=quota.reset
            )

    # ---- processing (inline, or a retried job) ----

    def process(self, submission: FormSubmission) -> str:
        """Make or find the contact, add the submission to its history, notify.
        Idempotent; answers the contact's id ("" when the tenant is gone)."""
        tenant = self._directory.get_tenant(submission.tenant_id)
        if tenant is None:
            return ""
        principal = actor(submission.tenant_id, submission.form_id)
        own_id = derived_id(submission.submission_id, "contact")
        contact = self._lookup.get(submission.tenant_id, own_id)  # made by an earlier attempt
        existing = None if contact is not None else self._existing(submission)
        if contact is None and existing is None:
            contact = self._create(principal, tenant, submission, own_id)
        target = contact or existing
        assert target is not None
        event = system_event(principal, "contact", target.id, submission.text, at=submission.received_at)
        try:
            self._history.add_event(event.model_copy(update={"id": derived_id(submission.submission_id, "event")}))
        except Conflict:
            pass  # written by an earlier attempt
        self._notify(submission, target, is_new=existing is None)
        return target.id

    def _existing(self, submission: FormSubmission) -> Contact | None:
        """The oldest contact (of the form's kind first) with one of the e-mail
        addresses or phone numbers just sent."""
        tenant_id = submission.tenant_id
        emails, phones = set(submission.emails), set(submission.phones)
        ids: list[str] = []
        for email in emails:
            ids += self._lookup.email_owners(tenant_id, email)
        for phone in phones:
            ids += self._lookup.phone_owners(tenant_id, phone)
        candidates = [c for c in (self._lookup.get(tenant_id, i) for i in dict.fromkeys(ids)) if c is not None]
        matching = [c for c in candidates if emails & set(c.emails()) or phones & set(c.phones())]
        matching.sort(key=lambda c: (c.kind != submission.contact_kind, c.id))
        return matching[0] if matching else None

    def _managers(self, tenant_id: str, wanted: list[str]) -> list[str]:
        """The form's managers still active; else the tenant's owners (a lead
        always gets someone who sees it)."""
        active = [u.id for u in self._users(tenant_id, wanted)]
        if active:
            return active
        owners = self._directory.list_users(tenant_id, PageRequest(limit=200)).items
        return [u.id for u in owners if u.role == Role.OWNER and u.status != UserStatus.DEACTIVATED][:1]

    def _users(self, tenant_id: str, user_ids: list[str]) -> list[User]:
        if not user_ids:
            return []
        found = {u.id: u for u in self._directory.get_users(tenant_id, user_ids)}
        return [found[i] for i in dict.fromkeys(user_ids) if i in found and found[i].status != UserStatus.DEACTIVATED]

    def _create(self, principal: Principal, tenant: Tenant, submission: FormSubmission, contact_id: str) -> Contact:
        settings: dict[str, Any] = {"tags": submission.tags, "access": submission.access}
        managers = self._managers(submission.tenant_id, submission.manager_ids)
        if managers:
            settings["managers"] = managers
        answers: dict[str, Any] = {**submission.contact}
        if submission.details:
            answers["details"] = submission.details
        if submission.custom_fields:
            answers["custom_fields"] = submission.custom_fields
        if submission.company_name and submission.contact_kind == ContactKind.PERSON:
            answers["company_id"] = self._company(principal, tenant, submission, settings)
        try:
            request = NewContact(kind=submission.contact_kind, **answers, **settings)
            return self._contacts.create(principal, tenant, request, contact_id=contact_id)
        except (ValidationFailed, ValueError):
            # A setting changed between receipt and a retry (a custom field removed ...): the
            # contact gets its name, and every answer is in its history event all the same.
            names = ("first_name", "last_name", "company_name")
            minimal = {k: v for k, v in submission.contact.items() if k in names}
            request = NewContact(kind=submission.contact_kind, **minimal, **settings)
            return self._contacts.create(principal, tenant, request, contact_id=contact_id)

    def _company(
        self, principal: Principal, tenant: Tenant, submission: FormSubmission, settings: dict[str, Any]
    ) -> str:
        """A person's company, by the name typed: the oldest company of that
        exact name (accents and case aside), else a new one with the form's
        access and managers."""
        name = submission.company_name or ""
        own_id = derived_id(submission.submission_id, "company")
        if self._lookup.get(submission.tenant_id, own_id) is not None:
            return own_id
        if any(len(w) >= 2 for w in words(name)) and len(name) <= 100:
            try:
                query = ContactQuery(q=name, kind=ContactKind.COMPANY)
            except ValueError:
                query = None
            if query is not None:
                found = self._lookup.query_contacts(
                    submission.tenant_id, query, PageRequest(limit=50), visible=lambda entry: True
                )
                same = sorted(
                    (
                        c
                        for c in found.items
                        if c.kind == ContactKind.COMPANY and fold(c.company_name or "") == fold(name)
                    ),
                    key=lambda c: c.id,
                )
                if same:
                    return same[0].id
        request = NewContact(kind=ContactKind.COMPANY, company_name=name, **settings)
        return self._contacts.create(principal, tenant, request, contact_id=own_id).id

    def _notify(self, submission: FormSubmission, contact: Contact, *, is_new: bool) -> None:
        tenant_id = submission.tenant_id
        listed = self._users(tenant_id, submission.notify_user_ids)
        if is_new:
            recipients = [u.id for u in listed]
            subject = f"New contact from the web form “{submission.form_name}”: {contact.display_name}"
        else:
            # The contact's own managers, and the listed users who may see it: no one learns of a
            # private contact through a notification.
            readable = [
                u.id
                for u in listed
                if access.allowed(
                    Principal(tenant_id=tenant_id, user_id=u.id, role=u.role), Operation.READ, contact.access_record()
                )
            ]
            recipients = [u.id for u in self._users(tenant_id, contact.managers)] + readable
            subject = f"{contact.display_name} sent the web form “{submission.form_name}” again"
        if recipients:
            self._notifier.notify(
                tenant_id,
                list(dict.fromkeys(recipients)),
                "web_form.submission",
                subject,
                f"/v1/contacts/{contact.id}",
                once_key=f"web-form:{submission.submission_id}",
                once_at=submission.received_at,
            )
