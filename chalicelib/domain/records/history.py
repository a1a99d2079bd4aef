"""History of a contact, deal or case (HIS-1, HIS-2, CAS-3).

Events are notes, calls, e-mails and system events, each with an optional
category (SET-9), an author, the time it happened, a text and attached files.
They hang off a parent found through ``Parents.resolve`` only, so the same
code serves contacts, deals and cases.

Rules:
- Reading a parent's history and adding to it needs read access to the
  parent (``access.may_create_history``); a hidden parent is 404.
- Changing or deleting an event: its author or an admin
  (``access.require`` with ``HistoryAccess``); an event whose parent the
  caller cannot read is 404 for them, whoever wrote it.
- System events (``kind=system``) are written by other services inside
  their own transactions (``system_event`` here, ``storage.history.event_op``
  to write it) and cannot be edited through the API (409); they can be
  deleted like any other event.
- Attached files must be uploaded files of the same parent (422 otherwise).
- Categories are checked against the settings lists (SET-9; the ``categories``
  collaborator); their use counters move with the events in the same
  transactions (storage/records/history.category_usage_ops).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.records.files import Files, ParentLink, RecordId, valid_id
from chalicelib.domain.records.parents import Parents
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import HistoryAccess, Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import Record

if TYPE_CHECKING:
    from chalicelib.domain.records.ports import HistoryStore

MAX_TEXT = 20_000
MAX_FILES = 20
_OFFSET_AS_SPACE = re.compile(r" (\d\d:?\d\d)$")


class HistoryKind(StrEnum):
    NOTE = "note"
    CALL = "call"
    EMAIL = "email"
    SYSTEM = "system"


# What people write through the API; "system" is for services.
UserKind = Literal["note", "call", "email"]


class HistoryEvent(Record):
    tenant_id: str
    parent: ParentLink
    kind: HistoryKind
    category_id: str | None = None
    text: str
    happened_at: datetime
    author_id: str
    file_ids: list[str] = Field(default_factory=list)

    def access_record(self, parent_readable: bool) -> HistoryAccess:
        return HistoryAccess(author_id=self.author_id, parent_readable=parent_readable)


class NewHistoryEvent(Model):
    model_config = ConfigDict(extra="forbid")

    kind: UserKind = "note"
    category_id: RecordId | None = Field(default=None, description="A history category (SET-9).")
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    happened_at: AwareDatetime | None = Field(default=None, description="ISO 8601 with offset; default now.")
    file_ids: list[RecordId] = Field(
        default_factory=list, max_length=MAX_FILES, description="Uploaded files of the same record (POST /v1/files)."
    )


class HistoryChanges(Model):
    """Only the fields sent change; ``category_id: null`` removes the category."""

    model_config = ConfigDict(extra="forbid")

    kind: UserKind | None = None
    category_id: RecordId | None = None
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    happened_at: AwareDatetime | None = None
    file_ids: list[RecordId] | None = Field(default=None, max_length=MAX_FILES, description="The full new list.")


class HistoryFilter(Model):
    """Filters of a history list; ``from``/``to`` bound ``happened_at`` (inclusive)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    category_id: str | None = Field(default=None, max_length=64)
    author_id: str | None = Field(default=None, max_length=64)
    kind: HistoryKind | None = None
    happened_from: AwareDatetime | None = Field(
        default=None, alias="from", description="ISO 8601 with offset, e.g. 2026-03-01T00:00:00Z."
    )
    happened_to: AwareDatetime | None = Field(default=None, alias="to")

    @field_validator("happened_from", "happened_to", mode="before")
    @classmethod
    def _plus_sign(cls, value: Any) -> Any:
        # An unencoded "+01:00" in a query string arrives as " 01:00".
        return _OFFSET_AS_SPACE.sub(r"+\1", value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ordered(self) -> "HistoryFilter":
        if self.happened_from and self.happened_to and self.happened_from > self.happened_to:
            raise ValueError("from must not be after to")
        return self

    def equals(self) -> dict[str, str]:
        found = {
            "category_id": self.category_id,
            "author_id": self.author_id,
            "kind": self.kind.value if self.kind else None,
        }
        return {name: value for name, value in found.items() if value is not None}

    def cursor_scope(self) -> dict[str, Any]:
        return {**self.equals(), "from": self.happened_from, "to": self.happened_to}


# (principal, category_id) -> whether the caller's tenant has that (active)
# history category (SET-9: the settings lists answer it).
CategoryCheck = Callable[[Principal, str], bool]


def _to_millis(moment: datetime) -> datetime:
    """UTC, whole milliseconds: what the sort key holds."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def system_event(
    principal: Principal,
    parent_kind: str,
    parent_id: str,
    text: str,
    *,
    kind: HistoryKind = HistoryKind.SYSTEM,
    category_id: str | None = None,
    happened_at: datetime | None = None,
    at: datetime | None = None,
) -> HistoryEvent:
    """An event another service adds about its own record (a stage change, a
    merge, a VoIP call, an invoice mail). No access check: the calling
    service has checked its own write. Write it with
    ``storage.history.event_op`` (``event_ops`` when it has a category)
    inside that service's transaction."""
    now = at or utc_now()
    return HistoryEvent(
        id=new_id(),
        tenant_id=principal.tenant_id,
        parent=ParentLink.of(parent_kind, parent_id),
        kind=kind,
        category_id=category_id,
        text=text[:MAX_TEXT] or "-",
        happened_at=_to_millis(happened_at or now),
        author_id=principal.user_id,
        created_at=now,
        created_by=principal.user_id,
        updated_at=now,
        updated_by=principal.user_id,
    )


class History:
    def __init__(
        self, store: HistoryStore, files: Files, parents: Parents, categories: CategoryCheck, clock: Clock = utc_now
    ):
        self._store = store
        self._files = files
        self._parents = parents
        self._categories = categories
        self._clock = clock

    def add_system_event(self, principal: Principal, kind: str, record_id: str, text: str) -> HistoryEvent:
        """An event a service records about its own record (a merge): no access check."""
        event = system_event(principal, kind, record_id, text, at=self._clock())
        self._store.add_event(event)
        return event

    def _check_category(self, principal: Principal, category_id: str | None) -> None:
        if category_id is not None and not self._categories(principal, category_id):
            raise ValidationFailed(
                "Unknown history category.",
                errors=[FieldError("category_id", "is not a history category of this tenant")],
            )

    # ---- a parent's history ----

    def list(
        self, principal: Principal, kind: str, parent_id: str, where: HistoryFilter, page: PageRequest
    ) -> Slice[HistoryEvent]:
        """Newest first."""
        parent = self._parent(principal, kind, parent_id)
        return self._store.list_events(
            principal.tenant_id,
            parent,
            page,
            happened_from=where.happened_from,
            happened_to=where.happened_to,
            equals=where.equals(),
        )

    def create(self, principal: Principal, kind: str, parent_id: str, request: NewHistoryEvent) -> HistoryEvent:
        parent = self._parent(principal, kind, parent_id)
        if not access.may_create_history(principal, parent_readable=True):
            raise Forbidden(f"You may not add history to this {parent.kind}.")
        self._check_category(principal, request.category_id)
        file_ids = self._files.attachable(principal, parent, request.file_ids)
        now = self._clock()
        event = HistoryEvent(
            id=new_id(),
            tenant_id=principal.tenant_id,
            parent=parent,
            kind=HistoryKind(request.kind),
            category_id=request.category_id,
            text=request.text,
            happened_at=_to_millis(request.happened_at or now),
            author_id=principal.user_id,
            file_ids=file_ids,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        self._store.add_event(event)
        return event

    # ---- one event ----

    def get(self, principal: Principal, event_id: str) -> HistoryEvent:
        return self._authorised(principal, event_id, Operation.READ)

    def update(
        self, principal: Principal, event_id: str, changes: HistoryChanges, *, expected_version: int
    ) -> HistoryEvent:
        before = self._authorised(principal, event_id, Operation.WRITE)
        if before.kind == HistoryKind.SYSTEM:
            raise Conflict("System events cannot be changed.")
        sent = changes.model_dump(exclude_unset=True)
        for name in ("kind", "text", "happened_at", "file_ids"):
            if name in sent and sent[name] is None:
                raise ValidationFailed("The request has invalid fields.", errors=[FieldError(name, "must not be null")])
        if "category_id" in sent and sent["category_id"] != before.category_id:
            self._check_category(principal, sent["category_id"])
        if "file_ids" in sent:
            sent["file_ids"] = self._files.attachable(principal, before.parent, sent["file_ids"])
        if "happened_at" in sent:
            sent["happened_at"] = _to_millis(sent["happened_at"])
        if "kind" in sent:
            sent["kind"] = HistoryKind(sent["kind"])
        after = before.model_copy(update={**sent, "updated_at": self._clock(), "updated_by": principal.user_id})
        return self._store.replace_event(before, after, expected_version=expected_version)

    def delete(self, principal: Principal, event_id: str, *, expected_version: int | None = None) -> None:
        event = self._authorised(principal, event_id, Operation.DELETE)
        self._store.delete_event(event, expected_version=expected_version)

    # ---- helpers ----

    def _parent(self, principal: Principal, kind: str, parent_id: str) -> ParentLink:
        found = self._parents.resolve(principal, kind, parent_id)
        return ParentLink.of(found.kind, found.id)

    def _authorised(self, principal: Principal, event_id: str, operation: Operation) -> HistoryEvent:
        missing = NotFound("The history event does not exist.")
        event = self._store.find_event(principal.tenant_id, event_id) if valid_id(event_id) else None
        if event is None:
            raise missing
        try:
            self._parents.resolve(principal, event.parent.kind, event.parent.id)
            parent_readable = True
        except NotFound:
            parent_readable = False
        access.require(principal, operation, event.access_record(parent_readable), what="history event")
        if not parent_readable:
            # An admin may do anything, but an event of a deleted record is
            # only waiting for its cascade.
            raise missing
        return event
