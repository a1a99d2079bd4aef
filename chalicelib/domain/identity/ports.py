"""What the identity services need from storage (storage/identity.py), and the
narrow lookups other features use to check the users they name.

One adapter fills every port here (``IdentityStorage``): tenants, users,
groups and tokens share the single table and its transactions (e-mail
markers, the owner count, group memberships).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.domain.identity.models import CrmAccess, Group, StoredToken, Tenant, TokenKind, User
    from chalicelib.domain.shared.pagination import PageRequest, Slice


# ---- what other features ask ----


class UserDirectory(Protocol):
    """Users a record names (managers, access lists, responsible users, recipients)."""

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[User]:
        """Those of the ids that are users of the tenant (any status), in no particular order."""
        ...


class TenantMembers(Protocol):
    """A tenant and one of its users as they are now (a job acting for its
    creator, a reminder in the tenant's time zone, a responsible user)."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def get_user(self, tenant_id: str, user_id: str) -> User | None: ...


class Invitations(Protocol):
    """Issues the one-time token an invited user sets a password with (Auth)."""

    def invitation_for(self, user: User) -> tuple[str, StoredToken]: ...


# ---- the identity services' stores ----


class TenantStore(Protocol):
    def create_tenant(self, tenant: Tenant, owner: User, invite: StoredToken | None = None) -> None:
        """The tenant, its owner (counted as its one active owner) and the
        owner's invitation, if any, in one transaction."""
        ...

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...


class UserStore(Protocol):
    def get_user(self, tenant_id: str, user_id: str) -> User | None: ...

    def list_users(self, tenant_id: str, page: PageRequest) -> Slice[User]: ...

    def add_user(self, user: User, invite: StoredToken | None = None) -> None:
        """Conflict when the tenant has a user with this e-mail address (any case)."""
        ...

    def update_user(
        self, before: User, after: User, *, expected_version: int, delete_invite: str | None = None
    ) -> User:
        """Conditional on ``expected_version`` (PreconditionFailed, NotFound);
        Conflict for a taken e-mail address or when the tenant would lose its
        last active owner."""
        ...


class AuthStore(Protocol):
    def users_with_login_email(self, email: str) -> list[User]:
        """Users of every tenant with this login e-mail (login only: the tenant is not known yet)."""
        ...

    def put_token(self, token: StoredToken) -> None: ...

    def get_token(self, tenant_id: str, user_id: str, token_id: str) -> StoredToken | None: ...

    def credential_items(
        self, tenant_id: str, user_id: str, token_id: str
    ) -> tuple[Tenant | None, User | None, StoredToken | None]: ...

    def list_tokens(self, tenant_id: str, user_id: str, kind: TokenKind, page: PageRequest) -> Slice[StoredToken]: ...

    def delete_token(self, tenant_id: str, user_id: str, token_id: str) -> StoredToken | None: ...

    def get_user(self, tenant_id: str, user_id: str) -> User | None: ...

    def update_user(
        self, before: User, after: User, *, expected_version: int, delete_invite: str | None = None
    ) -> User: ...


class GroupStore(Protocol):
    def get_group(self, tenant_id: str, group_id: str) -> Group | None: ...

    def get_groups(self, tenant_id: str, group_ids: Iterable[str]) -> list[Group]: ...

    def list_groups(self, tenant_id: str, page: PageRequest) -> Slice[Group]: ...

    def save_group(self, before: Group | None, after: Group) -> Group:
        """Create (``before`` None) or update, conditional on ``before.version``;
        Conflict for a taken name or a member who is not a user of the tenant."""
        ...

    def delete_group(self, group: Group) -> None:
        """Conditional on ``group.version`` (PreconditionFailed)."""
        ...

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[User]: ...


class ModuleAccessStore(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[User]: ...

    def get_group(self, tenant_id: str, group_id: str) -> Group | None: ...

    def save_crm_access(
        self, tenant_id: str, access: CrmAccess, *, expected_version: int | None, at: datetime, by: str
    ) -> Tenant: ...


class IdentityStorage(
    TenantStore, UserStore, AuthStore, GroupStore, ModuleAccessStore, UserDirectory, TenantMembers, Protocol
):
    """The whole identity adapter, as the composition root wires it into every service above."""
