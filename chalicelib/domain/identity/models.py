"""Tenants, users, groups and tokens as the domain sees them (TEN-1..4)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from chalicelib.domain.identity.secrets import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Role
from chalicelib.domain.shared.records import Record

# Deliberately simple: the address must have one @ and a dotted domain; the
# real test is the mail that reaches it.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("is not a valid e-mail address")
    return value


Email = Annotated[str, AfterValidator(_email)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def normalise_email(email: str) -> str:
    """E-mails are unique per tenant case-insensitively."""
    return email.strip().lower()


class UserStatus(StrEnum):
    ACTIVE = "active"
    INVITED = "invited"
    DEACTIVATED = "deactivated"


class CrmAccess(Model):
    """TEN-3: the module on or off, and whether only listed users/groups may use it."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    restricted: bool = False
    user_ids: list[str] = Field(default_factory=list, max_length=1000)
    group_ids: list[str] = Field(default_factory=list, max_length=200)


class Tenant(Record):
    name: str
    time_zone: str = "UTC"
    # ISO 3166 region for phone numbers written without a country code.
    phone_region: str = "DE"
    owner_count: int = 0
    crm_access: CrmAccess = Field(default_factory=CrmAccess)


class User(Record):
    tenant_id: str
    email: str
    name: str
    role: Role
    status: UserStatus = UserStatus.ACTIVE
    group_ids: list[str] = Field(default_factory=list)
    password_hash: str | None = None


class Group(Record):
    tenant_id: str
    name: str
    member_ids: list[str] = Field(default_factory=list)


class TokenKind(StrEnum):
    SESSION = "session"
    API = "api"
    INVITE = "invite"


class StoredToken(Record):
    tenant_id: str
    user_id: str
    kind: TokenKind
    name: str = ""
    secret_hash: str
    expires_at: datetime | None = None
    last4: str = ""
