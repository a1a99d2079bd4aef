"""Tenants, users, groups and tokens in the single table (login throttling: storage/limits.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.domain.identity.models import CrmAccess, Group, StoredToken, Tenant, TokenKind, User, normalise_email
from chalicelib.domain.shared.errors import Conflict, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Role
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Delete, Put, SortKey, Table, Update
from chalicelib.storage.dynamo.table_spec import GSI1, GSI2

EMAIL_TAKEN = "A user with this e-mail address exists already in this tenant."
LAST_OWNER = "The tenant must keep at least one active owner."


def _item(record: Any, key: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {**record.model_dump(mode="json"), **key, **extra}


def _user_item(user: User) -> dict[str, Any]:
    item = _item(
        user,
        keys.user(user.tenant_id, user.id),
        **keys.user_indexes(user.tenant_id, user.id, normalise_email(user.email)),
    )
    # A string set, so memberships change by atomic ADD/DELETE without a version race.
    item["group_ids"] = set(user.group_ids) or None
    return item


def _user(item: dict[str, Any]) -> User:
    return User.model_validate({**item, "group_ids": sorted(item.get("group_ids") or [])})


def _is_counted_owner(user: User | None) -> bool:
    return user is not None and user.role == Role.OWNER and user.status != "deactivated"


class IdentityStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    # ---- tenants ----

    def create_tenant(self, tenant: Tenant, owner: User, invite: StoredToken | None = None) -> None:
        operations: list[Any] = [
            Put(_item(tenant.model_copy(update={"owner_count": 1}), keys.tenant(tenant.id))),
            Put(_user_item(owner)),
            Put(
                {**keys.email_marker(tenant.id, normalise_email(owner.email)), "user_id": owner.id},
                on_conflict=Conflict(EMAIL_TAKEN),
            ),
        ]
        if invite is not None:
            operations.append(Put(self._token_item(invite)))
        self._table.transact(operations)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        item = self._table.get(keys.tenant(tenant_id))
        return Tenant.model_validate(item) if item else None

    def save_crm_access(
        self, tenant_id: str, access: CrmAccess, *, expected_version: int | None, at: datetime, by: str
    ) -> Tenant:
        item = self._table.update(
            keys.tenant(tenant_id),
            expected_version=expected_version,
            set={"crm_access": access.model_dump(mode="json"), "updated_at": at.isoformat(), "updated_by": by},
        )
        return Tenant.model_validate(item)

    # ---- users ----

    def get_user(self, tenant_id: str, user_id: str) -> User | None:
        item = self._table.get(keys.user(tenant_id, user_id))
        return _user(item) if item else None

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[User]:
        return [_user(i) for i in self._table.get_many(keys.user(tenant_id, u) for u in set(user_ids))]

    def list_users(self, tenant_id: str, page: PageRequest) -> Slice[User]:
        found = self._table.query(keys.tenant_users(tenant_id), index=GSI2, page=page)
        return Slice([_user(i) for i in found.items], found.after)

    def users_with_login_email(self, email: str) -> list[User]:
        found = self._table.query(keys.login_partition(normalise_email(email)), index=GSI1, page=PageRequest(limit=50))
        return [_user(i) for i in found.items]

    def add_user(self, user: User, invite: StoredToken | None = None) -> None:
        operations: list[Any] = [
            Put(_user_item(user)),
            Put(
                {**keys.email_marker(user.tenant_id, normalise_email(user.email)), "user_id": user.id},
                on_conflict=Conflict(EMAIL_TAKEN),
            ),
        ]
        if _is_counted_owner(user):
            operations.append(Update(keys.tenant(user.tenant_id), add={"owner_count": 1}, bump_version=False))
        if invite is not None:
            operations.append(Put(self._token_item(invite)))
        self._table.transact(operations)

    def update_user(
        self, before: User, after: User, *, expected_version: int, delete_invite: str | None = None
    ) -> User:
        """One transaction: the user, e-mail markers and the owner count move together."""
        email_before, email_after = normalise_email(before.email), normalise_email(after.email)
        changes = {
            "name": after.name,
            "email": after.email,
            "role": after.role.value,
            "status": after.status.value,
            "password_hash": after.password_hash,
            "updated_at": after.updated_at.isoformat(),
            "updated_by": after.updated_by,
            "gsi1pk": keys.login_partition(email_after),
        }
        operations: list[Any] = [
            Update(keys.user(after.tenant_id, after.id), set=changes, expected_version=expected_version)
        ]
        if email_before != email_after:
            operations += [
                Delete(keys.email_marker(after.tenant_id, email_before)),
                Put(
                    {**keys.email_marker(after.tenant_id, email_after), "user_id": after.id},
                    on_conflict=Conflict(EMAIL_TAKEN),
                ),
            ]
        owners_delta = int(_is_counted_owner(after)) - int(_is_counted_owner(before))
        if owners_delta > 0:
            operations.append(Update(keys.tenant(after.tenant_id), add={"owner_count": 1}, bump_version=False))
        elif owners_delta < 0:
            operations.append(
                Update(
                    keys.tenant(after.tenant_id),
                    add={"owner_count": -1},
                    bump_version=False,
                    require=("owner_count", ">", 1),
                    on_conflict=Conflict(LAST_OWNER),
                )
            )
        if delete_invite:
            operations.append(Delete(keys.token(after.tenant_id, after.id, delete_invite)))
        self._table.transact(operations)
        return after.model_copy(update={"version": expected_version + 1})

    # ---- tokens ----

    @staticmethod
    def _token_item(token: StoredToken) -> dict[str, Any]:
        extra = keys.expiry_attributes(token.expires_at) if token.expires_at else {}
        return _item(token, keys.token(token.tenant_id, token.user_id, token.id), **extra)

    def put_token(self, token: StoredToken) -> None:
        self._table.create(self._token_item(token))

    def get_token(self, tenant_id: str, user_id: str, token_id: str) -> StoredToken | None:
        item = self._table.get(keys.token(tenant_id, user_id, token_id))
        return StoredToken.model_validate(item) if item else None

    def credential_items(
        self, tenant_id: str, user_id: str, token_id: str
    ) -> tuple[Tenant | None, User | None, StoredToken | None]:
        """Tenant, user and token in one BatchGetItem: the whole cost of authentication."""
        tenant_key, user_key = keys.tenant(tenant_id), keys.user(tenant_id, user_id)
        found = {
            (i["pk"], i["sk"]): i
            for i in self._table.get_many([tenant_key, user_key, keys.token(tenant_id, user_id, token_id)])
        }
        tenant = found.get((tenant_key["pk"], tenant_key["sk"]))
        user = found.get((user_key["pk"], user_key["sk"]))
        token = found.get((user_key["pk"], f"TOKEN#{token_id}"))
        return (
            Tenant.model_validate(tenant) if tenant else None,
            _user(user) if user else None,
            StoredToken.model_validate(token) if token else None,
        )

    def list_tokens(self, tenant_id: str, user_id: str, kind: TokenKind, page: PageRequest) -> Slice[StoredToken]:
        found = self._table.query(
            keys.user(tenant_id, user_id)["pk"],
            sort=SortKey.begins_with(keys.TOKEN_PREFIX),
            page=page,
            visible=lambda item: item.get("kind") == kind.value,
        )
        return Slice([StoredToken.model_validate(i) for i in found.items], found.after)

    def delete_token(self, tenant_id: str, user_id: str, token_id: str) -> StoredToken | None:
        old = self._table.delete(keys.token(tenant_id, user_id, token_id))
        return StoredToken.model_validate(old) if old else None

    # ---- groups ----

    def get_group(self, tenant_id: str, group_id: str) -> Group | None:
        item = self._table.get(keys.group(tenant_id, group_id))
        return Group.model_validate(item) if item else None

    def get_groups(self, tenant_id: str, group_ids: Iterable[str]) -> list[Group]:
        return [Group.model_validate(i) for i in self._table.get_many(keys.group(tenant_id, g) for g in set(group_ids))]

    def list_groups(self, tenant_id: str, page: PageRequest) -> Slice[Group]:
        found = self._table.query(keys.tenant_groups(tenant_id), index=GSI2, page=page)
        return Slice([Group.model_validate(i) for i in found.items], found.after)

    def save_group(self, before: Group | None, after: Group) -> Group:
        """Create (before=None) or update a group; members' group_ids follow in
        the same transaction, and every member must be a user of the tenant."""
        tenant_id = after.tenant_id
        operations: list[Any] = []
        if before is None:
            operations.append(
                Put(_item(after, keys.group(tenant_id, after.id), **keys.group_indexes(tenant_id, after.id)))
            )
        else:
            operations.append(
                Update(
                    keys.group(tenant_id, after.id),
                    expected_version=before.version,
                    set={
                        "name": after.name,
                        "member_ids": after.member_ids,
                        "updated_at": after.updated_at.isoformat(),
                        "updated_by": after.updated_by,
                    },
                )
            )
        name_before = before.name.strip().lower() if before else None
        if name_before != after.name.strip().lower():
            operations.append(
                Put(
                    {**keys.group_name_marker(tenant_id, after.name), "group_id": after.id},
                    on_conflict=Conflict("A group with this name exists already."),
                )
            )
            if before is not None:
                operations.append(Delete(keys.group_name_marker(tenant_id, before.name)))
        old_members = set(before.member_ids) if before else set()
        for user_id in sorted(set(after.member_ids) - old_members):
            operations.append(
                Update(
                    keys.user(tenant_id, user_id),
                    add={"group_ids": {after.id}},
                    bump_version=False,
                    on_conflict=Conflict(f"User {user_id} does not exist."),
                )
            )
        for user_id in sorted(old_members - set(after.member_ids)):
            operations.append(
                Update(
                    keys.user(tenant_id, user_id),
                    discard={"group_ids": {after.id}},
                    bump_version=False,
                    must_exist=False,
                )
            )
        self._table.transact(operations)
        return after.model_copy(update={"version": before.version + 1}) if before else after

    def delete_group(self, group: Group) -> None:
        operations: list[Any] = [
            Delete(
                keys.group(group.tenant_id, group.id),
                expected_version=group.version,
                must_exist=True,
                on_conflict=PreconditionFailed("The group changed meanwhile; reload it."),
            ),
            Delete(keys.group_name_marker(group.tenant_id, group.name)),
        ]
        operations += [
            Update(
                keys.user(group.tenant_id, u), discard={"group_ids": {group.id}}, bump_version=False, must_exist=False
            )
            for u in group.member_ids
        ]
        self._table.transact(operations)
