"""What the settings services need from storage (storage/settings/), and the
narrow reads other features make of them (a record pointing at a list entry,
custom field values, the default currency)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib.domain.settings.currency import MoneySettings
    from chalicelib.domain.settings.custom_fields import CustomField
    from chalicelib.domain.settings.lists import CounterChange, ListEntry, ListState
    from chalicelib.domain.shared.errors import CrmError
    from chalicelib.domain.shared.principal import Principal


# ---- what other features ask of the settings services ----


class ListEntries(Protocol):
    """A whole list, active entries in order (SettingsLists.list)."""

    def list(self, principal: Principal, list_name: str) -> builtins.list[ListEntry]: ...


class EntryReferences(Protocol):
    """The active entry a record is about to point at (SettingsLists.reference)."""

    def reference(
        self, principal: Principal, list_name: str, entry_id: str, *, field_name: str | None = None
    ) -> ListEntry: ...


class EntryResolver(Protocol):
    """The entry a record points at, retired ones followed (SettingsLists.resolve)."""

    def resolve(self, principal: Principal, list_name: str, entry_id: str) -> ListEntry | None: ...


class CustomValues(Protocol):
    """Checks a record's custom field values (CustomFields.validate)."""

    def validate(self, principal: Principal, scope: str, values: Mapping[str, Any]) -> dict[str, Any]: ...


class MoneySettingsReader(Protocol):
    """The tenant's default currency and rates (CurrencySettings.get)."""

    def get(self, principal: Principal) -> MoneySettings: ...


# ---- the settings services' stores ----


class SettingsListStore(Protocol):
    def load_list(self, tenant_id: str, list_name: str, *, consistent: bool = False) -> ListState | None:
        """The whole list; None when it was never seeded."""
        ...

    def get_entry(self, tenant_id: str, list_name: str, entry_id: str) -> ListEntry | None:
        """Any entry, retired ones included."""
        ...

    def seed_lists(self, tenant_id: str, lists: Mapping[str, tuple[builtins.list[ListEntry], dict[str, int]]]) -> bool:
        """Write lists with their defaults at once; False (nothing written) when any exists already."""
        ...

    def add_entry(
        self,
        tenant_id: str,
        entry: ListEntry,
        change: CounterChange,
        *,
        max_entries: int,
        name_taken: CrmError,
        full: CrmError,
    ) -> None: ...

    def save_entry(
        self,
        tenant_id: str,
        before: ListEntry,
        after: ListEntry,
        change: CounterChange,
        *,
        expected_version: int,
        name_taken: CrmError,
    ) -> None: ...

    def delete_entry(
        self, tenant_id: str, entry: ListEntry, change: CounterChange, *, at: datetime, by: str, in_use: CrmError
    ) -> None:
        """Conditional on the version read and on no record using the entry (``in_use`` otherwise)."""
        ...

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
    ) -> None: ...

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
        """Conditional on the list's version (Conflict when it changed meanwhile)."""
        ...


class MoneySettingsStore(Protocol):
    def get(self, tenant_id: str) -> MoneySettings | None: ...

    def create(self, tenant_id: str, settings: MoneySettings) -> bool:
        """Write the defaults once: False when they exist already."""
        ...

    def update(
        self, tenant_id: str, changes: Mapping[str, Any], *, expected_version: int | None, at: datetime, by: str
    ) -> MoneySettings:
        """``changes`` are JSON values of MoneySettings fields; conditional on
        ``expected_version`` when given (PreconditionFailed, NotFound)."""
        ...


class CustomFieldStore(Protocol):
    def list_fields(self, tenant_id: str) -> builtins.list[CustomField]:
        """Every active field of the tenant, all entities."""
        ...

    def get_field(self, tenant_id: str, field_id: str, *, consistent: bool = False) -> CustomField | None: ...

    def add_field(self, tenant_id: str, field: CustomField) -> None: ...

    def save_field(
        self, tenant_id: str, field: CustomField, *, expected_version: int, require_unused: bool, changed: CrmError
    ) -> None:
        """Conditional on the version (and, with ``require_unused``, on no record holding a value): ``changed``."""
        ...

    def delete_field(self, tenant_id: str, field: CustomField, *, at: datetime, by: str, changed: CrmError) -> None:
        """Conditional on the version and on no record holding a value: ``changed`` otherwise."""
        ...
