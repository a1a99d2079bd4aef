"""Group operations on a selection of contacts (CON-13): add or remove tags,
set managers, set the share mode, delete.

Rules:
- 1..5000 ids, duplicates ignored; the fields an action needs are required
  and the others refused (422).
- Each contact is checked by the access policy through the Contacts service,
  as if changed alone: tags need WRITE, managers and share mode
  CHANGE_ACCESS, delete DELETE. A contact the caller may not see (or that
  does not exist) is reported ``404 not_found``, never 403, so a selection
  does not reveal private contacts.
- Each contact changes in its own transaction, through the Contacts service
  (so index entries, tag registry, change log and notifications are exactly
  those of a single edit), conditional on the version just read; after a
  concurrent change it is read and tried once more, then reported 409.
  A contact that already is as asked is not written (and counts as done).
- Up to ``SYNC_LIMIT`` ids the answer carries every outcome. Beyond, the work
  is a background job (domain/jobs/service.py) of ``contacts.bulk``
  messages with at most 100 ids each; the answer names the job. The job acts
  with the rights its creator has when it runs (a deactivated creator's job
  fails its remaining items with 403).
- Managers to set are checked once, up front (active users of the tenant):
  a wrong id is one 422 for the request, not one failure per contact.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from chalicelib.domain.contacts.limits import SYNC_LIMIT
from chalicelib.domain.contacts.models import MAX_MANAGERS, MAX_TAGS, Contact, ContactChanges, TagName, clean_tags
from chalicelib.domain.contacts.service import Contacts
from chalicelib.domain.identity.models import Tenant, UserStatus
from chalicelib.domain.identity.module_access import ensure_module_access
from chalicelib.domain.jobs.service import CHUNK_SIZE, BackgroundJob, BackgroundJobs, Failure
from chalicelib.domain.shared.access import ContactShare, Operation
from chalicelib.domain.shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.text import fold

if TYPE_CHECKING:
    from chalicelib.domain.contacts.ports import BulkIdentity
    from chalicelib.domain.shared.ports import JobQueue

MAX_IDS = 5000
JOB_KIND = "contacts.bulk"

ContactId = Annotated[str, Field(min_length=1, max_length=40)]


class BulkAction(StrEnum):
    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    SET_MANAGERS = "set_managers"
    SET_ACCESS = "set_access"
    DELETE = "delete"


# The field each action needs, and the operation it needs on each contact.
_NEEDS: dict[BulkAction, str | None] = {
    BulkAction.ADD_TAGS: "tags",
    BulkAction.REMOVE_TAGS: "tags",
    BulkAction.SET_MANAGERS: "managers",
    BulkAction.SET_ACCESS: "access",
    BulkAction.DELETE: None,
}
_OPERATION: dict[BulkAction, Operation] = {
    BulkAction.ADD_TAGS: Operation.WRITE,
    BulkAction.REMOVE_TAGS: Operation.WRITE,
    BulkAction.SET_MANAGERS: Operation.CHANGE_ACCESS,
    BulkAction.SET_ACCESS: Operation.CHANGE_ACCESS,
    BulkAction.DELETE: Operation.DELETE,
}

# Actions whose second run answers like the first (the contact already is as
# asked: success again). A delete answers "not found" the second time, and
# setting managers may take the caller off a private contact: a redelivered
# job chunk must skip what those did before (background_jobs, resumable).
_SAME_WHEN_REPEATED = frozenset({BulkAction.ADD_TAGS, BulkAction.REMOVE_TAGS, BulkAction.SET_ACCESS})


class _BulkChange(Model):
    """What to do to each contact (shared by the request and the job message)."""

    action: BulkAction
    tags: list[TagName] | None = Field(
        default=None, min_length=1, max_length=MAX_TAGS, description="add_tags, remove_tags"
    )
    managers: list[Annotated[str, Field(max_length=40)]] | None = Field(
        default=None, min_length=1, max_length=MAX_MANAGERS, description="set_managers: the new managers (user ids)"
    )
    access: ContactShare | None = Field(default=None, description="set_access")

    @model_validator(mode="after")
    def _fields_for_action(self) -> "_BulkChange":
        needed = _NEEDS[self.action]
        for name in ("tags", "managers", "access"):
            given = getattr(self, name) is not None
            if name == needed and not given:
                raise ValueError(f"{self.action.value} needs {name}")
            if name != needed and given:
                raise ValueError(f"{name} does not go with {self.action.value}")
        return self


class BulkRequest(_BulkChange):
    model_config = ConfigDict(extra="forbid")

    ids: list[ContactId] = Field(
        min_length=1,
        max_length=MAX_IDS,
        description=f"Contact ids (duplicates ignored); more than {SYNC_LIMIT} run as a job",
    )

    @field_validator("ids")
    @classmethod
    def _unique(cls, ids: list[str]) -> list[str]:
        return list(dict.fromkeys(ids))


class ContactBulkChunk(_BulkChange):
    """Job message: one chunk (at most 100 contacts) of a bulk job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["contacts.bulk"] = "contacts.bulk"
    tenant_id: str
    job_id: str
    chunk: int = Field(ge=0)
    user_id: str
    ids: list[str] = Field(min_length=1, max_length=CHUNK_SIZE)


class BulkResult(Model):
    succeeded: list[str]
    failed: list[Failure]


def failure(contact_id: str, status: int, reason: str, detail: str) -> Failure:
    return {"id": contact_id, "status": status, "reason": reason, "detail": detail}


class ContactBulk:
    def __init__(self, contacts: Contacts, jobs: BackgroundJobs, identity: BulkIdentity, queue: JobQueue):
        self._contacts = contacts
        self._jobs = jobs
        self._identity = identity  # users and tenants (storage/identity.py)
        self._queue = queue

    def submit(self, principal: Principal, tenant: Tenant, request: BulkRequest) -> BulkResult | BackgroundJob:
        """Every outcome at once (up to SYNC_LIMIT ids), or the job doing it."""
        if request.managers is not None:
            self._check_managers(principal.tenant_id, request.managers)
        if len(request.ids) <= SYNC_LIMIT:
            succeeded, failed = [], []
            for contact_id in request.ids:
                outcome = self.apply(principal, tenant, request, contact_id)
                if outcome is None:
                    succeeded.append(contact_id)
                else:
                    failed.append(outcome)
            return BulkResult(succeeded=succeeded, failed=failed)
        job = self._jobs.start(principal, JOB_KIND, len(request.ids), chunk_size=CHUNK_SIZE)
        change = request.model_dump(exclude={"ids"}, exclude_none=True)
        self._queue.send_many(
            ContactBulkChunk(
                **change,
                tenant_id=principal.tenant_id,
                job_id=job.id,
                chunk=n,
                user_id=principal.user_id,
                ids=request.ids[start : start + CHUNK_SIZE],
            ).model_dump(mode="json")
            for n, start in enumerate(range(0, len(request.ids), CHUNK_SIZE))
        )
        return job

    def run_chunk(self, message: ContactBulkChunk) -> None:
        """Job handler: one chunk, safe to run again (see background_jobs)."""
        principal, tenant, refusal = self._job_principal(message.tenant_id, message.user_id)

        def work(contact_id: str) -> Failure | None:
            if refusal is not None or principal is None or tenant is None:
                return failure(contact_id, 403, "forbidden", refusal or "")
            return self.apply(principal, tenant, message, contact_id)

        self._jobs.run_chunk(
            message.tenant_id,
            message.job_id,
            message.chunk,
            message.ids,
            work,
            resumable=message.action not in _SAME_WHEN_REPEATED,
        )

    def apply(self, principal: Principal, tenant: Tenant, change: _BulkChange, contact_id: str) -> Failure | None:
        """Change one contact; None when done, else why not."""
        for attempt in (1, 2):
            try:
                contact = self._contacts.get(principal, contact_id, _OPERATION[change.action])
                if change.action == BulkAction.DELETE:
                    self._contacts.delete(principal, contact_id, expected_version=contact.version)
                    return None
                fields = _changed_fields(change, contact)
                if fields:
                    self._contacts.update(
                        principal,
                        tenant,
                        contact_id,
                        ContactChanges.model_validate(fields),
                        expected_version=contact.version,
                    )
                return None
            except NotFound:
                return failure(contact_id, 404, "not_found", "The contact does not exist.")
            except Forbidden as err:
                return failure(contact_id, 403, "forbidden", err.detail)
            except ValidationError as err:
                return failure(contact_id, 422, "invalid", _first_message(err))
            except ValidationFailed as err:
                detail = "; ".join([err.detail, *(f"{e.field}: {e.message}" for e in err.errors)])
                return failure(contact_id, 422, "invalid", detail)
            except (PreconditionFailed, Conflict) as err:
                # Changed by someone else since it was read (or a delete is blocked): once more.
                if attempt == 2:
                    return failure(contact_id, 409, "conflict", err.detail)
        return None  # unreachable

    def _check_managers(self, tenant_id: str, managers: list[str]) -> None:
        found = {u.id: u for u in self._identity.get_users(tenant_id, managers)}
        bad = [m for m in dict.fromkeys(managers) if m not in found or found[m].status == UserStatus.DEACTIVATED]
        if bad:
            raise ValidationFailed(
                "Managers must be active users of this tenant.",
                errors=[FieldError("managers", f"unknown or inactive user {m}") for m in bad],
            )

    def _job_principal(self, tenant_id: str, user_id: str) -> tuple[Principal | None, Tenant | None, str | None]:
        """The job's creator as they are now: (principal, tenant, None), or why they may not act."""
        tenant = self._identity.get_tenant(tenant_id)
        user = self._identity.get_user(tenant_id, user_id)
        if tenant is None or user is None or user.status != UserStatus.ACTIVE:
            return None, None, "The user who started this job is no longer active."
        principal = Principal(tenant_id=tenant_id, user_id=user.id, role=user.role, group_ids=frozenset(user.group_ids))
        try:
            ensure_module_access(principal, tenant)
        except Forbidden as err:
            return None, None, err.detail
        return principal, tenant, None


def _changed_fields(change: _BulkChange, contact: Contact) -> dict[str, Any]:
    """The ContactChanges fields of this action for this contact; empty when
    the contact already is as asked."""
    if change.action == BulkAction.ADD_TAGS:
        have = {fold(t) for t in contact.tags}
        new = [t for t in clean_tags(change.tags or []) if fold(t) not in have]
        return {"tags": [*contact.tags, *new]} if new else {}
    if change.action == BulkAction.REMOVE_TAGS:
        drop = {fold(t) for t in change.tags or []}
        tags = [t for t in contact.tags if fold(t) not in drop]
        return {"tags": tags} if tags != contact.tags else {}
    if change.action == BulkAction.SET_MANAGERS:
        managers = list(dict.fromkeys(change.managers or []))
        return {"managers": managers} if managers != contact.managers else {}
    if change.action == BulkAction.SET_ACCESS:
        return {"access": change.access} if change.access != contact.access else {}
    return {}


def _first_message(err: ValidationError) -> str:
    first = err.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    if where == "tags" and first.get("type") == "too_long":
        return f"A contact has at most {MAX_TAGS} tags."
    return f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid")
