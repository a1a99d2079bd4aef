"""Custom field definitions in the single table: one item collection per
tenant (``FIELD#<id>``), read whole by one Query.

For the records that carry values (contacts, deals, cases):
``field_usage_ops`` gives the ``in_use`` counter updates to put in the
record's own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.settings.custom_fields import CustomField, FieldState
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict, CrmError, FieldError, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import SortKey, Table, Update


def field_usage_ops(
    tenant_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    definitions: Iterable[CustomField] = (),
) -> list[Update]:
    """Counter updates for a record whose custom field values go from
    ``before`` to ``after`` (whole value maps; None or {} for a new or deleted
    record). A field that gains a value gains a use, one that loses it loses
    one; changed values change nothing.

    Pass the ``definitions`` the values were validated against: a field's first
    use is then conditional on that version, so a definition changed
    meanwhile (options removed, type changed, deleted) fails the transaction
    with 409 instead of storing a value it no longer accepts. Without them the
    field need only be active (422 naming ``custom_fields.<id>`` otherwise)."""
    held_before = {k for k, v in (before or {}).items() if v is not None}
    held_after = {k for k, v in (after or {}).items() if v is not None}
    versions = {d.id: d.version for d in definitions}
    ops: list[Update] = []
    for field_id in sorted(held_before - held_after):
        ops.append(
            Update(
                keys.custom_field(tenant_id, field_id),
                add={"in_use": -1},
                bump_version=False,
                on_conflict=Conflict(f"The custom field {field_id} no longer exists."),
            )
        )
    for field_id in sorted(held_after - held_before):
        if field_id in versions:
            require: tuple[str, str, Any] = ("version", "=", versions[field_id])
            error: CrmError = Conflict(f"The custom field {field_id} changed meanwhile; reload it and try again.")
        else:
            require = ("state", "=", FieldState.ACTIVE.value)
            error = ValidationFailed(
                "Some custom field values are invalid.",
                errors=[FieldError(f"custom_fields.{field_id}", "no such custom field")],
            )
        ops.append(
            Update(
                keys.custom_field(tenant_id, field_id),
                add={"in_use": 1},
                bump_version=False,
                require=require,
                on_conflict=error,
            )
        )
    return ops


def _item(tenant_id: str, field: CustomField) -> dict[str, Any]:
    return {**field.model_dump(mode="json"), **keys.custom_field(tenant_id, field.id)}


class CustomFieldStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def list_fields(self, tenant_id: str) -> list[CustomField]:
        """Every active field of the tenant, all entities (one Query per 200 items)."""
        fields: list[CustomField] = []
        page = PageRequest(limit=200)
        while True:
            found = self._table.query(
                keys.custom_fields(tenant_id), sort=SortKey.begins_with(keys.CUSTOM_FIELD_PREFIX), page=page
            )
            fields += [CustomField.model_validate(i) for i in found.items if i.get("state") == FieldState.ACTIVE.value]
            if found.after is None:
                return fields
            page = PageRequest(limit=200, after=found.after)

    def get_field(self, tenant_id: str, field_id: str, *, consistent: bool = False) -> CustomField | None:
        item = self._table.get(keys.custom_field(tenant_id, field_id), consistent=consistent)
        return CustomField.model_validate(item) if item else None

    def add_field(self, tenant_id: str, field: CustomField) -> None:
        self._table.create(_item(tenant_id, field))

    def save_field(
        self, tenant_id: str, field: CustomField, *, expected_version: int, require_unused: bool, changed: CrmError
    ) -> None:
        """Version-checked; with ``require_unused`` also conditional on no record holding a value."""
        values = field.model_dump(mode="json")
        self._table.transact(
            [
                Update(
                    keys.custom_field(tenant_id, field.id),
                    expected_version=expected_version,
                    set={
                        name: values[name] for name in ("label", "type", "options", "order", "updated_at", "updated_by")
                    },
                    require=("in_use", "<=", 0) if require_unused else ("state", "=", FieldState.ACTIVE.value),
                    on_conflict=changed,
                )
            ]
        )

    def delete_field(self, tenant_id: str, field: CustomField, *, at: datetime, by: str, changed: CrmError) -> None:
        """Conditional on ``in_use = 0``: a tombstone first (a delete cannot carry
        that condition), removed right after, or by housekeeping."""
        key = keys.custom_field(tenant_id, field.id)
        self._table.transact(
            [
                Update(
                    key,
                    expected_version=field.version,
                    require=("in_use", "<=", 0),
                    on_conflict=changed,
                    set={
                        "state": FieldState.DELETED.value,
                        "updated_at": iso(at),
                        "updated_by": by,
                        **keys.expiry_attributes(at),
                    },
                )
            ]
        )
        try:
            self._table.delete(key, expected_version=field.version + 1)
        except CrmError:
            pass  # still a tombstone: invisible, closed to new values, and it expires
