"""Settings lists and the money settings (default currency, exchange rates)
in the single table.

A list is one item collection: ``sk=META`` (entry count and per-status
counters, the list's version) and one ``ENTRY#<id>`` item per entry, read
together by one Query. Name markers live in their own partitions.

For the features that point at entries (contacts, tasks, deals, history):
``usage_ops`` gives the counter updates to put in the record's own
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.settings.currency import MoneySettings
from chalicelib.domain.settings.lists import LIST_SPECS, CounterChange, EntryState, ListEntry, ListState, fold
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict, CrmError, FieldError, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Delete, Put, Table, Update

_READ_PAGE = PageRequest(limit=200)


# ---- for other features: usage counters inside their own transaction ----


def usage_ops(
    tenant_id: str, list_name: str, old_id: str | None, new_id: str | None, *, field: str | None = None
) -> list[Update]:
    """Counter updates for a record whose reference into ``list_name``
    changes from ``old_id`` to ``new_id`` (either may be None: created,
    deleted, set, cleared). Put them in the record's own transaction: the
    old entry loses one use, the new one gains one and must be an active
    entry, else the transaction fails with ValidationFailed naming ``field``
    (default: the list's reference field, e.g. ``type_id``)."""
    if old_id == new_id:
        return []
    deltas: dict[str, int] = {}
    if old_id:
        deltas[old_id] = -1
    if new_id:
        deltas[new_id] = 1
    return usage_delta_ops(tenant_id, list_name, deltas, field=field)


def usage_delta_ops(
    tenant_id: str, list_name: str, deltas: Mapping[str, int], *, field: str | None = None
) -> list[Update]:
    """The general form (bulk changes): entry id -> change of its use count.
    Entries that gain uses must be active."""
    spec = LIST_SPECS[list_name]
    field = field or spec.reference_field
    ops = []
    for entry_id, delta in sorted(deltas.items()):
        if not delta:
            continue
        key = keys.settings_list_entry(tenant_id, list_name, entry_id)
        if delta > 0:
            ops.append(
                Update(
                    key,
                    add={"in_use": delta},
                    bump_version=False,
                    require=("state", "=", EntryState.ACTIVE.value),
                    on_conflict=ValidationFailed(
                        f"There is no such {spec.title}.", errors=[FieldError(field, f"no such {spec.title}")]
                    ),
                )
            )
        else:
            ops.append(
                Update(
                    key,
                    add={"in_use": delta},
                    bump_version=False,
                    on_conflict=Conflict(f"The {spec.title} {entry_id} no longer exists."),
                )
            )
    return ops


# ---- the lists ----


def _entry_item(tenant_id: str, entry: ListEntry) -> dict[str, Any]:
    return {
        **entry.model_dump(mode="json", exclude_none=True),
        **keys.settings_list_entry(tenant_id, entry.list_name, entry.id),
    }


def _marker(tenant_id: str, entry: ListEntry) -> dict[str, Any]:
    return {**keys.settings_list_name_marker(tenant_id, entry.list_name, fold(entry.name)), "entry_id": entry.id}


def _meta_update(
    tenant_id: str,
    list_name: str,
    change: CounterChange,
    *,
    expected_version: int | None = None,
    require: tuple[str, str, Any] | None = None,
    on_conflict: CrmError | None = None,
) -> Update:
    if change.guard is not None:
        require = (change.guard, ">", 1)
        on_conflict = change.guard_error
    return Update(
        keys.settings_list_meta(tenant_id, list_name),
        add=dict(change.deltas),
        expected_version=expected_version,
        require=require,
        on_conflict=on_conflict,
    )


class _AlreadySeeded(Conflict):
    pass


class SettingsListStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def load_list(self, tenant_id: str, list_name: str, *, consistent: bool = False) -> ListState | None:
        """The whole list (one Query); None when it was never seeded."""
        meta: dict[str, Any] | None = None
        entries: list[ListEntry] = []
        page = _READ_PAGE
        while True:
            found = self._table.query(keys.settings_list(tenant_id, list_name), page=page, consistent=consistent)
            for item in found.items:
                if item["sk"] == keys.LIST_META_SK:
                    meta = item
                elif item.get("state") == EntryState.ACTIVE.value:
                    entries.append(ListEntry.model_validate(item))
            if found.after is None:
                break
            page = PageRequest(limit=_READ_PAGE.limit, after=found.after)
        if meta is None:
            return None
        counters = {k: int(v) for k, v in meta.items() if k == "count" or k.startswith("status_")}
        entries.sort(key=lambda e: (e.order, e.id))
        return ListState(entries=entries, version=int(meta.get("version", 1)), counters=counters)

    def get_entry(self, tenant_id: str, list_name: str, entry_id: str) -> ListEntry | None:
        item = self._table.get(keys.settings_list_entry(tenant_id, list_name, entry_id))
        return ListEntry.model_validate(item) if item else None

    def seed_lists(self, tenant_id: str, lists: Mapping[str, tuple[list[ListEntry], dict[str, int]]]) -> bool:
        """Write lists with their defaults (list name -> entries, counters) in
        one transaction, once: False when any of them exists already."""
        operations: list[Any] = []
        for list_name, (entries, counters) in lists.items():
            operations.append(
                Put(
                    {
                        **keys.settings_list_meta(tenant_id, list_name),
                        **counters,
                        "seeded_at": iso(entries[0].created_at) if entries else None,
                    },
                    on_conflict=_AlreadySeeded(),
                )
            )
            for entry in entries:
                operations += [Put(_entry_item(tenant_id, entry)), Put(_marker(tenant_id, entry))]
        try:
            self._table.transact(operations)
        except _AlreadySeeded:
            return False
        return True

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
        self._table.transact(
            [
                Put(_entry_item(tenant_id, entry)),
                Put(_marker(tenant_id, entry), on_conflict=name_taken),
                _meta_update(tenant_id, entry.list_name, change, require=("count", "<", max_entries), on_conflict=full),
            ]
        )

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
        values = after.model_dump(mode="json")
        changes = {
            name: values[name]
            for name in ("name", "color", "icon", "probability", "status")
            if values[name] != before.model_dump(mode="json")[name]
        }
        operations: list[Any] = [
            Update(
                keys.settings_list_entry(tenant_id, after.list_name, after.id),
                expected_version=expected_version,
                set={**changes, "updated_at": values["updated_at"], "updated_by": after.updated_by},
                require=("state", "=", EntryState.ACTIVE.value),
            )
        ]
        if fold(before.name) != fold(after.name):
            operations += [
                Put(_marker(tenant_id, after), on_conflict=name_taken),
                Delete(keys.settings_list_name_marker(tenant_id, before.list_name, fold(before.name))),
            ]
        if change.deltas:
            operations.append(_meta_update(tenant_id, after.list_name, change))
        self._table.transact(operations)

    def delete_entry(
        self, tenant_id: str, entry: ListEntry, change: CounterChange, *, at: datetime, by: str, in_use: CrmError
    ) -> None:
        """Delete an entry that is not in use. The transaction turns it into a
        tombstone under the condition ``in_use = 0`` (a delete cannot carry
        that condition); the tombstone is removed right after, or by
        housekeeping if that fails."""
        key = keys.settings_list_entry(tenant_id, entry.list_name, entry.id)
        self._table.transact(
            [
                Update(
                    key,
                    expected_version=entry.version,
                    require=("in_use", "<=", 0),
                    on_conflict=in_use,
                    set={
                        "state": EntryState.DELETED.value,
                        "updated_at": iso(at),
                        "updated_by": by,
                        **keys.expiry_attributes(at),
                    },
                ),
                Delete(keys.settings_list_name_marker(tenant_id, entry.list_name, fold(entry.name))),
                _meta_update(tenant_id, entry.list_name, change),
            ]
        )
        try:
            self._table.delete(key, expected_version=entry.version + 1)
        except CrmError:
            pass  # still a tombstone: invisible, closed to new uses, and it expires

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
        """Delete an entry in use by naming its replacement: it stays, retired,
        until its records are re-pointed."""
        self._table.transact(
            [
                Update(
                    keys.settings_list_entry(tenant_id, entry.list_name, entry.id),
                    expected_version=entry.version,
                    set={
                        "state": EntryState.RETIRED.value,
                        "replaced_by": replacement,
                        "updated_at": iso(at),
                        "updated_by": by,
                    },
                ),
                Update(
                    keys.settings_list_entry(tenant_id, entry.list_name, replacement),
                    set={"state": EntryState.ACTIVE.value},
                    require=("state", "=", EntryState.ACTIVE.value),
                    bump_version=False,
                    on_conflict=replacement_gone,
                ),
                Delete(keys.settings_list_name_marker(tenant_id, entry.list_name, fold(entry.name))),
                _meta_update(tenant_id, entry.list_name, change),
            ]
        )

    def reorder(
        self,
        tenant_id: str,
        list_name: str,
        moved: list[tuple[ListEntry, int]],
        *,
        list_version: int,
        at: datetime,
        by: str,
    ) -> None:
        changed = Conflict("The list changed meanwhile; reload it and send the new order again.")
        operations: list[Any] = [
            Update(keys.settings_list_meta(tenant_id, list_name), expected_version=list_version, on_conflict=changed)
        ]
        operations += [
            Update(
                keys.settings_list_entry(tenant_id, list_name, entry.id),
                set={"order": position, "updated_at": iso(at), "updated_by": by},
                require=("state", "=", EntryState.ACTIVE.value),
                on_conflict=changed,
            )
            for entry, position in moved
        ]
        self._table.transact(operations)


# ---- money settings ----


class MoneySettingsStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def get(self, tenant_id: str) -> MoneySettings | None:
        item = self._table.get(keys.money_settings(tenant_id))
        return MoneySettings.model_validate(item) if item else None

    def create(self, tenant_id: str, settings: MoneySettings) -> bool:
        """Write the defaults once: False when they exist already."""
        try:
            self._table.create(
                {**settings.model_dump(mode="json"), **keys.money_settings(tenant_id)}, on_conflict=_AlreadySeeded()
            )
        except _AlreadySeeded:
            return False
        return True

    def update(
        self, tenant_id: str, changes: Mapping[str, Any], *, expected_version: int | None, at: datetime, by: str
    ) -> MoneySettings:
        item = self._table.update(
            keys.money_settings(tenant_id),
            expected_version=expected_version,
            set={**changes, "updated_at": iso(at), "updated_by": by},
        )
        return MoneySettings.model_validate(item)
