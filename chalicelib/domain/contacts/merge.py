"""Merging two contacts: ``from`` goes into ``into`` (the survivor).

Rules:
- Both exist for the caller and are of the same kind (422 otherwise, and for
  a contact merged into itself). The caller needs DELETE on ``from`` and
  WRITE on ``into``, plus CHANGE_ACCESS on ``into`` when its managers change.
  Hidden contacts are 404. ``If-Match`` (optional) names ``into``'s version.
- The survivor keeps everything it has and gains from ``from``: details it
  lacks (same type and value is the same detail; its primaries stay
  primary), tags, managers (active users only), custom values where its own
  are empty, and empty scalar fields (job title, description, type,
  temperature, company, currency). A person's company is taken only if the
  caller can see it. Limits still hold: a survivor with more than 10 tags
  or 5 managers is 422 and nothing changes.
- What hangs off ``from`` moves: a company's persons point to the survivor,
  its photo is copied when the survivor has none, and ``ContactsMerged`` is
  published; its subscribers (bootstrap/events.py: history and files, tasks,
  deals, cases) run inline, before ``from`` is deleted through the Contacts
  service, so its delete cascades find nothing left to delete. One history
  event on the survivor records the merge.

Order, and why nothing is lost when a merge is sent again after a failure:
the checks come first (access, kinds, limits, what blocks deleting
``from``), then the survivor's update, the copies and moves, and the
deletion last. Every step is idempotent (a union with itself changes
nothing, a copied photo is not copied again, moves take only what is left),
so a rerun completes a merge that stopped half-way; ``from``'s history is
moved before ``from`` is deleted, so its cascade never sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict, Field, ValidationError

from chalicelib.domain.contacts.models import Contact, ContactChanges, ContactKind
from chalicelib.domain.contacts.photo import ContactPhotos
from chalicelib.domain.contacts.service import Contacts
from chalicelib.domain.identity.models import Tenant, UserStatus
from chalicelib.domain.records.parents import Parents
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.events import ContactsMerged
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.text import fold

if TYPE_CHECKING:
    from chalicelib.domain.contacts.ports import SystemEvents
    from chalicelib.domain.identity.ports import UserDirectory
    from chalicelib.domain.shared.ports import EventPublisher

# Scalar fields the survivor takes from ``from`` when its own are empty.
FILLED_FIELDS = ("job_title", "description", "type_id", "temperature_id", "company_id", "currency")


ContactId = Annotated[str, Field(min_length=1, max_length=40)]


class MergeRequest(Model):
    model_config = ConfigDict(extra="forbid")

    from_id: ContactId = Field(description="The contact that is merged and then deleted")
    into_id: ContactId = Field(description="The contact that survives")


class ContactMerge:
    def __init__(
        self,
        contacts: Contacts,
        photos: ContactPhotos,
        identity: UserDirectory,
        parents: Parents,
        events: EventPublisher,
        history: SystemEvents,
    ):
        self._contacts = contacts
        self._photos = photos
        self._identity = identity  # users (storage/identity.py)
        self._parents = parents
        self._events = events
        self._history = history

    def merge(
        self, principal: Principal, tenant: Tenant, request: MergeRequest, *, expected_version: int | None = None
    ) -> Contact:
        if request.from_id == request.into_id:
            raise ValidationFailed(
                "A contact cannot be merged into itself.", errors=[FieldError("into_id", "must differ from from_id")]
            )
        source = self._contacts.get(principal, request.from_id, Operation.DELETE)
        target = self._contacts.get(principal, request.into_id, Operation.WRITE)
        if source.kind != target.kind:
            raise ValidationFailed(
                f"A {source.kind.value} cannot be merged into a {target.kind.value}.",
                errors=[FieldError("into_id", f"must be a {source.kind.value}")],
            )
        if expected_version is not None and target.version != expected_version:
            raise PreconditionFailed(
                f"The contact is at version {target.version}, not {expected_version}; reload it and merge again."
            )
        fields = self._merged_fields(principal, source, target)
        if "managers" in fields:
            self._contacts.get(principal, target.id, Operation.CHANGE_ACCESS)
        changes = _checked_changes(fields)
        blockers = self._parents.delete_blockers(principal, "contact", source.id)
        if blockers:
            raise Conflict(f"{source.display_name} cannot be merged (it cannot be deleted): " + "; ".join(blockers))

        survivor = target
        if fields:
            survivor = self._concurrently(
                lambda: self._contacts.update(principal, tenant, target.id, changes, expected_version=target.version),
                expected_version,
            )
        survivor = self._photos.copy(principal, source, survivor)
        if source.kind == ContactKind.COMPANY:
            self._contacts.move_persons(principal.tenant_id, source.id, survivor.id)
        self._events.publish(ContactsMerged(tenant_id=principal.tenant_id, from_id=source.id, into_id=survivor.id))
        self._concurrently(lambda: self._contacts.delete(principal, source.id, expected_version=source.version), None)
        self._history.add_system_event(
            principal, "contact", survivor.id, f"Merged {source.display_name} ({source.id}) into this contact."
        )
        return self._contacts.get(principal, survivor.id)

    def _merged_fields(self, principal: Principal, source: Contact, target: Contact) -> dict[str, Any]:
        """The ContactChanges fields that bring ``source``'s data into ``target``."""
        fields: dict[str, Any] = {}
        have = {_detail_key(d) for d in target.details}
        details = [{**d, "primary": False} for d in source.details if _detail_key(d) not in have]
        if details:
            fields["details"] = [*target.details, *_unique(details)]
        tags = {fold(t) for t in target.tags}
        new_tags = [t for t in source.tags if fold(t) not in tags]
        if new_tags:
            fields["tags"] = [*target.tags, *new_tags]
        new_managers = [m for m in source.managers if m not in target.managers]
        if new_managers:
            active = {
                u.id
                for u in self._identity.get_users(principal.tenant_id, new_managers)
                if u.status != UserStatus.DEACTIVATED
            }
            new_managers = [m for m in new_managers if m in active]
            if new_managers:
                fields["managers"] = [*target.managers, *new_managers]
        filled = {
            k: v for k, v in source.custom_fields.items() if not _empty(v) and _empty(target.custom_fields.get(k))
        }
        if filled:
            fields["custom_fields"] = filled
        for name in FILLED_FIELDS:
            value = getattr(source, name)
            if _empty(getattr(target, name)) and not _empty(value):
                if name == "company_id" and not self._visible(principal, value):
                    continue
                fields[name] = value
        return fields

    def _visible(self, principal: Principal, contact_id: str) -> bool:
        try:
            self._contacts.get(principal, contact_id)
        except NotFound:
            return False
        return True

    @staticmethod
    def _concurrently(write: Callable[[], Contact], expected_version: int | None) -> Contact:
        """A version-checked write of the merge; someone else's change in
        between is 409 (send the merge again) unless the client named the
        version itself (412)."""
        try:
            return write()
        except PreconditionFailed:
            if expected_version is not None:
                raise
            raise Conflict("One of the contacts changed while they were merged; send the merge again.") from None


def _checked_changes(fields: dict[str, Any]) -> ContactChanges:
    try:
        return ContactChanges.model_validate(fields)
    except ValidationError as err:
        problems = []
        for item in err.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in item.get("loc", ())) or "body"
            problems.append(FieldError(where, item.get("msg", "invalid")))
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise ValidationFailed(
            f"The merged contact would break a limit ({summary}); change one of the contacts first.", errors=problems
        ) from None


def _detail_key(detail: dict[str, Any]) -> tuple[str, str]:
    value = detail.get("value")
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
    return str(detail.get("type")), " ".join(text.casefold().split())


def _unique(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for detail in details:
        if _detail_key(detail) not in seen:
            seen.add(_detail_key(detail))
            kept.append(detail)
    return kept


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}
