"""Tags (CON-6, SET-12): the tenant's tag names per entity, with how many
records carry each, renamed and deleted by admins.

A tag lives twice: on the records (a contact's ``tags``, in the spelling the
tenant first used) and in the entity's tag registry (folded name -> display
name), which a record's write fills on the fly when it first uses a tag. Names
match case- and accent-insensitively (``fold``): "lead", "Lead" and "LEAD" are
one tag.

- Listing: every CRM user sees every tag name of the entity (they pick tags
  from it, CON-6); the count is of the records the caller may read, so a user
  never learns how many private records carry a tag.
- Renaming (admins): every record holding the tag is rewritten through its
  own service's update path (access checks, index entries, change log, one
  transaction per record), then the registry entry moves. Renaming onto
  another existing tag merges the two: records keep one of them, in the
  existing tag's spelling. A case- or accent-only rename respells the tag.
- Deleting (admins): the tag leaves every record, then the registry.

Up to ``MAX_SYNC_RECORDS`` records both run in the request and answer when
done. A larger tag runs as a background job (domain/background_jobs.py, kind
``tags.rename`` / ``tags.delete``, ``GET /v1/jobs/{id}``): one ``tags.change``
message per ``CHUNK_SIZE`` records, acting with the rights its creator has
when it runs (an admin no longer: every item fails 403). Retagging a record
twice changes nothing the second time, so redelivered chunks are harmless.
The old registry entry goes last, and only once no record holds the tag any
more: a failed record (or one tagged meanwhile) keeps the tag listed, and
running the rename or delete again finishes the rest.

Entities plug in through ``TaggedRecords``: contacts, deals and cases
(the container wires the three: bootstrap/container.py).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.contacts.models import ContactChanges, ContactQuery, entry_access
from chalicelib.domain.contacts.service import Contacts
from chalicelib.domain.identity.models import Tenant, UserStatus
from chalicelib.domain.identity.module_access import ensure_module_access
from chalicelib.domain.jobs.service import CHUNK_SIZE, BackgroundJob, BackgroundJobs, Failure, JobStatus
from chalicelib.domain.records.limits import MAX_SYNC_RECORDS
from chalicelib.domain.records.listed_access import entry_access as list_entry_access
from chalicelib.domain.shared import access
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.shared.text import fold

if TYPE_CHECKING:
    from chalicelib.domain.identity.ports import TenantMembers
    from chalicelib.domain.records.ports import TaggedRecord, TagRegistry
    from chalicelib.domain.shared.ports import JobQueue

RENAME_JOB, DELETE_JOB = "tags.rename", "tags.delete"
# A record changed by someone else meanwhile is re-read and retried this often.
RETRIES = 3


class TagEntity(StrEnum):
    """Entities that carry tags."""

    CONTACT = "contact"
    DEAL = "deal"
    CASE = "case"


class TagQuery(Model):
    """GET /v1/tags."""

    model_config = ConfigDict(extra="forbid")

    entity: TagEntity = Field(default=TagEntity.CONTACT, description="Whose tags: contact, deal or case")


class TagRename(Model):
    """PATCH /v1/tags/{entity}/{name}."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=50)] = Field(
        description="The new name; an existing other tag's name merges the two"
    )

    @field_validator("name")
    @classmethod
    def _trim(cls, value: str) -> str:
        name = " ".join(value.split())
        if not name:
            raise ValueError("must not be blank")
        return name


class TagChangeChunk(Model):
    """Job message: rename (``new_name``) or remove (None) a tag on these records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["tags.change"] = "tags.change"
    tenant_id: str
    job_id: str
    chunk: int = Field(ge=0)
    user_id: str
    entity: str
    tag: str = Field(description="the folded name")
    new_name: str | None
    drop_tag: bool = Field(description="remove the registry entry once no record holds the tag")
    ids: list[str] = Field(min_length=1, max_length=CHUNK_SIZE)


@dataclass(frozen=True)
class TagCount:
    name: str
    entity: str
    count: int


class TaggedRecords(Protocol):
    """What the tag service needs from an entity whose records carry tags."""

    def names(self, tenant_id: str) -> dict[str, str]:
        """The registry: folded name -> display name."""

    def count(self, principal: Principal, folded: str) -> int:
        """Records with the tag that the caller may read."""

    def holders(
        self, principal: Principal, folded: str, limit: int, after: dict[str, Any] | None = None
    ) -> Slice[TaggedRecord]:
        """Up to ``limit`` records with the tag; ``after`` is set when there are more."""

    def retag(
        self, principal: Principal, tenant: Tenant, record: TaggedRecord, folded: str, new_name: str | None
    ) -> None:
        """Rewrite one record: the tag becomes ``new_name`` (None: removed)."""

    def retag_id(self, principal: Principal, tenant: Tenant, record_id: str, folded: str, new_name: str | None) -> None:
        """``retag`` by id; a record that is gone is left alone."""

    def save_name(self, tenant_id: str, name: str) -> None:
        """Put or respell a registry entry."""

    def drop_name(self, tenant_id: str, folded: str) -> None:
        """Remove a registry entry."""


def renamed_tags(tags: list[str], folded: str, new_name: str | None) -> list[str]:
    """``tags`` with the tag ``folded`` renamed (or removed), in order, each tag once."""
    result: dict[str, str] = {}
    for tag in tags:
        name = new_name if fold(tag) == folded else tag
        if name is not None and fold(name) not in result:
            result[fold(name)] = name
    return list(result.values())


class Tags:
    def __init__(
        self,
        records: Mapping[str, TaggedRecords],
        jobs: BackgroundJobs | None = None,
        identity: TenantMembers | None = None,
        queue: JobQueue | None = None,
    ):
        self._records = dict(records)
        self._jobs = jobs
        self._identity = identity  # tenants and users (storage/identity.py), for jobs
        self._queue = queue

    def list(self, principal: Principal, entity: str, page: PageRequest) -> Slice[TagCount]:
        """One page of the entity's tags, by name, each with the caller's count."""
        records = self._of(entity)
        ordered = sorted(records.names(principal.tenant_id).items())
        after = (page.after or {}).get("tag")
        if isinstance(after, str):
            ordered = [(key, name) for key, name in ordered if key > after]
        chosen = ordered[: page.limit]
        items = [TagCount(name, entity, records.count(principal, key)) for key, name in chosen]
        return Slice(items, {"tag": chosen[-1][0]} if len(ordered) > page.limit else None)

    def rename(
        self, principal: Principal, tenant: Tenant, entity: str, name: str, new_name: str
    ) -> TagCount | BackgroundJob:
        """The renamed tag, or the job renaming it on a large number of records."""
        records, names, old = self._existing(principal, entity, name)
        new = fold(new_name)
        merging = new in names and new != old
        target = names[new] if merging else new_name
        holders = records.holders(principal, old, MAX_SYNC_RECORDS)
        if not merging:
            # First, so that records written below take this spelling.
            records.save_name(principal.tenant_id, target)
        if holders.after is not None:
            return self._start_job(principal, entity, records, old, target, drop_tag=new != old)
        self._retag_all(records, principal, tenant, holders.items, old, target)
        if new != old:
            records.drop_name(principal.tenant_id, old)
        return TagCount(target, entity, records.count(principal, new))

    def delete(self, principal: Principal, tenant: Tenant, entity: str, name: str) -> BackgroundJob | None:
        """None when done, or the job removing the tag from a large number of records."""
        records, _, old = self._existing(principal, entity, name)
        holders = records.holders(principal, old, MAX_SYNC_RECORDS)
        if holders.after is not None:
            return self._start_job(principal, entity, records, old, None, drop_tag=True)
        self._retag_all(records, principal, tenant, holders.items, old, None)
        records.drop_name(principal.tenant_id, old)
        return None

    def run_chunk(self, message: TagChangeChunk) -> None:
        """Job handler: one chunk, safe to run again."""
        if self._jobs is None:
            raise RuntimeError("tag jobs need the background job service")
        records = self._of(message.entity)
        principal, tenant, refusal = self._job_principal(message.tenant_id, message.user_id)

        def work(record_id: str) -> Failure | None:
            if refusal is not None or principal is None or tenant is None:
                return _failure(record_id, 403, "forbidden", refusal or "")
            try:
                records.retag_id(principal, tenant, record_id, message.tag, message.new_name)
            except (PreconditionFailed, Conflict) as err:
                return _failure(record_id, 409, "conflict", err.detail)
            except ValidationFailed as err:
                return _failure(record_id, 422, "invalid", err.detail)
            except Forbidden as err:
                return _failure(record_id, 403, "forbidden", err.detail)
            return None

        self._jobs.run_chunk(message.tenant_id, message.job_id, message.chunk, message.ids, work, resumable=False)
        creator = Principal(tenant_id=message.tenant_id, user_id=message.user_id, role=Role.USER)
        try:
            job, _ = self._jobs.get(creator, message.job_id)
        except NotFound:  # expired: nothing to finish
            return
        if (
            job.status == JobStatus.DONE
            and message.drop_tag
            and principal is not None
            and not records.holders(principal, message.tag, 1).items
        ):
            records.drop_name(message.tenant_id, message.tag)

    # ---- rules ----

    @staticmethod
    def _retag_all(
        records: TaggedRecords,
        principal: Principal,
        tenant: Tenant,
        holders: builtins.list[TaggedRecord],
        folded: str,
        new_name: str | None,
    ) -> None:
        for record in holders:
            try:
                records.retag(principal, tenant, record, folded, new_name)
            except PreconditionFailed:
                # The caller named no version: a record changing under us is a conflict, not a stale If-Match.
                raise Conflict(
                    "A record holding the tag kept changing meanwhile; send the request again to finish the rest."
                ) from None

    def _of(self, entity: str) -> TaggedRecords:
        if entity not in self._records:
            raise NotFound(f"There are no tags for {entity!r}.")
        return self._records[entity]

    def _existing(self, principal: Principal, entity: str, name: str) -> tuple[TaggedRecords, dict[str, str], str]:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins rename or delete tags.")
        records = self._of(entity)
        names = records.names(principal.tenant_id)
        folded = fold(name)
        if folded not in names:
            raise NotFound("The tag does not exist.")
        return records, names, folded

    def _start_job(
        self,
        principal: Principal,
        entity: str,
        records: TaggedRecords,
        folded: str,
        new_name: str | None,
        *,
        drop_tag: bool,
    ) -> BackgroundJob:
        if self._jobs is None or self._queue is None:
            raise Conflict(
                f"The tag is on more than {MAX_SYNC_RECORDS} records; renaming or deleting it "
                "at once is not possible here."
            )
        ids = self._holder_ids(records, principal, folded)
        job = self._jobs.start(
            principal, RENAME_JOB if new_name is not None else DELETE_JOB, len(ids), chunk_size=CHUNK_SIZE
        )
        self._queue.send_many(
            TagChangeChunk(
                tenant_id=principal.tenant_id,
                job_id=job.id,
                chunk=n,
                user_id=principal.user_id,
                entity=entity,
                tag=folded,
                new_name=new_name,
                drop_tag=drop_tag,
                ids=ids[start : start + CHUNK_SIZE],
            ).model_dump(mode="json")
            for n, start in enumerate(range(0, len(ids), CHUNK_SIZE))
        )
        return job

    @staticmethod
    def _holder_ids(records: TaggedRecords, principal: Principal, folded: str) -> builtins.list[str]:
        ids: builtins.list[str] = []
        after = None
        while True:
            found = records.holders(principal, folded, MAX_SYNC_RECORDS, after)
            ids += [record.id for record in found.items]
            if found.after is None:
                return list(dict.fromkeys(ids))
            after = found.after

    def _job_principal(self, tenant_id: str, user_id: str) -> tuple[Principal | None, Tenant | None, str | None]:
        """The job's creator as they are now, or why they may not go on."""
        if self._identity is None:
            raise RuntimeError("tag jobs need the identity lookup")
        tenant = self._identity.get_tenant(tenant_id)
        user = self._identity.get_user(tenant_id, user_id)
        if tenant is None or user is None or user.status != UserStatus.ACTIVE:
            return None, None, "The user who started this job is no longer active."
        principal = Principal(tenant_id=tenant_id, user_id=user.id, role=user.role, group_ids=frozenset(user.group_ids))
        if not principal.is_admin:
            return None, None, "The user who started this job is no longer an owner or admin."
        try:
            ensure_module_access(principal, tenant)
        except Forbidden as err:
            return None, None, err.detail
        return principal, tenant, None


def _failure(record_id: str, status: int, reason: str, detail: str) -> Failure:
    return {"id": record_id, "status": status, "reason": reason, "detail": detail}


class ContactTags:
    """Contacts as tagged records: reads through the store's tag registry and
    index, writes through the Contacts service's update path."""

    entity = TagEntity.CONTACT.value

    def __init__(self, contacts: Contacts, store: TagRegistry):
        self._contacts = contacts
        self._store = store

    def names(self, tenant_id: str) -> dict[str, str]:
        return self._store.tag_names(tenant_id)

    def count(self, principal: Principal, folded: str) -> int:
        readable = access.readable(principal)
        return self._store.count_tagged(principal.tenant_id, folded, lambda entry: readable(entry_access(entry)))

    def holders(
        self, principal: Principal, folded: str, limit: int, after: dict[str, Any] | None = None
    ) -> Slice[TaggedRecord]:
        # The folded name is the filter: it is what the index is keyed by
        # (model_construct: a folded name may be longer than a typed one).
        query = ContactQuery.model_construct(tag=folded)
        found = self._contacts.list(principal, query, PageRequest(limit=limit, after=after))
        # An annotation, not list[TaggedRecord](...): the port is imported for type checking only.
        items: list[TaggedRecord] = list(found.items)
        return Slice(items, found.after)

    def retag_id(self, principal: Principal, tenant: Tenant, record_id: str, folded: str, new_name: str | None) -> None:
        try:
            contact = self._contacts.get(principal, record_id)
        except NotFound:
            return
        self.retag(principal, tenant, contact, folded, new_name)

    def retag(
        self, principal: Principal, tenant: Tenant, record: TaggedRecord, folded: str, new_name: str | None
    ) -> None:
        contact = record
        for attempt in range(RETRIES):
            tags = renamed_tags(contact.tags, folded, new_name)
            if tags == contact.tags:
                return
            try:
                self._contacts.update(
                    principal, tenant, contact.id, ContactChanges(tags=tags), expected_version=contact.version
                )
                return
            except PreconditionFailed:
                if attempt == RETRIES - 1:
                    raise
            try:
                contact = self._contacts.get(principal, contact.id)
            except NotFound:  # deleted meanwhile: nothing left to rename
                return

    def save_name(self, tenant_id: str, name: str) -> None:
        self._store.save_tag(tenant_id, name)

    def drop_name(self, tenant_id: str, folded: str) -> None:
        self._store.delete_tag(tenant_id, folded)


# A deal or a case, its list filter and its PATCH model (RestrictedRecordTags).
Rec = TypeVar("Rec", bound="TaggedRecord")
QueryModel = TypeVar("QueryModel", bound=BaseModel)
ChangesModel = TypeVar("ChangesModel", bound=BaseModel)
_Query_contra = TypeVar("_Query_contra", bound=BaseModel, contravariant=True)
_Changes_contra = TypeVar("_Changes_contra", bound=BaseModel, contravariant=True)


class TaggableService(Protocol[Rec, _Query_contra, _Changes_contra]):
    """What renaming a tag needs of the service of deals or cases."""

    def list(self, principal: Principal, query: _Query_contra, page: PageRequest) -> Slice[Rec]: ...

    def get(self, principal: Principal, record_id: str) -> Rec: ...

    def update(
        self, principal: Principal, record_id: str, changes: _Changes_contra, *, expected_version: int
    ) -> Rec: ...


class RestrictedRecordTags(Generic[Rec, QueryModel, ChangesModel]):
    """Deals or cases as tagged records (their access lists decide the counts):
    reads through their store's tag registry and index, writes through their
    service's update path. ``query_model`` / ``changes_model`` are the
    entity's list filter and PATCH models."""

    def __init__(
        self,
        entity: str,
        service: TaggableService[Rec, QueryModel, ChangesModel],
        store: TagRegistry,
        query_model: type[QueryModel],
        changes_model: type[ChangesModel],
    ):
        self.entity = entity
        self._service = service
        self._store = store
        self._query = query_model
        self._changes = changes_model

    def names(self, tenant_id: str) -> dict[str, str]:
        return self._store.tag_names(tenant_id)

    def count(self, principal: Principal, folded: str) -> int:
        readable = access.readable(principal)
        return self._store.count_tagged(principal.tenant_id, folded, lambda entry: readable(list_entry_access(entry)))

    def holders(
        self, principal: Principal, folded: str, limit: int, after: dict[str, Any] | None = None
    ) -> Slice[TaggedRecord]:
        found = self._service.list(
            principal, self._query.model_construct(tag=folded), PageRequest(limit=limit, after=after)
        )
        items: list[TaggedRecord] = list(found.items)  # an annotation: the port exists for type checking only
        return Slice(items, found.after)

    def retag_id(self, principal: Principal, tenant: Tenant, record_id: str, folded: str, new_name: str | None) -> None:
        try:
            record: TaggedRecord = self._service.get(principal, record_id)
        except NotFound:
            return
        self.retag(principal, tenant, record, folded, new_name)

    def retag(
        self, principal: Principal, tenant: Tenant, record: TaggedRecord, folded: str, new_name: str | None
    ) -> None:
        for attempt in range(RETRIES):
            tags = renamed_tags(record.tags, folded, new_name)
            if tags == record.tags:
                return
            try:
                self._service.update(principal, record.id, self._changes(tags=tags), expected_version=record.version)
                return
            except PreconditionFailed:
                if attempt == RETRIES - 1:
                    raise
            try:
                record = self._service.get(principal, record.id)
            except NotFound:
                return

    def save_name(self, tenant_id: str, name: str) -> None:
        self._store.save_tag(tenant_id, name)

    def drop_name(self, tenant_id: str, folded: str) -> None:
        self._store.delete_tag(tenant_id, folded)
