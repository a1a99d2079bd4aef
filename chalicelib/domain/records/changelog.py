"""The field-level change log of contacts, deals, cases and tasks.

Every write to such a record adds one immutable ``ChangeEntry`` naming the
fields that changed, with their old and new values. The record's own service
builds the entry (``change_entry``) and its store writes it in the SAME
transaction as the record (``storage.changelog.change_entry_op``): the
"latest item plus immutable history items" shape, so a record and its log
never disagree. The log lives in a partition of its own per record and
outlives the record: after a delete only admins can read it
(``ChangeLog.for_any_record``).

``diff`` is pure: values are compared as JSON values (``1`` and ``True`` and
``1.0`` differ, dict key order does not matter, list order does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.records.parents import Parents
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import Forbidden
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import Record

# Entities with a change log; the first three are also parent kinds.
Entity = Literal["contact", "deal", "case", "task", "invoice"]
ENTITIES: tuple[str, ...] = ("contact", "deal", "case", "task", "invoice")

# Bookkeeping every record carries: a change to these alone is no change.
AUDIT_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "tenant_id",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    }
)


class ChangeAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    # GDPR erasure: the log kept only that it happened (domain/gdpr), no values.
    ERASED = "erased"


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    old: Any = None
    new: Any = None


class ChangeEntry(Record):
    """One write to one record. Immutable: version stays 1."""

    entity: str
    record_id: str
    action: ChangeAction
    changes: list[FieldChange]
    at: datetime
    by: str | None = None


def _plain(value: Any) -> Any:
    """A JSON value for ``value``; common non-JSON scalars are converted,
    anything else is refused (the log stores JSON only)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("NaN and infinity are not JSON values")
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=_canonical)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="json"))
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def diff(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    ignore: set[str] | frozenset[str] = AUDIT_FIELDS,
) -> list[FieldChange]:
    """The fields that differ between two versions of a record, by name.

    - create (``before`` None): every field with a value (not None, "", [] or
      {}) as a change from None;
    - delete (``after`` None): every field with a value as a change to None;
    - update: every field whose JSON value differs; a missing field counts as
      None. Nested lists and dicts are compared as whole values.
    """
    old_fields = {k: _plain(v) for k, v in (before or {}).items() if k not in ignore}
    new_fields = {k: _plain(v) for k, v in (after or {}).items() if k not in ignore}
    changes = []
    for name in sorted(set(old_fields) | set(new_fields)):
        old, new = old_fields.get(name), new_fields.get(name)
        if before is None or after is None:
            if _is_empty(old) and _is_empty(new):
                continue
        elif _canonical(old) == _canonical(new):
            continue
        changes.append(FieldChange(field=name, old=old, new=new))
    return changes


def change_entry(
    entity: str,
    record_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    by: str | None,
    at: datetime,
    ignore: set[str] | frozenset[str] = AUDIT_FIELDS,
) -> ChangeEntry | None:
    """The log entry for one write, or None for an update that changed
    nothing (a create or a delete is always logged)."""
    if entity not in ENTITIES:
        raise ValueError(f"no change log for {entity}")
    if before is None and after is None:
        raise ValueError("a change needs a before or an after")
    action = ChangeAction.CREATED if before is None else ChangeAction.DELETED if after is None else ChangeAction.UPDATED
    changes = diff(before, after, ignore=ignore)
    if action == ChangeAction.UPDATED and not changes:
        return None
    return ChangeEntry(
        id=new_id(),
        entity=entity,
        record_id=record_id,
        action=action,
        changes=changes,
        at=at,
        by=by,
        created_at=at,
        created_by=by,
        updated_at=at,
        updated_by=by,
    )


class ChangeLog:
    """Reading the log; writing happens inside the record's own transaction."""

    def __init__(self, store: Any, parents: Parents):
        self._store = store
        self._parents = parents

    def for_record(self, principal: Principal, kind: str, record_id: str, page: PageRequest) -> Slice[ChangeEntry]:
        """Newest first; whoever may read the record may read its log."""
        parent = self._parents.resolve(principal, kind, record_id)
        return self._store.list_changes(principal.tenant_id, parent.kind, parent.id, page)

    def for_any_record(
        self, principal: Principal, entity: str, record_id: str, page: PageRequest
    ) -> Slice[ChangeEntry]:
        """Admins only: the log of any record of the tenant, deleted ones
        included (their access fields are gone with them)."""
        if not principal.is_admin:
            raise Forbidden("Only owners and admins read the change log of any record.")
        return self._store.list_changes(principal.tenant_id, entity, record_id, page)
