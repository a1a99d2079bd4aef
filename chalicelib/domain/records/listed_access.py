"""What deals and cases share (DEA-1, DEA-6, CAS-1, CAS-2): an access list
(public while empty; the creator is put on it when it becomes non-empty;
newly listed users are notified), member contacts the caller must be able to
see, tags and custom field values. Written once, used by both services.

Access itself is decided by domain/shared/access.py (``ListAccess``): only admins
and the creator change the list (CHANGE_ACCESS); hidden records are 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, Field

from chalicelib.domain.contacts.models import clean_tags
from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.records.parents import ParentRef, Parents
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import ListAccess, Operation
from chalicelib.domain.shared.clock import Clock
from chalicelib.domain.shared.errors import FieldError, NotFound, ValidationFailed
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import require_version
from chalicelib.domain.shared.text import fold

if TYPE_CHECKING:
    from chalicelib.domain.identity.ports import UserDirectory
    from chalicelib.domain.notifications.ports import Notify
    from chalicelib.domain.records.ports import ListedRecord, ListedStore
    from chalicelib.domain.settings.ports import CustomValues

# Each member and listed user is an index entry in the record's transaction
# (at most 100 operations): 20 + 20, with 10 tags and 30 custom fields, fits.
MAX_MEMBERS = 20
MAX_LISTED = 20


def _one_line(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise ValueError("must not be blank")
    return text


# A deal's or case's title: one line, trimmed, never blank.
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_line)]


class _ListFields(Protocol):
    @property
    def access_list(self) -> list[str]: ...

    @property
    def created_by(self) -> str | None: ...


def list_access(record: _ListFields) -> ListAccess:
    """The access description of a deal or case (anything with these fields)."""
    return ListAccess(
        access_list=frozenset(record.access_list or []),
        created_by=record.created_by or "",
        responsible_id=getattr(record, "responsible_id", None),
    )


def entry_access(entry: dict[str, Any]) -> ListAccess:
    """The same, from an index entry (which carries the access attributes)."""
    return ListAccess(
        access_list=frozenset(entry.get("access_list") or []),
        created_by=entry.get("created_by") or "",
        responsible_id=entry.get("responsible_id"),
    )


class RestrictedRecords:
    """Rules for the shared fields; ``kind`` is "deal" or "case"."""

    def __init__(
        self,
        kind: str,
        users: UserDirectory,
        notifier: Notify,
        parents: Parents,
        custom_fields: CustomValues | None = None,
    ):
        self.kind = kind
        self._users = users
        self._notifier = notifier
        self._parents = parents
        self._custom_fields = custom_fields

    def require(self, principal: Principal, operation: Operation, record: _ListFields) -> None:
        access.require(principal, operation, list_access(record), what=self.kind)

    # ---- field rules ----

    def access_list(
        self, principal: Principal, wanted: list[str], created_by: str | None, current: Iterable[str] = ()
    ) -> list[str]:
        """Users listed: active users of the tenant (users already listed may
        stay even if deactivated meanwhile); the creator joins a non-empty list."""
        listed = list(dict.fromkeys(wanted))
        if listed and created_by and created_by not in listed:
            listed.insert(0, created_by)
        kept = set(current)
        new = [u for u in listed if u not in kept]
        found = {u.id: u for u in self._users.get_users(principal.tenant_id, new)} if new else {}
        bad = [u for u in new if u not in found or found[u].status == UserStatus.DEACTIVATED]
        if bad:
            raise ValidationFailed(
                "The access list names only active users of this tenant.",
                errors=[FieldError("access_list", f"unknown or inactive user {u}") for u in bad],
            )
        return listed

    def active_user(self, principal: Principal, user_id: str, field: str) -> str:
        found = self._users.get_users(principal.tenant_id, [user_id])
        if not found or found[0].status == UserStatus.DEACTIVATED:
            raise ValidationFailed(
                "The user must be an active user of this tenant.",
                errors=[FieldError(field, f"unknown or inactive user {user_id}")],
            )
        return user_id

    def contacts(
        self, principal: Principal, ids: Iterable[str | None], field: str, current: Iterable[str | None] = ()
    ) -> None:
        """Newly linked contacts must exist and be visible to the caller
        (contacts already linked stay, even if the caller cannot see them)."""
        kept = {c for c in current if c}
        bad = []
        for contact_id in dict.fromkeys(c for c in ids if c and c not in kept):
            try:
                self._parents.resolve(principal, "contact", contact_id)
            except NotFound:
                bad.append(contact_id)
        if bad:
            raise ValidationFailed(
                "Linked contacts must exist and be visible to you.",
                errors=[FieldError(field, f"no such contact {c}") for c in bad],
            )

    @staticmethod
    def tags(tags: list[str], known: dict[str, str]) -> list[str]:
        """Trimmed and de-duplicated; existing tags keep their spelling."""
        return [known.get(fold(t), t) for t in clean_tags(tags)]

    def custom_values(
        self, principal: Principal, current: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        merged = {**current, **(changes or {})}
        checked = self._custom_fields.validate(principal, self.kind, merged) if self._custom_fields else merged
        return {k: v for k, v in checked.items() if v is not None}

    # ---- notifications ----

    def notify_listed(
        self, principal: Principal, before: Iterable[str], after: Iterable[str], title: str, link: str
    ) -> None:
        """Users newly put on the list (not the caller) are told (DEA-6, CAS-2)."""
        old = set(before)
        new = [u for u in after if u not in old and u != principal.user_id]
        if new:
            self._notifier.notify(
                principal.tenant_id,
                new,
                f"{self.kind}.access",
                f"You were given access to the {self.kind} {title}",
                link,
            )


# A deal or a case (the ports' ListedRecord; named as text: the ports are imported for type checking only).
R = TypeVar("R", bound="ListedRecord")


class RestrictedRecordService(Generic[R]):
    """Reading and changing a deal or a case: the steps both take, in one place.

    Subclasses set ``_store``, ``_clock`` and ``_rules`` (a RestrictedRecords)
    and provide ``_apply(principal, record, before, fields)``."""

    _store: ListedStore[R]
    _clock: Clock
    _rules: RestrictedRecords

    def get(self, principal: Principal, record_id: str, operation: Operation = Operation.READ) -> R:
        record = self._store.get(principal.tenant_id, record_id)
        if record is None:
            raise NotFound(f"The {self._rules.kind} does not exist.")
        self._rules.require(principal, operation, record)
        return record

    def parent_ref(self, principal: Principal, record_id: str) -> ParentRef | None:
        record = self._store.get(principal.tenant_id, record_id)
        if record is None:
            return None
        return ParentRef(self._rules.kind, record.id, record.title, record.access_record())

    def link(self, record: R) -> str:
        return f"/v1/{self._rules.kind}s/{record.id}"

    def _apply(self, principal: Principal, record: R, before: R | None, fields: dict[str, Any]) -> R:
        raise NotImplementedError

    def update(
        self,
        principal: Principal,
        record_id: str,
        changes: BaseModel,
        *,
        expected_version: int,
        extra: Sequence[Any] = (),
    ) -> R:
        """PATCH: only the fields sent; changing the access list needs CHANGE_ACCESS;
        newly listed users are notified."""
        before = self.get(principal, record_id, Operation.WRITE)
        require_version(before, expected_version, self._rules.kind)
        fields = changes.model_dump(exclude_unset=True)
        if "access_list" in fields:
            self._rules.require(principal, Operation.CHANGE_ACCESS, before)
        after = self._apply(principal, before, before, fields)
        after = after.model_copy(update={"updated_at": self._clock(), "updated_by": principal.user_id})
        saved = self._store.update(before, after, by=principal.user_id, **({"extra": extra} if extra else {}))
        self._rules.notify_listed(principal, before.access_list, saved.access_list, saved.title, self.link(saved))
        return saved
