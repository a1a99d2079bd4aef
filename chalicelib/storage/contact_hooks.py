"""What else a contact's own transaction writes: its change-log entry and the
use counters of the settings entries and custom fields it references, so
that "in use" and "who changed what" can never disagree with the contact."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.contacts import Contact
from chalicelib.domain.principal import Principal
from chalicelib.storage.changelog import change_ops
from chalicelib.storage.custom_fields import field_usage_ops
from chalicelib.storage.settings import usage_ops


def _logged(contact: Contact | None) -> dict[str, Any] | None:
    return contact.model_dump(mode="json", exclude={"tenant_id"}) if contact else None


class ContactWriteHooks:
    def __init__(self, custom_fields: Any):
        self._custom_fields = custom_fields

    def on_save(self, principal: Principal, before: Contact | None, after: Contact) -> list[Any]:
        tenant = after.tenant_id
        return [
            *change_ops(tenant, "contact", after.id, _logged(before), _logged(after),
                        by=principal.user_id, at=after.updated_at),
            *usage_ops(tenant, "contact-types", before.type_id if before else None, after.type_id),
            *usage_ops(tenant, "temperatures", before.temperature_id if before else None, after.temperature_id),
            *field_usage_ops(tenant, before.custom_fields if before else None, after.custom_fields),
        ]

    def on_delete(self, principal: Principal, contact: Contact, *, at: Any) -> list[Any]:
        tenant = contact.tenant_id
        return [
            *change_ops(tenant, "contact", contact.id, _logged(contact), None, by=principal.user_id, at=at),
            *usage_ops(tenant, "contact-types", contact.type_id, None),
            *usage_ops(tenant, "temperatures", contact.temperature_id, None),
            *field_usage_ops(tenant, contact.custom_fields, None),
        ]

    def custom_values(self, principal: Principal, kind: str, values: dict[str, Any]) -> dict[str, Any]:
        """Checked values by type; None removes one (CON-4)."""
        return self._custom_fields.validate(principal, kind, values)
