"""Response shapes of the identity endpoints: what clients see of the domain
records (never a hash, never a secret except the one shown once)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.identity.models import CrmAccess, Group, StoredToken, Tenant, User
from chalicelib.domain.shared.model import Model


class RecordView(Model):
    id: str
    version: int
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None


class UserView(RecordView):
    email: str
    name: str
    role: str
    status: str
    group_ids: list[str]

    @classmethod
    def of(cls, user: User) -> "UserView":
        return cls.model_validate(user.model_dump(exclude={"password_hash", "tenant_id"}))


class GroupView(RecordView):
    name: str
    member_ids: list[str]

    @classmethod
    def of(cls, group: Group) -> "GroupView":
        return cls.model_validate(group.model_dump(exclude={"tenant_id"}))


class TenantView(Model):
    id: str
    name: str
    time_zone: str
    phone_region: str

    @classmethod
    def of(cls, tenant: Tenant) -> "TenantView":
        return cls(id=tenant.id, name=tenant.name, time_zone=tenant.time_zone, phone_region=tenant.phone_region)


class GroupRef(Model):
    id: str
    name: str


class MeView(Model):
    user: UserView
    role: str
    groups: list[GroupRef]
    tenant: TenantView


class SessionView(Model):
    token: str
    user: UserView


class UserCreatedView(UserView):
    invitation_token: str | None = None


class TokenView(Model):
    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last4: str

    @classmethod
    def of(cls, token: StoredToken) -> "TokenView":
        return cls(
            id=token.id, name=token.name, created_at=token.created_at, expires_at=token.expires_at, last4=token.last4
        )


class TokenCreatedView(TokenView):
    token: str


class CrmAccessView(CrmAccess):
    version: int

    @classmethod
    def of(cls, tenant: Tenant) -> "CrmAccessView":
        return cls(**tenant.crm_access.model_dump(), version=tenant.version)
