"""Who is calling: resolved from the credential only, never from the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    USER = "user"


ROLE_RANK = {Role.USER: 0, Role.ADMIN: 1, Role.OWNER: 2}


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    user_id: str
    role: Role
    group_ids: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """Owner or CRM administrator: reads and moderates everything (TEN-5)."""
        return self.role in (Role.OWNER, Role.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER
