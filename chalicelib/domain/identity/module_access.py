"""TEN-3: the owner limits the CRM module to listed users and groups, or
switches it off. The check runs on every CRM endpoint, right after
authentication; identity endpoints (login, me, users, groups, tokens,
notifications, this setting) stay reachable so the owner can switch it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain.identity.models import CrmAccess, Tenant
from chalicelib.domain.shared.clock import Clock, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.principal import Principal

if TYPE_CHECKING:
    from chalicelib.domain.identity.ports import ModuleAccessStore

SWITCHED_OFF = (
    "The CRM module is switched off for this tenant. The owner can switch it on with PUT /v1/settings/crm-access."
)
NOT_LISTED = "The CRM module is limited to listed users and groups, and you are not among them; ask the owner."


def ensure_module_access(principal: Principal, tenant: Tenant) -> None:
    access = tenant.crm_access
    if not access.enabled:
        raise Forbidden(SWITCHED_OFF)
    if not access.restricted or principal.is_owner:
        return
    if principal.user_id in access.user_ids or principal.group_ids & set(access.group_ids):
        return
    raise Forbidden(NOT_LISTED)


class CrmAccessSettings:
    def __init__(self, store: ModuleAccessStore, clock: Clock = utc_now):
        self._store = store
        self._clock = clock

    def get(self, principal: Principal) -> Tenant:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins see the module access settings.")
        tenant = self._store.get_tenant(principal.tenant_id)
        if tenant is None:
            raise NotFound("No such tenant.")
        return tenant

    def put(self, principal: Principal, access: CrmAccess, *, expected_version: int | None) -> Tenant:
        if not principal.is_owner:
            raise Forbidden("Only an owner changes who may use the CRM module.")
        errors: list[FieldError] = []
        found_users = {u.id for u in self._store.get_users(principal.tenant_id, access.user_ids)}
        errors += [FieldError("user_ids", f"unknown user {u}") for u in sorted(set(access.user_ids) - found_users)]
        for group_id in sorted(set(access.group_ids)):
            if self._store.get_group(principal.tenant_id, group_id) is None:
                errors.append(FieldError("group_ids", f"unknown group {group_id}"))
        if errors:
            raise ValidationFailed("Some listed users or groups do not exist.", errors=errors)
        cleaned = CrmAccess(
            enabled=access.enabled,
            restricted=access.restricted,
            user_ids=sorted(set(access.user_ids)),
            group_ids=sorted(set(access.group_ids)),
        )
        now: datetime = self._clock()
        return self._store.save_crm_access(
            principal.tenant_id, cleaned, expected_version=expected_version, at=now, by=principal.user_id
        )
