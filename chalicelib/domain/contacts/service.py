"""Use cases on contacts: create, read, change, delete, list and search.

Every read and write goes through the access policy; hidden contacts are 404.
Writes name the version they change. Each write is one transaction holding
the contact, its index entries, the change-log entry and the counters of the
settings it references.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.domain.contacts.details import ContactDetail, looks_like_phone, normalise_details, normalise_phone
from chalicelib.domain.contacts.models import (
    Contact,
    ContactChanges,
    ContactKind,
    ContactQuery,
    NewContact,
    check_kind_fields,
    clean_tags,
    entry_access,
    entry_matches,
)
from chalicelib.domain.identity.models import Tenant, UserStatus
from chalicelib.domain.records.parents import ParentRef, Parents
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import ContactShare, Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, FieldError, NotFound, ValidationFailed
from chalicelib.domain.shared.events import CompanyRenamed, RecordDeleted
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.shared.records import require_version
from chalicelib.domain.shared.text import fold

if TYPE_CHECKING:
    from chalicelib.domain.contacts.ports import ContactStore
    from chalicelib.domain.identity.ports import UserDirectory
    from chalicelib.domain.notifications.ports import Notify
    from chalicelib.domain.settings.ports import CustomValues
    from chalicelib.domain.shared.ports import Entry, EventPublisher

DEFAULT_REGION = "DE"


# Fields whose change needs CHANGE_ACCESS rather than WRITE.
ACCESS_FIELDS = ("managers", "access")


class Contacts:
    def __init__(
        self,
        store: ContactStore,
        users: UserDirectory,
        notifier: Notify,
        events: EventPublisher,
        parents: Parents,
        clock: Clock = utc_now,
        custom_fields: CustomValues | None = None,
    ):
        self._store = store
        self._users = users
        self._notifier = notifier
        self._events = events
        self._parents = parents
        self._clock = clock
        self._custom_fields = custom_fields

    # ---- reading ----

    def get(self, principal: Principal, contact_id: str, operation: Operation = Operation.READ) -> Contact:
        contact = self._store.get(principal.tenant_id, contact_id)
        if contact is None:
            raise NotFound("The contact does not exist.")
        access.require(principal, operation, contact.access_record(), what="contact")
        return contact

    def list(
        self, principal: Principal, query: ContactQuery, page: PageRequest, *, region: str = DEFAULT_REGION
    ) -> Slice[Contact]:
        phone = None
        if query.q and looks_like_phone(query.q):
            phone = normalise_phone(query.q, region) or "invalid"
        readable = access.readable(principal)

        def visible(entry: Entry) -> bool:
            return readable(entry_access(entry)) and entry_matches(entry, query)

        return self._store.query_contacts(principal.tenant_id, query, page, visible=visible, phone=phone)

    def persons(self, principal: Principal, company_id: str, page: PageRequest) -> Slice[Contact]:
        company = self.get(principal, company_id)
        if company.kind != ContactKind.COMPANY:
            raise NotFound("The company does not exist.")
        return self.list(principal, ContactQuery(company_id=company_id), page)

    def parent_ref(self, principal: Principal, contact_id: str) -> ParentRef | None:
        contact = self._store.get(principal.tenant_id, contact_id)
        if contact is None:
            return None
        return ParentRef("contact", contact.id, contact.display_name, contact.access_record())

    # ---- writing ----

    def create(
        self,
        principal: Principal,
        tenant: Tenant,
        request: NewContact,
        *,
        contact_id: str | None = None,
        extra: Sequence[Any] = (),
    ) -> Contact:
        """``contact_id``: a caller that retries the same creation (a web form
        submission, WEB-3; an import row, IMP-3) names the id, so a second attempt
        is a Conflict, never a second contact; ``extra``: storage operations that
        belong in the contact's transaction (an import's row marker)."""
        now = self._clock()
        fields = request.model_dump(exclude_unset=True, exclude={"kind"})
        contact = Contact(
            id=contact_id or new_id(),
            tenant_id=principal.tenant_id,
            kind=request.kind,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
            managers=[principal.user_id],
            access=ContactShare.PRIVATE,
        )
        contact = self._apply(principal, tenant, contact, fields)
        self._store.create(contact, by=principal.user_id, **({"extra": extra} if extra else {}))
        self._notify_new_managers(principal, None, contact)
        return contact

    def update(
        self,
        principal: Principal,
        tenant: Tenant,
        contact_id: str,
        changes: ContactChanges,
        *,
        expected_version: int,
        extra: Sequence[Any] = (),
    ) -> Contact:
        before = self.get(principal, contact_id, Operation.WRITE)
        require_version(before, expected_version, "contact")
        fields = changes.model_dump(exclude_unset=True)
        if any(f in fields for f in ACCESS_FIELDS):
            access.require(principal, Operation.CHANGE_ACCESS, before.access_record(), what="contact")
        try:
            check_kind_fields(before.kind, {**_kind_view(before), **fields}, partial=False)
        except ValueError as err:
            raise ValidationFailed(str(err), errors=[FieldError("body", str(err))]) from None
        after = self._apply(principal, tenant, before, fields)
        after = after.model_copy(update={"updated_at": self._clock(), "updated_by": principal.user_id})
        saved = self._store.update(before, after, by=principal.user_id, **({"extra": extra} if extra else {}))
        self._notify_new_managers(principal, before, saved)
        if saved.kind == ContactKind.COMPANY and saved.company_name != before.company_name:
            # A person shows (and is found by) its company's name; a company may have many.
            self._events.publish(CompanyRenamed(tenant_id=saved.tenant_id, company_id=saved.id))
        return saved

    def delete(self, principal: Principal, contact_id: str, *, expected_version: int | None) -> Contact:
        contact = self.get(principal, contact_id, Operation.DELETE)
        require_version(contact, expected_version, "contact")
        blockers = self._parents.delete_blockers(principal, "contact", contact.id)
        if blockers:
            raise Conflict("The contact cannot be deleted: " + "; ".join(blockers))
        self._store.delete(contact, by=principal.user_id, at=self._clock())
        # What hangs off it (history, photo, a company's persons, tasks, deal links)
        # goes in the background: a contact may have thousands of events.
        self._events.publish(RecordDeleted(tenant_id=principal.tenant_id, record_kind="contact", record_id=contact.id))
        return contact

    def set_photo(
        self,
        principal: Principal,
        contact_id: str,
        photo: dict[str, Any] | None,
        *,
        expected_version: int | None = None,
    ) -> Contact:
        """CON-7: record (None: clear) the photo's metadata; needs WRITE. The
        image itself is stored by domain/contacts/photo.py. Without
        ``expected_version`` the write is checked against the version read here."""
        before = self.get(principal, contact_id, Operation.WRITE)
        require_version(before, expected_version, "contact")
        after = before.model_copy(update={"photo": photo, "updated_at": self._clock(), "updated_by": principal.user_id})
        return self._store.update(before, after, by=principal.user_id)

    def unlink_company(self, tenant_id: str, company_id: str) -> int:
        """Cascade of a deleted company: its persons lose the link (CON-11)."""
        return self.move_persons(tenant_id, company_id, None)

    def move_persons(self, tenant_id: str, company_id: str, to_company_id: str | None) -> int:
        """A company's persons move to another company (a merge) or, with None,
        lose the link. Safe to rerun: it finds only the persons still linked."""
        target = self._store.get(tenant_id, to_company_id) if to_company_id else None
        return self._update_persons(
            tenant_id,
            company_id,
            {"company_id": target.id if target else None, "company_name": target.company_name if target else None},
        )

    def refresh_company_name(self, job: CompanyRenamed) -> int:
        """A renamed company's persons show its new name. Idempotent: only
        persons whose name differs change."""
        company = self._store.get(job.tenant_id, job.company_id)
        if company is None or company.kind != ContactKind.COMPANY:
            return 0  # deleted meanwhile: its delete cascade unlinks the persons
        return self._update_persons(job.tenant_id, company.id, {"company_name": company.company_name})

    def _update_persons(self, tenant_id: str, company_id: str, changes: dict[str, Any]) -> int:
        system = Principal(tenant_id=tenant_id, user_id="system", role=Role.ADMIN)
        unlinked, page = 0, PageRequest(limit=100)
        while True:
            found = self._store.query_contacts(
                tenant_id, ContactQuery(company_id=company_id), page, visible=lambda e: True
            )
            for listed in found.items:
                person = self._store.get(tenant_id, listed.id)  # read to be written: consistent
                if (
                    person is None
                    or person.company_id != company_id
                    or all(getattr(person, k) == v for k, v in changes.items())
                ):
                    continue
                after = person.model_copy(update={**changes, "updated_at": self._clock(), "updated_by": "system"})
                self._store.update(person, after, by=system.user_id)
                unlinked += 1
            if found.after is None:
                return unlinked
            page = PageRequest(limit=100, after=found.after)

    # ---- rules ----

    def _apply(self, principal: Principal, tenant: Tenant, contact: Contact, fields: dict[str, Any]) -> Contact:
        """The contact with ``fields`` applied, every value checked."""
        update: dict[str, Any] = {
            k: v for k, v in fields.items() if k not in ("details", "tags", "managers", "custom_fields")
        }
        if contact.kind == ContactKind.PERSON:
            # A person's company_name is its company's, copied below from company_id (CON-11);
            # a null sent for it must not clear the copy while the link stays.
            update.pop("company_name", None)
        if "details" in fields:
            details = [ContactDetail.model_validate(d) for d in (fields["details"] or [])]
            update["details"] = normalise_details(details, region(tenant))
        if "tags" in fields:
            update["tags"] = self._canonical_tags(principal, clean_tags(fields["tags"] or []))
        if "managers" in fields:
            update["managers"] = self._checked_managers(principal, fields["managers"])
        if fields.get("company_id") and fields["company_id"] != contact.company_id:
            update["company_name"] = self._company(principal, fields["company_id"], contact.id).company_name
        elif "company_id" in fields and not fields["company_id"]:
            update["company_name"] = None
        if "custom_fields" in fields:
            merged = {**contact.custom_fields, **(fields["custom_fields"] or {})}
            checked = (
                self._custom_fields.validate(principal, contact.kind.value, merged) if self._custom_fields else merged
            )
            update["custom_fields"] = {k: v for k, v in checked.items() if v is not None}
        return contact.model_copy(update=update)

    def _canonical_tags(self, principal: Principal, tags: builtins.list[str]) -> builtins.list[str]:
        """Existing tags keep their spelling; new ones are created on the fly."""
        if not tags:
            return []
        known = self._store.tag_names(principal.tenant_id)
        return [known.get(fold(t), t) for t in tags]

    def _checked_managers(self, principal: Principal, managers: builtins.list[str]) -> builtins.list[str]:
        wanted = list(dict.fromkeys(managers))
        found = {u.id: u for u in self._users.get_users(principal.tenant_id, wanted)} if wanted else {}
        bad = [m for m in wanted if m not in found or found[m].status == UserStatus.DEACTIVATED]
        if bad:
            raise ValidationFailed(
                "Managers must be active users of this tenant.",
                errors=[FieldError("managers", f"unknown or inactive user {m}") for m in bad],
            )
        return wanted

    def _company(self, principal: Principal, company_id: str, contact_id: str) -> Contact:
        """The company a person is linked to: it must exist and be visible."""
        company = self._store.get(principal.tenant_id, company_id)
        if (
            company is None
            or company.kind != ContactKind.COMPANY
            or company_id == contact_id
            or not access.allowed(principal, Operation.READ, company.access_record())
        ):
            raise ValidationFailed("The company does not exist.", errors=[FieldError("company_id", "no such company")])
        return company

    def _notify_new_managers(self, principal: Principal, before: Contact | None, after: Contact) -> None:
        new = [m for m in after.managers if m != principal.user_id and (before is None or m not in before.managers)]
        if new:
            self._notifier.notify(
                principal.tenant_id,
                new,
                "contact.manager",
                f"You are now a manager of {after.display_name}",
                f"/v1/contacts/{after.id}",
            )


def region(tenant: Tenant) -> str:
    """Where phone numbers without a country code are taken to be."""
    return tenant.phone_region or DEFAULT_REGION


def _kind_view(contact: Contact) -> dict[str, Any]:
    """The fields CON-1 checks; a person's company_name is its company's, copied, not its own."""
    names = (
        ("company_name",)
        if contact.kind == ContactKind.COMPANY
        else ("first_name", "last_name", "job_title", "company_id")
    )
    return {k: getattr(contact, k) for k in names}
