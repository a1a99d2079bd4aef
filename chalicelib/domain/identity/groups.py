"""Groups of users (TEN-2); used for module access (TEN-3) and sharing."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from chalicelib.domain.identity.models import Group, Name
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal

if TYPE_CHECKING:
    from chalicelib.domain.identity.ports import GroupStore

# A membership change is one transaction; DynamoDB takes 100 operations.
MAX_MEMBER_CHANGES = 90


class NewGroup(Model):
    model_config = ConfigDict(extra="forbid")
    name: Name
    member_ids: list[str] = Field(default_factory=list, max_length=MAX_MEMBER_CHANGES)


class GroupChanges(Model):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    member_ids: list[str] | None = Field(default=None, description="The full new member list.")


class Groups:
    def __init__(self, store: GroupStore, clock: Clock = utc_now):
        self._store = store
        self._clock = clock

    def get(self, principal: Principal, group_id: str) -> Group:
        group = self._store.get_group(principal.tenant_id, group_id)
        if group is None:
            raise NotFound("No such group.")
        return group

    def get_many(self, principal: Principal, group_ids: builtins.list[str]) -> builtins.list[Group]:
        found = self._store.get_groups(principal.tenant_id, group_ids) if group_ids else []
        return sorted(found, key=lambda g: g.name.lower())

    def list(self, principal: Principal, page: PageRequest) -> Slice[Group]:
        return self._store.list_groups(principal.tenant_id, page)

    def create(self, principal: Principal, request: NewGroup) -> Group:
        self._require_admin(principal)
        members = self._checked_members(principal, request.member_ids, set())
        now = self._clock()
        group = Group(
            id=new_id(),
            tenant_id=principal.tenant_id,
            name=request.name.strip(),
            member_ids=members,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        return self._store.save_group(None, group)

    def update(self, principal: Principal, group_id: str, changes: GroupChanges, *, expected_version: int) -> Group:
        self._require_admin(principal)
        before = self.get(principal, group_id)
        members = (
            before.member_ids
            if changes.member_ids is None
            else self._checked_members(principal, changes.member_ids, set(before.member_ids))
        )
        after = before.model_copy(
            update={
                "name": (changes.name or before.name).strip(),
                "member_ids": members,
                "updated_at": self._clock(),
                "updated_by": principal.user_id,
            }
        )
        return self._store.save_group(before.model_copy(update={"version": expected_version}), after)

    def delete(self, principal: Principal, group_id: str, *, expected_version: int | None = None) -> None:
        self._require_admin(principal)
        group = self.get(principal, group_id)
        if expected_version is not None:
            group = group.model_copy(update={"version": expected_version})
        self._store.delete_group(group)

    def _checked_members(
        self, principal: Principal, member_ids: builtins.list[str], current: set[str]
    ) -> builtins.list[str]:
        wanted = list(dict.fromkeys(member_ids))
        if len(set(wanted) ^ current) > MAX_MEMBER_CHANGES:
            raise ValidationFailed(
                "Too many membership changes at once.",
                errors=[FieldError("member_ids", f"change at most {MAX_MEMBER_CHANGES} members per request")],
            )
        new = set(wanted) - current
        found = {u.id for u in self._store.get_users(principal.tenant_id, new)} if new else set()
        unknown = sorted(new - found)
        if unknown:
            raise ValidationFailed(
                "Some members are not users of this tenant.",
                errors=[FieldError("member_ids", f"unknown user {u}") for u in unknown],
            )
        return wanted

    @staticmethod
    def _require_admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins manage groups.")
