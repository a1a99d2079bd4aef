"""The identity adapter's twin (storage/identity.py): tenants, users, groups,
tokens and login throttling, with the same rules the table's conditions
hold: one user per e-mail address in a tenant, one group per name, the last
active owner kept, versions checked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from chalicelib.domain.identity.models import (
    CrmAccess,
    Group,
    StoredToken,
    Tenant,
    TokenKind,
    User,
    UserStatus,
    normalise_email,
)
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Role
from chalicelib.storage.memory.db import MemoryDb, frozen, paged, thawed
from chalicelib.storage.memory.jobs import expire

EMAIL_TAKEN = "A user with this e-mail address exists already in this tenant."
LAST_OWNER = "The tenant must keep at least one active owner."
GROUP_NAME_TAKEN = "A group with this name exists already."
_EXISTS = "The record already exists."
_CHANGED = "The record changed since it was read; reload it and apply the change again."

# Tables (per tenant): the tenant row, users, e-mail markers, tokens, groups, group-name markers.
TENANT, USERS, EMAILS, TOKENS, GROUPS, GROUP_NAMES = "tenant", "users", "emails", "tokens", "groups", "group_names"


def _counted_owner(user: User | None) -> bool:
    return user is not None and user.role == Role.OWNER and user.status != UserStatus.DEACTIVATED


def _group_name(name: str) -> str:
    return name.strip().lower()


class MemoryIdentityStore:
    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    # ---- tenants ----

    def create_tenant(self, tenant: Tenant, owner: User, invite: StoredToken | None = None) -> None:
        with self._db.transaction():
            rows = self._db.table(tenant.id, TENANT)
            if rows:
                raise Conflict(_EXISTS)
            rows["meta"] = frozen(tenant.model_copy(update={"owner_count": 1}))
            self._put_user(owner)
            if invite is not None:
                self.put_token(invite)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        text = self._db.table(tenant_id, TENANT).get("meta")
        return thawed(Tenant, text) if text else None

    def save_crm_access(
        self, tenant_id: str, access: CrmAccess, *, expected_version: int | None, at: datetime, by: str
    ) -> Tenant:
        tenant = self.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("The record does not exist.")
        if expected_version is not None and tenant.version != expected_version:
            raise PreconditionFailed(
                f"The record is at version {tenant.version}, not {expected_version}; "
                "reload it and apply the change again."
            )
        saved = tenant.model_copy(
            update={
                "crm_access": access.model_copy(),
                "updated_at": at,
                "updated_by": by,
                "version": tenant.version + 1,
            }
        )
        self._db.table(tenant_id, TENANT)["meta"] = frozen(saved)
        return saved

    def _add_owners(self, tenant_id: str, delta: int) -> None:
        tenant = self.get_tenant(tenant_id)
        if delta < 0 and (tenant is None or tenant.owner_count <= 1):
            raise Conflict(LAST_OWNER)
        if tenant is None:
            raise Conflict("The record changed meanwhile.")
        self._db.table(tenant_id, TENANT)["meta"] = frozen(
            tenant.model_copy(update={"owner_count": tenant.owner_count + delta})
        )

    # ---- users ----

    def _put_user(self, user: User) -> None:
        users = self._db.table(user.tenant_id, USERS)
        emails = self._db.table(user.tenant_id, EMAILS)
        if user.id in users:
            raise Conflict(_EXISTS)
        email = normalise_email(user.email)
        if email in emails:
            raise Conflict(EMAIL_TAKEN)
        users[user.id] = frozen(user.model_copy(update={"group_ids": sorted(set(user.group_ids))}))
        emails[email] = user.id

    def get_user(self, tenant_id: str, user_id: str) -> User | None:
        text = self._db.table(tenant_id, USERS).get(user_id)
        return thawed(User, text) if text else None

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[User]:
        found = (self.get_user(tenant_id, user_id) for user_id in set(user_ids))
        return [user for user in found if user is not None]

    def list_users(self, tenant_id: str, page: PageRequest) -> Slice[User]:
        rows = [(user_id, thawed(User, text)) for user_id, text in self._db.table(tenant_id, USERS).items()]
        return paged(rows, page, partition="users")

    def users_with_login_email(self, email: str) -> list[User]:
        wanted = normalise_email(email)
        found = []
        for tenant_id in self._db.tenants(USERS):
            user_id = self._db.table(tenant_id, EMAILS).get(wanted)
            user = self.get_user(tenant_id, user_id) if user_id else None
            if user is not None:
                found.append(user)
        return found[:50]

    def add_user(self, user: User, invite: StoredToken | None = None) -> None:
        with self._db.transaction():
            self._put_user(user)
            if _counted_owner(user):
                self._add_owners(user.tenant_id, 1)
            if invite is not None:
                self.put_token(invite)

    def update_user(
        self, before: User, after: User, *, expected_version: int, delete_invite: str | None = None
    ) -> User:
        """The user, e-mail markers and the owner count move together (group
        memberships are the groups' to change: they stay as stored)."""
        tenant_id = after.tenant_id
        with self._db.transaction():
            stored = self.get_user(tenant_id, after.id)
            if stored is None or stored.version != expected_version:
                raise PreconditionFailed(_CHANGED)
            email_before, email_after = normalise_email(before.email), normalise_email(after.email)
            emails = self._db.table(tenant_id, EMAILS)
            if email_before != email_after:
                emails.pop(email_before, None)
                if email_after in emails:
                    raise Conflict(EMAIL_TAKEN)
                emails[email_after] = after.id
            saved = stored.model_copy(
                update={
                    "name": after.name,
                    "email": after.email,
                    "role": after.role,
                    "status": after.status,
                    "password_hash": after.password_hash,
                    "updated_at": after.updated_at,
                    "updated_by": after.updated_by,
                    "version": expected_version + 1,
                }
            )
            self._db.table(tenant_id, USERS)[after.id] = frozen(saved)
            owners = int(_counted_owner(after)) - int(_counted_owner(before))
            if owners:
                self._add_owners(tenant_id, owners)
            if delete_invite:
                self._db.table(tenant_id, TOKENS).pop((after.id, delete_invite), None)
        return after.model_copy(update={"version": expected_version + 1})

    # ---- tokens ----

    def put_token(self, token: StoredToken) -> None:
        tokens = self._db.table(token.tenant_id, TOKENS)
        key = (token.user_id, token.id)
        if key in tokens:
            raise Conflict(_EXISTS)
        tokens[key] = frozen(token)
        if token.expires_at is not None:
            expire(self._db, token.tenant_id, TOKENS, key, token.expires_at)

    def get_token(self, tenant_id: str, user_id: str, token_id: str) -> StoredToken | None:
        text = self._db.table(tenant_id, TOKENS).get((user_id, token_id))
        return thawed(StoredToken, text) if text else None

    def credential_items(
        self, tenant_id: str, user_id: str, token_id: str
    ) -> tuple[Tenant | None, User | None, StoredToken | None]:
        return (
            self.get_tenant(tenant_id),
            self.get_user(tenant_id, user_id),
            self.get_token(tenant_id, user_id, token_id),
        )

    def list_tokens(self, tenant_id: str, user_id: str, kind: TokenKind, page: PageRequest) -> Slice[StoredToken]:
        rows = [
            (token_id, thawed(StoredToken, text))
            for (owner, token_id), text in self._db.table(tenant_id, TOKENS).items()
            if owner == user_id
        ]
        return paged(rows, page, partition=f"tokens#{user_id}", visible=lambda token: token.kind == kind)

    def delete_token(self, tenant_id: str, user_id: str, token_id: str) -> StoredToken | None:
        text = self._db.table(tenant_id, TOKENS).pop((user_id, token_id), None)
        return thawed(StoredToken, text) if text else None

    # ---- groups ----

    def get_group(self, tenant_id: str, group_id: str) -> Group | None:
        text = self._db.table(tenant_id, GROUPS).get(group_id)
        return thawed(Group, text) if text else None

    def get_groups(self, tenant_id: str, group_ids: Iterable[str]) -> list[Group]:
        found = (self.get_group(tenant_id, group_id) for group_id in set(group_ids))
        return [group for group in found if group is not None]

    def list_groups(self, tenant_id: str, page: PageRequest) -> Slice[Group]:
        rows = [(group_id, thawed(Group, text)) for group_id, text in self._db.table(tenant_id, GROUPS).items()]
        return paged(rows, page, partition="groups")

    def save_group(self, before: Group | None, after: Group) -> Group:
        """Create (before=None) or update a group; members' group_ids follow at
        once, and every new member must be a user of the tenant."""
        tenant_id = after.tenant_id
        groups, names = self._db.table(tenant_id, GROUPS), self._db.table(tenant_id, GROUP_NAMES)
        with self._db.transaction():
            if before is None:
                if after.id in groups:
                    raise Conflict(_EXISTS)
                saved = after
            else:
                stored = self.get_group(tenant_id, after.id)
                if stored is None or stored.version != before.version:
                    raise PreconditionFailed(_CHANGED)
                saved = stored.model_copy(
                    update={
                        "name": after.name,
                        "member_ids": after.member_ids,
                        "updated_at": after.updated_at,
                        "updated_by": after.updated_by,
                        "version": before.version + 1,
                    }
                )
            groups[after.id] = frozen(saved)
            name_before = _group_name(before.name) if before else None
            if name_before != _group_name(after.name):
                if _group_name(after.name) in names:
                    raise Conflict(GROUP_NAME_TAKEN)
                names[_group_name(after.name)] = after.id
                if name_before is not None:
                    names.pop(name_before, None)
            old_members = set(before.member_ids) if before else set()
            for user_id in sorted(set(after.member_ids) - old_members):
                user = self.get_user(tenant_id, user_id)
                if user is None:
                    raise Conflict(f"User {user_id} does not exist.")
                self._set_groups(user, {*user.group_ids, after.id})
            for user_id in sorted(old_members - set(after.member_ids)):
                user = self.get_user(tenant_id, user_id)
                if user is not None:
                    self._set_groups(user, set(user.group_ids) - {after.id})
        return after.model_copy(update={"version": before.version + 1}) if before else after

    def delete_group(self, group: Group) -> None:
        with self._db.transaction():
            stored = self.get_group(group.tenant_id, group.id)
            if stored is None or stored.version != group.version:
                raise PreconditionFailed("The group changed meanwhile; reload it.")
            del self._db.table(group.tenant_id, GROUPS)[group.id]
            self._db.table(group.tenant_id, GROUP_NAMES).pop(_group_name(group.name), None)
            for user_id in group.member_ids:
                user = self.get_user(group.tenant_id, user_id)
                if user is not None:
                    self._set_groups(user, set(user.group_ids) - {group.id})

    def _set_groups(self, user: User, group_ids: set[str]) -> None:
        # Memberships change without a version (DynamoDB: ADD/DELETE on a string set).
        self._db.table(user.tenant_id, USERS)[user.id] = frozen(
            user.model_copy(update={"group_ids": sorted(group_ids)})
        )

    # ---- login throttling ----
