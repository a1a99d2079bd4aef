"""Tenants: created with their owner (admin CLI, local stack), then seeded.

``create`` publishes ``TenantCreated``; the defaults a new tenant gets
(settings lists, currency, contact tags) are its subscribers in
bootstrap/events.py, run inline so the tenant is complete when created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator

from chalicelib.domain.identity.models import Email, Name, Password, Tenant, User, UserStatus
from chalicelib.domain.identity.secrets import hash_password
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import NotFound
from chalicelib.domain.shared.events import TenantCreated
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Role

if TYPE_CHECKING:
    from chalicelib.domain.identity.ports import Invitations, TenantStore
    from chalicelib.domain.shared.ports import EventPublisher


class NewTenant(Model):
    model_config = ConfigDict(extra="forbid")
    name: Name
    owner_email: Email
    owner_name: Name = "Owner"
    owner_password: Password | None = None
    time_zone: str = Field(default="UTC", description="IANA zone for day boundaries, e.g. Europe/Berlin")
    phone_region: str = Field(default="DE", description="ISO 3166 region for phone numbers without country code")

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers

        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("is not a region with phone numbers (ISO 3166 alpha-2, e.g. DE)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known IANA time zone") from None
        return value


class Tenants:
    def __init__(self, store: TenantStore, auth: Invitations, events: EventPublisher, clock: Clock = utc_now):
        self._store = store
        self._auth = auth
        self._events = events
        self._clock = clock

    def create(self, request: NewTenant) -> tuple[Tenant, User, str | None]:
        """The tenant, its owner and, without a password, the owner's invitation token."""
        now = self._clock()
        tenant = Tenant(
            id=new_id(),
            name=request.name,
            time_zone=request.time_zone,
            phone_region=request.phone_region,
            created_at=now,
            updated_at=now,
        )
        owner_id = new_id()
        owner = User(
            id=owner_id,
            tenant_id=tenant.id,
            email=request.owner_email,
            name=request.owner_name,
            role=Role.OWNER,
            status=UserStatus.ACTIVE if request.owner_password else UserStatus.INVITED,
            password_hash=hash_password(request.owner_password) if request.owner_password else None,
            created_at=now,
            created_by=owner_id,
            updated_at=now,
            updated_by=owner_id,
        )
        invitation, invite_record = (None, None)
        if request.owner_password is None:
            invitation, invite_record = self._auth.invitation_for(owner)
        self._store.create_tenant(tenant, owner, invite_record)
        self._events.publish(TenantCreated(tenant_id=tenant.id, owner_id=owner.id))
        return tenant, owner, invitation

    def get(self, tenant_id: str) -> Tenant:
        tenant = self._store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("No such tenant.")
        return tenant
