"""Twins of the settings stores (storage/settings/): lists with their counters
and name markers, the money settings, custom field definitions; and the use
counters the records' writes move (``use_entries``, ``use_fields``: the
twins of ``usage_ops`` and ``field_usage_ops``)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.settings.currency import MoneySettings
from chalicelib.domain.settings.custom_fields import CustomField, FieldState
from chalicelib.domain.settings.lists import LIST_SPECS, CounterChange, EntryState, ListEntry, ListState, fold
from chalicelib.domain.shared.errors import (
    Conflict,
    CrmError,
    FieldError,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from chalicelib.storage.memory.db import MemoryDb, frozen, stored_moment, thawed

# Tables (per tenant)
LISTS = "lists"  # list name -> JSON {"version": n, "counters": {...}}
ENTRIES = "list_entries"  # (list name, entry id) -> ListEntry
NAMES = "list_names"  # (list name, folded name) -> entry id
MONEY = "money"  # "settings" -> MoneySettings
FIELDS = "custom_fields"  # field id -> CustomField

_CHANGED = "The record changed since it was read; reload it and apply the change again."


# ---- what the records' writes move (inside their own transaction) ----


def use_entries(
    db: MemoryDb, tenant_id: str, list_name: str, old_id: str | None, new_id: str | None, *, field: str | None = None
) -> int:
    """A record's reference into ``list_name`` goes from ``old_id`` to
    ``new_id``: the old entry loses a use, the new one gains one and must be
    active (ValidationFailed naming ``field`` otherwise). The number of writes."""
    if old_id == new_id:
        return 0
    deltas = {**({old_id: -1} if old_id else {}), **({new_id: 1} if new_id else {})}
    return use_entry_deltas(db, tenant_id, list_name, deltas, field=field)


def use_entry_deltas(
    db: MemoryDb, tenant_id: str, list_name: str, deltas: Mapping[str, int], *, field: str | None = None
) -> int:
    spec = LIST_SPECS[list_name]
    entries = db.table(tenant_id, ENTRIES)
    writes = 0
    for entry_id, delta in sorted(deltas.items()):
        if not delta:
            continue
        text = entries.get((list_name, entry_id))
        entry = thawed(ListEntry, text) if text else None
        if delta > 0 and (entry is None or entry.state != EntryState.ACTIVE):
            raise ValidationFailed(
                f"There is no such {spec.title}.",
                errors=[FieldError(field or spec.reference_field, f"no such {spec.title}")],
            )
        if entry is None:
            raise Conflict(f"The {spec.title} {entry_id} no longer exists.")
        entries[(list_name, entry_id)] = frozen(entry.model_copy(update={"in_use": entry.in_use + delta}))
        writes += 1
    return writes


def use_fields(db: MemoryDb, tenant_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> int:
    """A record's custom field values go from ``before`` to ``after``: a field
    that gains a value gains a use (it must be active: ValidationFailed), one
    that loses it loses one. The number of writes."""
    held_before = {k for k, v in (before or {}).items() if v is not None}
    held_after = {k for k, v in (after or {}).items() if v is not None}
    fields = db.table(tenant_id, FIELDS)
    for field_id in sorted(held_before - held_after):
        text = fields.get(field_id)
        if text is None:
            raise Conflict(f"The custom field {field_id} no longer exists.")
        field = thawed(CustomField, text)
        fields[field_id] = frozen(field.model_copy(update={"in_use": field.in_use - 1}))
    for field_id in sorted(held_after - held_before):
        text = fields.get(field_id)
        gaining = thawed(CustomField, text) if text else None
        if gaining is None or gaining.state != FieldState.ACTIVE:
            raise ValidationFailed(
                "Some custom field values are invalid.",
                errors=[FieldError(f"custom_fields.{field_id}", "no such custom field")],
            )
        fields[field_id] = frozen(gaining.model_copy(update={"in_use": gaining.in_use + 1}))
    return len(held_before ^ held_after)


# ---- the lists ----


def _meta(db: MemoryDb, tenant_id: str, list_name: str) -> dict[str, Any] | None:
    text = db.table(tenant_id, LISTS).get(list_name)
    return json.loads(text) if text else None


class MemorySettingsListStore:
    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def _entries(self, tenant_id: str) -> dict[tuple[str, str], str]:
        return self._db.table(tenant_id, ENTRIES)

    def _count(
        self,
        tenant_id: str,
        list_name: str,
        change: CounterChange,
        *,
        expected_version: int | None = None,
        below: tuple[str, int] | None = None,
        on_conflict: CrmError | None = None,
    ) -> None:
        """The list's counters move (and its version); the guard, a version or a
        ceiling (``below``: counter, limit) must hold, else ``on_conflict``."""
        meta = _meta(self._db, tenant_id, list_name)
        failed = on_conflict or Conflict("The record changed meanwhile.")
        if meta is None:
            raise change.guard_error if change.guard and change.guard_error else failed
        counters: dict[str, int] = meta["counters"]
        if change.guard is not None and counters.get(change.guard, 0) <= 1:
            raise change.guard_error or Conflict("The record is not in the state this change needs.")
        if expected_version is not None and meta["version"] != expected_version:
            raise failed
        if below is not None and counters.get(below[0], 0) >= below[1]:
            raise failed
        for name, delta in change.deltas.items():
            counters[name] = counters.get(name, 0) + delta
        self._db.table(tenant_id, LISTS)[list_name] = json.dumps({"version": meta["version"] + 1, "counters": counters})

    def load_list(self, tenant_id: str, list_name: str, *, consistent: bool = False) -> ListState | None:
        meta = _meta(self._db, tenant_id, list_name)
        if meta is None:
            return None
        entries = [
            thawed(ListEntry, text)
            for (name, _), text in self._entries(tenant_id).items()
            if name == list_name and json.loads(text).get("state") == EntryState.ACTIVE.value
        ]
        entries.sort(key=lambda e: (e.order, e.id))
        return ListState(entries=entries, version=meta["version"], counters=dict(meta["counters"]))

    def get_entry(self, tenant_id: str, list_name: str, entry_id: str) -> ListEntry | None:
        text = self._entries(tenant_id).get((list_name, entry_id))
        return thawed(ListEntry, text) if text else None

    def seed_lists(self, tenant_id: str, lists: Mapping[str, tuple[builtins.list[ListEntry], dict[str, int]]]) -> bool:
        if any(_meta(self._db, tenant_id, name) is not None for name in lists):
            return False
        with self._db.transaction():
            for list_name, (entries, counters) in lists.items():
                self._db.table(tenant_id, LISTS)[list_name] = json.dumps({"version": 1, "counters": dict(counters)})
                for entry in entries:
                    self._put(tenant_id, entry, Conflict("The record already exists."))
        return True

    def _put(self, tenant_id: str, entry: ListEntry, name_taken: CrmError) -> None:
        entries, names = self._entries(tenant_id), self._db.table(tenant_id, NAMES)
        if (entry.list_name, entry.id) in entries:
            raise Conflict("The record already exists.")
        if (entry.list_name, fold(entry.name)) in names:
            raise name_taken
        entries[(entry.list_name, entry.id)] = frozen(entry)
        names[(entry.list_name, fold(entry.name))] = entry.id

    def add_entry(
        self,
        tenant_id: str,
        entry: ListEntry,
        change: CounterChange,
        *,
        max_entries: int,
        name_taken: CrmError,
        full: CrmError,
    ) -> None:
        with self._db.transaction():
            self._put(tenant_id, entry, name_taken)
            self._count(tenant_id, entry.list_name, change, below=("count", max_entries), on_conflict=full)

    def save_entry(
        self,
        tenant_id: str,
        before: ListEntry,
        after: ListEntry,
        change: CounterChange,
        *,
        expected_version: int,
        name_taken: CrmError,
    ) -> None:
        with self._db.transaction():
            stored = self.get_entry(tenant_id, after.list_name, after.id)
            if stored is None or stored.version != expected_version or stored.state != EntryState.ACTIVE:
                raise PreconditionFailed(_CHANGED)
            changes = {name: getattr(after, name) for name in ("name", "color", "icon", "probability", "status")}
            saved = stored.model_copy(
                update={
                    **changes,
                    "updated_at": after.updated_at,
                    "updated_by": after.updated_by,
                    "version": stored.version + 1,
                }
            )
            self._entries(tenant_id)[(after.list_name, after.id)] = frozen(saved)
            if fold(before.name) != fold(after.name):
                names = self._db.table(tenant_id, NAMES)
                if (after.list_name, fold(after.name)) in names:
                    raise name_taken
                names[(after.list_name, fold(after.name))] = after.id
                names.pop((before.list_name, fold(before.name)), None)
            if change.deltas:
                self._count(tenant_id, after.list_name, change)

    def delete_entry(
        self, tenant_id: str, entry: ListEntry, change: CounterChange, *, at: datetime, by: str, in_use: CrmError
    ) -> None:
        with self._db.transaction():
            stored = self.get_entry(tenant_id, entry.list_name, entry.id)
            if stored is None or stored.version != entry.version or stored.in_use > 0:
                raise in_use
            del self._entries(tenant_id)[(entry.list_name, entry.id)]
            self._db.table(tenant_id, NAMES).pop((entry.list_name, fold(entry.name)), None)
            self._count(tenant_id, entry.list_name, change)

    def retire_entry(
        self,
        tenant_id: str,
        entry: ListEntry,
        change: CounterChange,
        *,
        replacement: str,
        at: datetime,
        by: str,
        replacement_gone: CrmError,
    ) -> None:
        with self._db.transaction():
            stored = self.get_entry(tenant_id, entry.list_name, entry.id)
            if stored is None or stored.version != entry.version:
                raise PreconditionFailed(_CHANGED)
            self._entries(tenant_id)[(entry.list_name, entry.id)] = frozen(
                stored.model_copy(
                    update={
                        "state": EntryState.RETIRED,
                        "replaced_by": replacement,
                        "updated_at": stored_moment(at),
                        "updated_by": by,
                        "version": stored.version + 1,
                    }
                )
            )
            successor = self.get_entry(tenant_id, entry.list_name, replacement)
            if successor is None or successor.state != EntryState.ACTIVE:
                raise replacement_gone
            self._db.table(tenant_id, NAMES).pop((entry.list_name, fold(entry.name)), None)
            self._count(tenant_id, entry.list_name, change)

    def reorder(
        self,
        tenant_id: str,
        list_name: str,
        moved: builtins.list[tuple[ListEntry, int]],
        *,
        list_version: int,
        at: datetime,
        by: str,
    ) -> None:
        changed = Conflict("The list changed meanwhile; reload it and send the new order again.")
        with self._db.transaction():
            self._count(tenant_id, list_name, CounterChange({}), expected_version=list_version, on_conflict=changed)
            for entry, position in moved:
                stored = self.get_entry(tenant_id, list_name, entry.id)
                if stored is None or stored.state != EntryState.ACTIVE:
                    raise changed
                self._entries(tenant_id)[(list_name, entry.id)] = frozen(
                    stored.model_copy(
                        update={
                            "order": position,
                            "updated_at": stored_moment(at),
                            "updated_by": by,
                            "version": stored.version + 1,
                        }
                    )
                )


# ---- money settings ----


class MemoryMoneySettingsStore:
    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def get(self, tenant_id: str) -> MoneySettings | None:
        text = self._db.table(tenant_id, MONEY).get("settings")
        return thawed(MoneySettings, text) if text else None

    def create(self, tenant_id: str, settings: MoneySettings) -> bool:
        rows = self._db.table(tenant_id, MONEY)
        if "settings" in rows:
            return False
        rows["settings"] = frozen(settings)
        return True

    def update(
        self, tenant_id: str, changes: Mapping[str, Any], *, expected_version: int | None, at: datetime, by: str
    ) -> MoneySettings:
        rows = self._db.table(tenant_id, MONEY)
        text = rows.get("settings")
        if text is None:
            raise NotFound("The record does not exist.")
        item = json.loads(text)
        if expected_version is not None and item["version"] != expected_version:
            raise PreconditionFailed(
                f"The record is at version {item['version']}, not {expected_version}; "
                "reload it and apply the change again."
            )
        item.update({**changes, "updated_at": stored_moment(at).isoformat(), "updated_by": by})
        item["version"] += 1
        saved = MoneySettings.model_validate(item)
        rows["settings"] = frozen(saved)
        return saved


# ---- custom field definitions ----


class MemoryCustomFieldStore:
    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def list_fields(self, tenant_id: str) -> builtins.list[CustomField]:
        fields = (thawed(CustomField, text) for _, text in sorted(self._db.table(tenant_id, FIELDS).items()))
        return [field for field in fields if field.state == FieldState.ACTIVE]

    def get_field(self, tenant_id: str, field_id: str, *, consistent: bool = False) -> CustomField | None:
        text = self._db.table(tenant_id, FIELDS).get(field_id)
        return thawed(CustomField, text) if text else None

    def add_field(self, tenant_id: str, field: CustomField) -> None:
        fields = self._db.table(tenant_id, FIELDS)
        if field.id in fields:
            raise Conflict("The record already exists.")
        fields[field.id] = frozen(field)

    def save_field(
        self, tenant_id: str, field: CustomField, *, expected_version: int, require_unused: bool, changed: CrmError
    ) -> None:
        stored = self.get_field(tenant_id, field.id)
        if (
            stored is None
            or stored.version != expected_version
            or (stored.in_use > 0 if require_unused else stored.state != FieldState.ACTIVE)
        ):
            raise changed
        self._db.table(tenant_id, FIELDS)[field.id] = frozen(
            stored.model_copy(
                update={
                    "label": field.label,
                    "type": field.type,
                    "options": list(field.options),
                    "order": field.order,
                    "updated_at": field.updated_at,
                    "updated_by": field.updated_by,
                    "version": stored.version + 1,
                }
            )
        )

    def delete_field(self, tenant_id: str, field: CustomField, *, at: datetime, by: str, changed: CrmError) -> None:
        stored = self.get_field(tenant_id, field.id)
        if stored is None or stored.version != field.version or stored.in_use > 0:
            raise changed
        del self._db.table(tenant_id, FIELDS)[field.id]
